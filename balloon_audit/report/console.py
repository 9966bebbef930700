"""The terminal summary: sources, counts, fleet totals, then the findings."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from balloon_audit.formatting import fmt_num
from balloon_audit.model import AuditResult, Finding, Severity
from balloon_audit.report.formats import Format, register
from balloon_audit.report.terminal import printable, safe
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

WIDE = 120
"""Console width from which findings are shown as a table."""


def _where(finding: Finding) -> str:
    e = finding.entity
    return (e.host if e.host and e.type == "VirtualMachine" else e.server) or ""


def _findings_table(findings: tuple[Finding, ...]) -> Table:
    table = Table(show_edge=False, pad_edge=False, expand=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("entity", overflow="fold")
    table.add_column("host / vCenter", overflow="fold")
    table.add_column("finding", overflow="fold")
    for finding in findings:
        table.add_row(
            f"[{SEVERITY_STYLE[finding.severity]}]{finding.severity.value}[/]",
            f"{finding.rule} {finding.name}",
            safe(finding.entity.name),
            safe(_where(finding)),
            safe(finding.message),
        )
    return table


def render_console(result: AuditResult, console: Console, *, max_findings: int = 200) -> None:
    """Print the summary table. Every name goes through ``safe``: VM names are untrusted."""
    console.print(_sources_table(result))
    _print_totals(result, console)
    for problem in result.waiver_problems:
        console.print(f"[yellow]waiver:[/] {safe(problem)}")
    if result.waived:
        console.print()
        console.print(_waived_table(result))
    if not result.findings:
        console.print("\n[green]No findings.[/]")
        return
    console.print()
    _print_findings(result, console, max_findings)


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


def _print_findings(result: AuditResult, console: Console, max_findings: int) -> None:
    shown = result.findings[:max_findings]
    if console.width >= WIDE:
        console.print(_findings_table(shown))
    else:  # narrow terminals and cron mail: one finding per paragraph reads better
        for finding in shown:
            console.print(
                f"[{SEVERITY_STYLE[finding.severity]}]{finding.severity.value:<8}[/] "
                f"{finding.rule} {finding.name}  [bold]{safe(finding.entity.name)}[/] "
                f"[dim]({safe(_where(finding))})[/]"
            )
            console.print(Padding(Text(printable(finding.message)), (0, 0, 0, 9)))
    hidden = len(result.findings) - max_findings
    if hidden > 0:
        console.print(f"… and {hidden:,} more findings: write a report with --html/--xlsx/--json")


def render_rule_catalogue(rows: list[dict[str, Any]], console: Console) -> None:
    """``balloon-audit rules``: one row per rule, thresholds from the configuration starred."""
    table = Table(show_edge=False)
    for column in ("ID", "name", "severity"):
        table.add_column(column, no_wrap=True)
    for column in ("checks", "thresholds (* = from config)"):
        table.add_column(column, overflow="fold")
    for row in rows:
        overridden = set(row["overridden"])
        thresholds = ", ".join(
            f"{k}={v}{'*' if k in overridden else ''}" for k, v in row["thresholds"].items()
        )
        name = row["name"] if row["enabled"] else f"{row['name']} [dim](disabled)[/]"
        table.add_row(row["id"], name, row["severity"], safe(row["checks"]), safe(thresholds))
    console.print(table)


class _StdoutConsole(Console):
    """Rich exits 1 on a broken pipe; here the caller decides (``scan`` exits 141)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def show_console(result: AuditResult) -> None:
    """The summary on stdout (what ``scan`` prints unless ``--quiet`` or ``--json -``).

    Raises BrokenPipeError when the reader of stdout went away.
    """
    render_console(result, _StdoutConsole(highlight=False))
    sys.stdout.flush()


register(Format("console", help="The summary on the terminal.", show=show_console, order=0))
