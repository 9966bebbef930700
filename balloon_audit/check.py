"""``balloon-audit check``: the audit as a Nagios / Icinga / Naemon plugin.

One status line, ``BALLOON-AUDIT CRITICAL - ... | perfdata``, then up to
:data:`MAX_DETAIL` lines naming the most severe findings (the plugin's long output).
Exit codes follow the plugin guidelines: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
UNKNOWN when a source could not be audited or the check could not run at all
(a critical finding on the sources that answered still gives CRITICAL); the findings
of the sources that answered are counted in the text and perfdata either way.
"""

from __future__ import annotations

import enum
from collections import Counter

from balloon_audit.model import AuditResult, Severity

MAX_DETAIL = 10
COLLECTION_ERROR = "BA902"
"""The finding a failed source becomes: the plugin reports it as UNKNOWN instead."""
SERVICE = "BALLOON-AUDIT"


class PluginState(enum.IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def _plain(text: str) -> str:
    """One line without ``|`` (it starts the perfdata)."""
    return " ".join(text.split()).replace("|", "/")


def _perf(label: str, value: float, unit: str = "") -> str:
    number = f"{value:.1f}".rstrip("0").rstrip(".") if value else "0"
    return f"{label}={number}{unit};;;0"


def plugin_state(
    result: AuditResult, *, warning_at: Severity | None, critical_at: Severity | None
) -> PluginState:
    """The worst state, ranked CRITICAL > UNKNOWN > WARNING > OK.

    CRITICAL / WARNING: a finding at or above ``critical_at`` / ``warning_at``
    (``None``: never). UNKNOWN: a source failed (its BA902 finding is not counted
    here), or there was none; a critical finding on the sources that answered still
    makes it CRITICAL.
    """

    audited = [f for f in result.findings if f.rule != COLLECTION_ERROR]

    def reached(level: Severity | None) -> bool:
        return level is not None and any(f.severity >= level for f in audited)

    if reached(critical_at):
        return PluginState.CRITICAL
    if any(not s.ok for s in result.snapshot.sources) or not result.snapshot.sources:
        return PluginState.UNKNOWN
    return PluginState.WARNING if reached(warning_at) else PluginState.OK


def plugin_output(result: AuditResult, state: PluginState) -> str:
    """The status line with perfdata, then the long output; ends in a newline."""
    snapshot = result.snapshot
    counts = Counter(f.severity for f in result.findings)
    ballooned = sum(vm.ballooned_mb or 0 for vm in snapshot.vms)
    swapped = sum(vm.swapped_mb or 0 for vm in snapshot.vms)
    compressed = sum(vm.compressed_mb or 0 for vm in snapshot.vms)
    failed = [s for s in snapshot.sources if not s.ok]
    parts = [
        f"{counts[Severity.CRITICAL]} critical, {counts[Severity.WARNING]} warning, "
        f"{counts[Severity.INFO]} info findings on {len(snapshot.vms)} VMs "
        f"from {len(snapshot.sources)} source(s)",
        f"{ballooned:,.0f} MB ballooned, {swapped:,.0f} MB swapped",
    ]
    if failed:
        parts.insert(0, "not audited: " + ", ".join(f"{s.server} ({s.error})" for s in failed))
    perfdata = " ".join(
        [
            _perf("ballooned", ballooned, "MB"),
            _perf("swapped", swapped, "MB"),
            _perf("compressed", compressed, "MB"),
            *(_perf(f"findings_{s.value}", counts[s]) for s in reversed(Severity)),
            _perf("vms", len(snapshot.vms)),
            _perf("sources_failed", len(failed)),
        ]
    )
    lines = [f"{SERVICE} {state.name} - {_plain('; '.join(parts))} | {perfdata}"]
    worst = sorted(result.findings, key=lambda f: (-_rank(f.severity), f.rule, f.entity.name))
    for finding in worst[:MAX_DETAIL]:
        lines.append(
            _plain(
                f"{finding.severity.value.upper()} {finding.rule} {finding.entity.type} "
                f"{finding.entity.name} ({finding.entity.server}): {finding.message}"
            )
        )
    if len(worst) > MAX_DETAIL:
        lines.append(f"... and {len(worst) - MAX_DETAIL} more findings")
    return "\n".join(lines) + "\n"


def _rank(severity: Severity) -> int:
    return list(Severity).index(severity)


def unknown_output(message: str) -> str:
    """The one line a check that could not run prints (with exit code 3)."""
    return f"{SERVICE} UNKNOWN - {_plain(message)}\n"
