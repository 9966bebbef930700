"""The console's "since last run" block: what changed, with first-seen dates and ages."""

from __future__ import annotations

from rich.console import Console

from balloon_audit.formatting import fmt_num
from balloon_audit.history.changes import (
    IMPROVED,
    NEW,
    PERSISTING,
    RESOLVED,
    STATUSES,
    WORSENED,
    Changes,
    FindingChange,
    VmDelta,
)
from balloon_audit.report.terminal import safe

STATUS_STYLE = {
    NEW: "bold red",
    WORSENED: "red",
    IMPROVED: "green",
    PERSISTING: "dim",
    RESOLVED: "green",
}


def day(iso_time: str) -> str:
    """``2026-11-30T02:00:00Z`` → ``2026-11-30``."""
    return iso_time[:10]


def age_text(change: FindingChange) -> str:
    days = change.age_days
    unit = "day" if days == 1 else "days"
    verb = "lasted" if change.status == RESOLVED else "for"
    return f"first seen {day(change.first_seen)} ({verb} {days} {unit})"


def change_detail(change: FindingChange) -> str:
    """What moved: severity and reclaimed memory, old → new."""
    parts = []
    if change.previous_severity and change.previous_severity != change.severity:
        parts.append(f"{change.previous_severity} → {change.severity}")
    before, after = change.previous_magnitude_mb, change.magnitude_mb
    if before is not None and after is not None and before != after:
        parts.append(f"{fmt_num(before)} → {fmt_num(after)} MB reclaimed")
    if change.previous_name:
        parts.append(f"was {change.previous_name}")
    return "; ".join(parts)


def headline(changes: Changes) -> str:
    counts = changes.counts()
    text = ", ".join(f"{counts[s]} {s}" for s in STATUSES)
    if changes.previous is None:
        return f"first run of this scope in the history: {len(changes.findings)} findings recorded"
    return f"since {changes.previous.label} ({day(changes.previous.generated_at)}): {text}"


def delta_text(delta: VmDelta) -> str:
    parts = [
        f"{label} {value:+,.0f} MB"
        for label, value in (
            ("ballooned", delta.ballooned_delta),
            ("swapped", delta.swapped_delta),
            ("compressed", delta.compressed_delta),
        )
        if value
    ]
    return ", ".join(parts)


def render_changes(changes: Changes, console: Console, *, max_rows: int = 50) -> None:
    """Print the block: headline, each non-persisting finding, renames, VM memory changes."""
    console.print(f"\n[bold]History[/]: {safe(headline(changes))}")
    for note in _notes(changes):
        console.print(f"  [yellow]note:[/] {safe(note)}")
    if changes.previous is None:
        return  # every finding is new: the findings above already list them
    listed = [c for c in changes.findings if c.status != PERSISTING]
    for change in listed[:max_rows]:
        detail = change_detail(change)
        console.print(
            f"  [{STATUS_STYLE[change.status]}]{change.status:<9}[/] {change.rule} "
            f"{change.name}  [bold]{safe(change.entity_name)}[/] {change.severity}"
            + (f"  {safe(detail)}" if detail else "")
            + f"  [dim]{age_text(change)}[/]"
        )
    if len(listed) > max_rows:
        console.print(f"  … and {len(listed) - max_rows:,} more changed findings (see --json)")
    for rename in changes.renames:
        console.print(f"  renamed   {safe(rename.previous_name)} → {safe(rename.name)}")
    if changes.vm_deltas:
        shown = changes.vm_deltas[:10]
        console.print(
            "  VM memory: "
            + "; ".join(f"{safe(d.name)} {delta_text(d)}" for d in shown)
            + (f"; … {len(changes.vm_deltas) - 10:,} more" if len(changes.vm_deltas) > 10 else "")
        )


def _notes(changes: Changes) -> list[str]:
    notes = []
    if changes.sources_not_compared:
        notes.append(
            "not compared (failed in one of the runs): " + ", ".join(changes.sources_not_compared)
        )
    if changes.thresholds_changed:
        notes.append("thresholds differ between the runs: some changes may come from that")
    if changes.vms_added or changes.vms_removed:
        notes.append(f"{changes.vms_added} VMs added, {changes.vms_removed} removed")
    return notes
