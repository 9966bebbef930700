"""Compare two runs: which findings are new, resolved, worse, better; which VMs changed.

Pure: two ``RunView`` in, ``Changes`` out. See ``history.changes`` for the statuses.
"""

from __future__ import annotations

from collections.abc import Sequence

from balloon_audit.history.changes import (
    IMPROVED,
    MAGNITUDE_STEP,
    NEW,
    PERSISTING,
    RESOLVED,
    STATUSES,
    WORSENED,
    Changes,
    FindingChange,
    Rename,
    RunRef,
    TrendPoint,
    VmDelta,
)
from balloon_audit.history.view import FindingRow, RunView, parse_iso, severity_rank


def _ref(view: RunView) -> RunRef:
    label = view.label or (f"run {view.run_id}" if view.run_id is not None else view.generated_at)
    return RunRef(generated_at=view.generated_at, run_id=view.run_id, label=label)


def _moved(before: float | None, after: float | None) -> int:
    """+1 when reclaimed memory grew by at least MAGNITUDE_STEP, -1 when it shrank so, else 0."""
    if before is None or after is None:
        return 0
    step = max(abs(before) * MAGNITUDE_STEP, 1.0)
    if after - before >= step:
        return 1
    if before - after >= step:
        return -1
    return 0


def _status(old: FindingRow, new: FindingRow) -> str:
    rank_change = severity_rank(new.severity) - severity_rank(old.severity)
    direction = rank_change or _moved(old.magnitude_mb, new.magnitude_mb)
    if direction > 0:
        return WORSENED
    if direction < 0:
        return IMPROVED
    return PERSISTING


def _age_days(first_seen: str, now: str) -> int:
    return max(0, (parse_iso(now) - parse_iso(first_seen)).days)


def _change(
    status: str, row: FindingRow, old: FindingRow | None, first_seen: str, now: str
) -> FindingChange:
    previous_name = old.entity_name if old and old.entity_name != row.entity_name else None
    return FindingChange(
        status=status,
        rule=row.rule,
        name=row.name,
        entity_type=row.entity_type,
        entity_key=row.entity_key,
        entity_name=row.entity_name,
        previous_name=previous_name,
        server=row.server,
        moid=row.moid,
        severity=row.severity,
        previous_severity=old.severity if old else None,
        message=row.message,
        magnitude_mb=row.magnitude_mb,
        previous_magnitude_mb=old.magnitude_mb if old else None,
        first_seen=first_seen,
        age_days=_age_days(first_seen, now),
    )


def _finding_changes(old: RunView | None, new: RunView, skip: frozenset[str]) -> list:
    now = new.generated_at
    old_findings = {k: f for k, f in (old.findings if old else {}).items() if f.server not in skip}
    changes: list[FindingChange] = []
    for key, row in new.findings.items():
        if row.server in skip:
            continue
        before = old_findings.get(key)
        if before is None:
            changes.append(_change(NEW, row, None, row.first_seen or now, now))
        else:
            first_seen = before.first_seen or (old.generated_at if old else now)
            changes.append(_change(_status(before, row), row, before, first_seen, now))
    for key, row in old_findings.items():
        if key not in new.findings:
            first_seen = row.first_seen or (old.generated_at if old else now)
            changes.append(_change(RESOLVED, row, None, first_seen, now))
    order = {s: i for i, s in enumerate(STATUSES)}
    changes.sort(
        key=lambda c: (order[c.status], -severity_rank(c.severity), c.rule, c.entity_name, c.server)
    )
    return changes


def _vm_changes(old: RunView, new: RunView, skip: frozenset[str]) -> tuple[list, list, int, int]:
    deltas: list[VmDelta] = []
    renames: list[Rename] = []
    old_vms = {k: v for k, v in old.vms.items() if v.server not in skip}
    new_vms = {k: v for k, v in new.vms.items() if v.server not in skip}
    for key, now in new_vms.items():
        before = old_vms.get(key)
        if before is None:
            continue
        renamed = before.name != now.name
        if renamed:
            renames.append(Rename("VirtualMachine", key, now.server, before.name, now.name))
        pairs = (
            (before.ballooned_mb, now.ballooned_mb),
            (before.swapped_mb, now.swapped_mb),
            (before.compressed_mb, now.compressed_mb),
        )
        if any(round((a or 0) - (b or 0), 1) for b, a in pairs):
            deltas.append(
                VmDelta(
                    key,
                    now.name,
                    before.name if renamed else None,
                    now.server,
                    before.ballooned_mb,
                    now.ballooned_mb,
                    before.swapped_mb,
                    now.swapped_mb,
                    before.compressed_mb,
                    now.compressed_mb,
                )
            )
    for key, name in new.host_names.items():
        old_name = old.host_names.get(key)
        if old_name is not None and old_name != name:
            renames.append(Rename("HostSystem", key, "", old_name, name))
    deltas.sort(
        key=lambda d: (
            -abs(d.swapped_delta) - abs(d.ballooned_delta) - abs(d.compressed_delta),
            d.name,
        )
    )
    renames.sort(key=lambda r: (r.entity_type, r.previous_name))
    added = len(new_vms.keys() - old_vms.keys())
    removed = len(old_vms.keys() - new_vms.keys())
    return deltas, renames, added, removed


def compare(old: RunView | None, new: RunView, trend: Sequence[TrendPoint] = ()) -> Changes:
    """``new`` against ``old`` (``None``: the first run, every finding is new)."""
    skip = new.failed_servers | (old.failed_servers if old else frozenset())
    findings = _finding_changes(old, new, skip)
    if old is None:
        return Changes(
            current=_ref(new),
            previous=None,
            findings=tuple(findings),
            vms_added=sum(1 for v in new.vms.values() if v.server not in skip),
            sources_not_compared=tuple(sorted(new.failed_servers)),
            trend=tuple(trend),
        )
    deltas, renames, added, removed = _vm_changes(old, new, skip)
    return Changes(
        current=_ref(new),
        previous=_ref(old),
        findings=tuple(findings),
        vm_deltas=tuple(deltas),
        renames=tuple(renames),
        vms_added=added,
        vms_removed=removed,
        sources_not_compared=tuple(sorted(skip)),
        thresholds_changed=dict(old.thresholds) != dict(new.thresholds),
        trend=tuple(trend),
    )


def first_seen_of(changes: Changes, new: RunView) -> dict[str, str]:
    """Finding key -> first-seen time for every active finding of ``new``.

    Findings on servers that were not compared start a new series now.
    """
    by_entity = {(c.rule, c.entity_key): c.first_seen for c in changes.findings}
    return {
        key: by_entity.get((row.rule, row.entity_key), new.generated_at)
        for key, row in new.findings.items()
    }
