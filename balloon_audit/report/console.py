"""The terminal summary: sources, counts, fleet totals, then the findings."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from balloon_audit.formatting import fmt_num
from balloon_audit.model import AuditResult, Finding, Severity
from balloon_audit.report import presentation as p
from balloon_audit.report.terminal import safe
from balloon_audit.summary import FLEET_LABELS, fleet_totals

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.WARNING: "yellow",
    Severity.INFO: "cyan",
}


CONSOLE_FLEET_KEYS = (
    "vms",
    "vms_powered_on",
    "templates",
    "hosts",
    "configured_mb",
    "ballooned_mb",
    "vms_ballooning",
    "swapped_mb",
    "vms_swapping",
    "compressed_mb",
)
"""The fleet totals the terminal summary shows, in this order."""

WIDE = 140
"""Console width from which the findings show where each entity is (host or vCenter)."""


def _where(finding: Finding) -> str:
    e = finding.entity
    return (e.host if e.host and e.type == "VirtualMachine" else e.server) or ""


def first_sentence(text: str, limit: int = 200) -> str:
    """The first sentence of ``text`` (the rule's advice, short), or its first clause when
    the sentence is longer than ``limit``; cut at ``limit`` only as a last resort."""
    end = text.find(". ")
    sentence = text if end < 0 else text[: end + 1]
    if len(sentence) > limit and "; " in sentence:
        sentence = sentence[: sentence.index("; ")] + "."
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _group_heading(group: p.FindingGroup, shown: int) -> str:
    counts = ", ".join(
        f"{group.counts[s.value]} {s.value}" for s in p.SEVERITIES if group.counts[s.value]
    )
    checked = f" of {group.checked:,} checked" if group.checked is not None else ""
    listed = f" ({shown} listed)" if shown < len(group.findings) else ""
    style = SEVERITY_STYLE[group.worst]
    return (
        f"[{style}]{group.worst.value.upper()}[/] [bold]{group.rule} {safe(group.info.name)}[/]"
        f" · {len(group.findings):,}{checked}: {counts}{listed}"
    )


def _group_table(findings: list[Finding], width: int) -> Table:
    """One entry per finding: the severity, then the entity's name in bold running into the
    message, wrapped under itself (on wide terminals with the host or vCenter too)."""
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column("severity", no_wrap=True, width=8)
    table.add_column("finding", overflow="fold", ratio=1)
    for f in findings:
        where = _where(f) if width >= WIDE else ""
        table.add_row(
            f"[{SEVERITY_STYLE[f.severity]}]{f.severity.value}[/]",
            f"[bold]{safe(f.entity.name)}[/]"
            + (f" [dim]({safe(where)})[/]" if where else "")
            + f"  {safe(f.message)}",
        )
    return table


def render_console(
    result: AuditResult,
    console: Console,
    *,
    max_findings: int = 200,
    min_severity: Severity = Severity.INFO,
    summary_only: bool = False,
) -> None:
    """Print the summary; then, unless ``summary_only``, the findings at or above
    ``min_severity`` grouped by rule. Every name goes through ``safe``: VM names are
    untrusted."""
    console.print(_sources_table(result))
    if p.no_data(result):
        console.print("\n[bold red]No data[/]: no vCenter could be audited (see above).")
        return
    _print_totals(result, console)
    for problem in result.waiver_problems:
        console.print(f"[yellow]waiver:[/] {safe(problem)}")
    if summary_only:
        return
    if result.waived:
        console.print()
        console.print(_waived_table(result))
    if not result.findings:
        console.print("\n[green]No findings.[/]")
        return
    _print_findings(result, console, max_findings, min_severity)


def _sources_table(result: AuditResult) -> Table:
    sources = Table(title="vCenters", title_justify="left", show_edge=False)
    for column in ("server", "status", "API", "VMs", "hosts", "detail"):
        sources.add_column(column)
    for s in result.sources:
        status = "[green]ok[/]" if s.ok else "[bold red]FAILED[/]"
        detail = s.error + (f" — {s.hint}" if s.hint else "") if s.error else ""
        notes = [f"scope: {s.scope}"] if s.scope else []
        notes += [", ".join(f"{k}={v}" for k, v in sorted(s.labels.items()))] if s.labels else []
        detail = "; ".join([*notes, detail] if detail else notes)
        api = " ".join(part for part in (s.api_type, s.api_version) if part)
        sources.add_row(
            safe(s.server + (f" (also {', '.join(s.aliases)})" if s.aliases else "")),
            status,
            safe(api),
            str(s.vm_count),
            str(s.host_count),
            safe(detail),
        )
    return sources


def _print_totals(result: AuditResult, console: Console) -> None:
    """The fleet line and the findings-per-severity line."""
    totals = fleet_totals(result.snapshot)
    counts = result.counts_by_severity()
    console.print(
        "\n[bold]Fleet[/]: "
        + " · ".join(f"{FLEET_LABELS[key]}: {fmt_num(totals[key])}" for key in CONSOLE_FLEET_KEYS)
    )
    console.print(
        "[bold]Findings[/]: "
        + ", ".join(
            f"[{SEVERITY_STYLE[sev]}]{counts[sev.value]} {sev.value}[/]"
            for sev in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
        )
        + (f", {len(result.waived)} waived" if result.waived else "")
    )


def _waived_table(result: AuditResult) -> Table:
    waived = Table(title="Waived findings", title_justify="left", show_edge=False)
    for column in ("rule", "entity", "severity", "owner", "expires", "reason"):
        waived.add_column(column, overflow="fold")
    for item in result.waived:
        f, w = item.finding, item.waiver
        waived.add_row(
            f.rule,
            safe(f.entity.name),
            f.severity.value,
            safe(w.owner),
            w.expires or "never",
            safe(w.reason),
        )
    return waived


def _print_findings(
    result: AuditResult, console: Console, max_findings: int, min_severity: Severity
) -> None:
    """Findings grouped by rule (worst first), the rule's advice once, then one row each."""
    budget = max_findings
    hidden_below = 0
    for group in p.group_findings(result):
        wanted = [f for f in group.findings if f.severity >= min_severity]
        hidden_below += len(group.findings) - len(wanted)
        if not wanted or budget <= 0:
            budget -= len(wanted)
            continue
        shown = wanted[:budget]
        budget -= len(wanted)
        console.print()
        console.print(_group_heading(group, len(shown)))
        if group.summary:
            advice = first_sentence(group.summary, limit=2 * (console.width - 9))
            console.print(Padding(Text(advice, style="dim"), (0, 0, 0, 9)))
        console.print(_group_table(shown, console.width))
    if budget < 0:
        console.print(
            f"\n… and {-budget:,} more findings: write a report with --html/--xlsx/--json"
        )
    if hidden_below:
        console.print(
            f"\n{hidden_below:,} finding{'s' if hidden_below != 1 else ''} below "
            f"{min_severity.value} not listed (--min-severity {min_severity.value})"
        )


class _StdoutConsole(Console):
    """Rich exits 1 on a broken pipe; here the caller decides (``scan`` exits 141)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


_LISTING: ContextVar[tuple[Severity, bool]] = ContextVar("listing", default=(Severity.INFO, False))
"""``scan --min-severity`` and ``--summary`` for the console format's ``show``."""


@contextmanager
def listing(min_severity: Severity, *, summary_only: bool = False) -> Iterator[None]:
    """Within this block the console summary lists findings from ``min_severity`` up
    (or, ``summary_only``, none): the registry's ``show`` takes only the result."""
    token = _LISTING.set((min_severity, summary_only))
    try:
        yield
    finally:
        _LISTING.reset(token)


def show_console(result: AuditResult) -> None:
    """The summary on stdout (what ``scan`` prints unless ``--quiet`` or ``--json -``),
    ending with the history block when the result carries changes.

    Raises BrokenPipeError when the reader of stdout went away.
    """
    min_severity, summary_only = _LISTING.get()
    console = _StdoutConsole(highlight=False)
    render_console(result, console, min_severity=min_severity, summary_only=summary_only)
    if result.changes is not None:
        from balloon_audit.report.console_changes import render_changes

        render_changes(result.changes, console)
    sys.stdout.flush()
