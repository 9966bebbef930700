"""``balloon-audit vm`` on a terminal: the bar, the breakdown, the live counters, the diagnosis.

Every name and message from vCenter goes through :func:`~balloon_audit.report.terminal.safe`
(control characters shown as escapes, rich markup escaped). The bar uses a different
character per part as well as a colour, so it reads without colours too.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from balloon_audit.formatting import DASH, fmt_num
from balloon_audit.memstate import state_from_counter
from balloon_audit.model import Finding
from balloon_audit.report.console import SEVERITY_STYLE
from balloon_audit.report.sparkline import text_sparkline
from balloon_audit.report.terminal import safe
from balloon_audit.vmexplain import VmExplanation, VmReport
from balloon_audit.vmmemory import SECTION_TITLES, SECTIONS, Line

BAR_PARTS = {
    "consumed": ("█", "green"),
    "ballooned": ("▒", "yellow"),
    "compressed": ("▓", "magenta"),
    "swapped": ("░", "red"),
    "untouched": ("·", "dim"),
}
"""Stacked-bar part → (character, colour)."""
BAR_WIDTH = 60
SPARK_WIDTH = 30


def value_text(value: Any, unit: str = "") -> str:
    """A breakdown value as text: ``2,150 MB``, ``65 %``, ``yes``; a dash when unknown."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        number = fmt_num(round(value, 1))
        return f"{number} {unit}" if unit else number
    return f"{value} {unit}" if unit and unit != "MB" else str(value)


def _title(exp: VmExplanation) -> str:
    vm = exp.vm
    where = " · ".join(
        safe(part)
        for part in (
            f"host {vm.host}" if vm.host else "host unknown",
            f"cluster {vm.cluster}" if vm.cluster else "",
            vm.datacenter or "",
            vm.server,
        )
        if part
    )
    state = vm.power_state or "power state unknown"
    template = " [dim](template)[/]" if vm.is_template else ""
    return f"[bold]{safe(vm.name)}[/] [dim]({safe(vm.moid)})[/]{template} · {safe(state)} · {where}"


def bar(exp: VmExplanation, width: int = BAR_WIDTH) -> tuple[Text, Text]:
    """The stacked bar of configured memory, and its legend."""
    total = exp.breakdown.configured_mb or 0
    line, legend = Text(), Text()
    if total <= 0:
        return Text("configured memory unknown", style="dim"), legend
    used = 0
    for i, seg in enumerate(exp.breakdown.segments):
        char, colour = BAR_PARTS.get(seg.key, ("?", ""))
        last = i == len(exp.breakdown.segments) - 1
        cells = width - used if last else max(1, round(width * seg.mb / total))
        cells = min(cells, width - used)
        used += cells
        line.append(char * cells, style=colour)
        legend.append(f"{char} ", style=colour)
        legend.append(f"{seg.label} {value_text(seg.mb, 'MB')}   ")
    return line, legend


def _breakdown_table(exp: VmExplanation) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_header=False)
    table.add_column("figure", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("where from", overflow="fold", ratio=1)
    heading = "[dim]API path · note[/]"
    for section in SECTIONS:
        lines = exp.breakdown.section(section)
        if not lines:
            continue
        table.add_row(f"[bold]{SECTION_TITLES[section]}[/]", "", heading)
        heading = ""
        for line in lines:
            table.add_row(*_row(line))
    return table


def _row(line: Line) -> tuple[str, str, str]:
    strong = line.key in ("limit_effective", "balloon_cap", "host_state", "ballooned", "swapped")
    value = safe(value_text(line.value, line.unit))
    note = f" · {safe(line.note)}" if line.note else ""
    return (
        f"  {safe(line.label)}",
        f"[bold]{value}[/]" if strong and line.value not in (None, 0) else value,
        f"[dim]{safe(line.path)}[/]{note}",
    )


def series_value(value: float | None, unit: str) -> str:
    """A sample as text: ``2,150 MB``, ``0.5 MB/s``; a ``state`` sample with its name."""
    if unit == "state" and value is not None:
        return f"{value:g} {state_from_counter(int(value)) or '?'}"
    return value_text(value, unit)


def _counters(exp: VmExplanation, console: Console) -> None:
    """The live counters as sparklines with min, max and last (when they were read)."""
    live = exp.live
    if live is None:
        return
    minutes = round(live.window.total_seconds() / 60)
    console.print(f"\n[bold]Live counters[/] (last {minutes} min, 20 s samples)")
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_header=True, header_style="dim")
    table.add_column("counter", no_wrap=True)
    table.add_column("", no_wrap=True)
    for name in ("min", "max", "last"):
        table.add_column(name, no_wrap=True, justify="right")
    for series in live.series:
        spark = text_sparkline(series.values, width=SPARK_WIDTH)
        table.add_row(
            safe(series.label),
            spark or "[dim]no samples[/]",
            series_value(series.minimum, series.unit),
            series_value(series.maximum, series.unit),
            f"[bold]{series_value(series.last, series.unit)}[/]",
        )
    if live.series:
        console.print(table)
    for note in live.notes:
        console.print(f"[dim]note: {safe(note)}[/]")


def _verdicts(exp: VmExplanation, console: Console) -> None:
    for title, verdict in (("Balloon", exp.balloon), ("Swap", exp.swap)):
        if verdict is not None:
            word, reason = verdict
            console.print(f"[bold]{title}:[/] [bold]{safe(word)}[/] · {safe(reason)}")


def _finding(number: int, finding: Finding, console: Console) -> None:
    style = SEVERITY_STYLE[finding.severity]
    e = finding.entity
    kind = {"HostSystem": "host", "VirtualMachine": "VM"}.get(e.type, "pool")
    console.print(
        f"{number}. [{style}]{finding.severity.value.upper()}[/] [bold]{finding.rule} "
        f"{safe(finding.name)}[/] ({kind} {safe(e.name)})  {safe(finding.message)}"
    )
    advice = finding.remediation
    rows = [("do", f"[bold]{safe(advice.summary)}[/]")]
    rows += [("·", safe(step)) for step in advice.steps]
    rows += [("confirm", safe(line)) for line in advice.confirm]
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column("", style="dim", no_wrap=True, min_width=8)
    table.add_column("", overflow="fold", ratio=1)
    for label, text in rows:
        table.add_row(label, text)
    console.print(Padding(table, (0, 0, 0, 3)))
    for label, command in (("govc", advice.govc), ("PowerCLI", advice.powercli)):
        if command:  # one line, never folded: it must paste as it is
            console.print(f"   [dim]{label:<8}[/] {safe(command)}", soft_wrap=True)


def render_explanation(exp: VmExplanation, console: Console) -> None:
    console.print(_title(exp))
    width = max(20, min(BAR_WIDTH, console.width - 4))
    line, legend = bar(exp, width)
    configured = value_text(exp.breakdown.configured_mb, "MB")
    console.print(Text.assemble(line, f"  {configured} configured"))
    console.print(legend)
    console.print(_breakdown_table(exp))
    _counters(exp, console)
    _verdicts(exp, console)
    if not exp.findings:
        console.print("\n[green]Diagnosis: no findings for this VM, its host or its pools.[/]")
    else:
        console.print(f"\n[bold]Diagnosis[/]: {len(exp.findings)} finding(s), what to do first")
        for number, finding in enumerate(exp.findings, 1):
            _finding(number, finding, console)
    for note in exp.notes:
        console.print(f"[dim]note: {safe(note)}[/]")


def render_vm_report(report: VmReport, console: Console) -> None:
    """Print every explained VM, then how much was read."""
    for i, exp in enumerate(report.explanations):
        if i:
            console.rule(style="dim")
        render_explanation(exp, console)
    for note in report.notes:
        console.print(f"[dim]note: {safe(note)}[/]")
    console.print(
        f"[dim]{safe(report.source.server)}: read {report.names_read:,} VM names and "
        f"{report.vms_read:,} VMs' properties (the matches and their neighbours)[/]",
        markup=True,
        highlight=False,
    )
