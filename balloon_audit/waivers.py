"""Waivers: accepted findings that are reported apart, never silently dropped.

A waiver matches a finding when the rule IDs are equal and the waiver's
``entity`` is the entity's managed object ID (``vm-123``, exact), its name
(case-insensitive), or a shell-style glob over the name (``sql-*``, ``db-0?``,
case-insensitive). An optional ``server`` limits the waiver to one vCenter;
optional ``datacenter``, ``cluster`` and ``host`` globs limit it to part of one
(a change ticket about one cluster).

A waiver is valid through its ``expires`` day; from the next day on it no
longer applies and is reported as a problem, so the finding comes back and the
owner is reminded. A waiver that matched nothing is reported too: it is stale
or mistyped.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from datetime import date

from balloon_audit.model import Entity, Finding, WaivedFinding, Waiver

_GLOB_CHARS = frozenset("*?[")


def describe_waiver(waiver: Waiver) -> str:
    """``waiver BA201 sql-* on vc01 (owner dba-team)``: how problems name a waiver."""
    where = f" on {waiver.server}" if waiver.server else ""
    return f"waiver {waiver.rule} {waiver.entity}{where} (owner {waiver.owner})"


def waiver_expiry(waiver: Waiver) -> date | None:
    """The last day the waiver applies; ``None`` if it never expires.

    Raises ``ValueError`` for a date that is not ``YYYY-MM-DD``.
    """
    if waiver.expires is None or waiver.expires == "":
        return None
    return date.fromisoformat(str(waiver.expires))


def waiver_matches(waiver: Waiver, finding: Finding) -> bool:
    """True when ``waiver`` covers ``finding`` (rule, entity, optional server)."""
    if waiver.rule.strip().upper() != finding.rule.upper():
        return False
    entity = finding.entity
    if waiver.server and waiver.server.strip().lower() != entity.server.lower():
        return False
    if not _within(waiver, entity):
        return False
    pattern = waiver.entity.strip()
    if entity.moid is not None and pattern == entity.moid:
        return True
    name = entity.name.lower()
    pattern = pattern.lower()
    if pattern == name:
        return True
    return bool(_GLOB_CHARS & set(pattern)) and fnmatch.fnmatchcase(name, pattern)


def _within(waiver: Waiver, entity: Entity) -> bool:
    """The waiver's optional datacenter / cluster / host globs all match the entity."""
    for pattern, value in (
        (waiver.datacenter, entity.datacenter),
        (waiver.cluster, entity.cluster),
        (waiver.host, entity.host),
    ):
        if pattern and not fnmatch.fnmatchcase((value or "").lower(), pattern.strip().lower()):
            return False
    return True


def apply_waivers(
    findings: Iterable[Finding], waivers: Sequence[Waiver], today: date
) -> tuple[list[Finding], list[WaivedFinding], list[str]]:
    """Split ``findings`` into (kept, waived) and list the waiver problems.

    The first active waiver (in configuration order) that matches a finding is
    recorded against it. Problems are one line each: expired waivers, waivers
    with an unreadable expiry date, and active waivers that matched nothing.
    """
    active: list[Waiver] = []
    problems: list[str] = []
    for waiver in waivers:
        try:
            expiry = waiver_expiry(waiver)
        except ValueError:
            problems.append(
                f"{describe_waiver(waiver)} has an invalid expiry date {waiver.expires!r}"
                " (expected YYYY-MM-DD) and was not applied"
            )
            continue
        if expiry is not None and expiry < today:
            problems.append(f"{describe_waiver(waiver)} expired on {expiry.isoformat()}")
            continue
        active.append(waiver)

    used = [False] * len(active)
    kept: list[Finding] = []
    waived: list[WaivedFinding] = []
    for finding in findings:
        first: Waiver | None = None
        for index, waiver in enumerate(active):
            if waiver_matches(waiver, finding):
                used[index] = True
                first = first or waiver
        if first is None:
            kept.append(finding)
        else:
            waived.append(WaivedFinding(finding, first))

    problems.extend(
        f"{describe_waiver(waiver)} matched no finding"
        for waiver, was_used in zip(active, used, strict=True)
        if not was_used
    )
    return kept, waived, problems
