"""The Excel workbook: one sheet per table, numbers as numbers, text that can never run.

Written with openpyxl in write-only mode so a 10,000-VM fleet stays fast and
small. Every text cell is stored as a literal string: openpyxl turns a value
starting with ``=`` into a formula (and ``#N/A`` into an error), so such values
get an explicit string cell with Excel's quote-prefix flag, and they read back
exactly as the VM was named. Characters XML cannot carry are replaced, not the
whole value.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.marker import DataPoint
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from balloon_audit import vsphere as vs
from balloon_audit.fileio import atomic_write_bytes
from balloon_audit.formatting import tools_status_text
from balloon_audit.model import VM, AuditResult, Finding, Host
from balloon_audit.report import presentation as p
from balloon_audit.report.formats import Format, register
from balloon_audit.summary import FLEET_LABELS, fleet_totals

MAX_CELL_TEXT = 32767
RISKY_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
INT_FORMAT = "#,##0"
FLOAT_FORMAT = "#,##0.0"
EVIDENCE_FORMAT = "#,##0.0#"
AUTO_FORMAT = "auto"
"""Per cell: whole numbers as INT_FORMAT, others as EVIDENCE_FORMAT (evidence columns mix both)."""
RATIO_FORMAT = "0.00"
PERCENT_FORMAT = "0.0"

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="13294B")
TITLE_FONT = Font(bold=True, size=14, color="13294B")
SECTION_FONT = Font(bold=True, size=11, color="13294B")
SEVERITY_STYLE = {
    "critical": (PatternFill("solid", fgColor="FDE8E7"), Font(bold=True, color="B42318")),
    "warning": (PatternFill("solid", fgColor="FEF0D7"), Font(bold=True, color="A15C07")),
    "info": (PatternFill("solid", fgColor="E4EDFC"), Font(bold=True, color="175CD3")),
}
WRAP = Alignment(wrap_text=True, vertical="top")


def write_xlsx(result: AuditResult, path: Path) -> None:
    """Write the workbook for ``result`` to ``path`` atomically."""
    atomic_write_bytes(Path(path), render_xlsx(result))


def render_xlsx(result: AuditResult) -> bytes:
    """The workbook as bytes."""
    wb = Workbook(write_only=True)
    _summary_sheet(wb, result)
    _findings_sheet(wb, result)
    if result.waived:
        _waived_sheet(wb, result)
    _vms_sheet(wb, result)
    _hosts_sheet(wb, result)
    _rules_sheet(wb, result)
    _errors_sheet(wb, result)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- cells


def clean_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold, cut to Excel's cell limit."""
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 1] + "…"
    return text


def _text_cell(ws: Any, text: str, font: Font | None = None, wrap: bool = False) -> Any:
    text = clean_text(text)
    risky = text.startswith(RISKY_PREFIXES) or text in ERROR_CODES
    if not (risky or font or wrap):
        return text  # a plain str is written as an inline string
    cell = WriteOnlyCell(ws, value=text)
    if risky:
        cell.data_type = "s"  # never a formula or an error value
        cell.quotePrefix = True  # and Excel keeps it text if the user edits the cell
    if font:
        cell.font = font
    if wrap:
        cell.alignment = WRAP
    return cell


def _value(ws: Any, value: Any, number_format: str | None = None) -> Any:
    """A cell value: None stays empty, numbers stay numbers, everything else is safe text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if number_format is None:
            return value
        if number_format == AUTO_FORMAT:
            whole = isinstance(value, int) or value.is_integer()
            number_format = INT_FORMAT if whole else EVIDENCE_FORMAT
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = number_format
        return cell
    if not isinstance(value, str):
        value = p.evidence_text(value)
    return _text_cell(ws, value)


def _severity_cell(ws: Any, severity: str) -> Any:
    cell = WriteOnlyCell(ws, value=severity)
    style = SEVERITY_STYLE.get(severity)
    if style:
        cell.fill, cell.font = style
    return cell


@dataclass(frozen=True)
class Column:
    header: str
    width: float = 14
    number_format: str | None = None
    severity: bool = False
    wrap: bool = False


def _table(ws: Any, columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> int:
    """Header + rows with frozen header, autofilter and widths; returns the data row count."""
    for index, column in enumerate(columns, 1):
        # Never narrower than the header (and its filter button).
        width = max(column.width, min(len(column.header) + 4, 34))
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "B2" if len(columns) > 6 else "A2"
    _print_setup(ws, fit_width=False)
    ws.print_title_rows = "1:1"  # the header on every printed page
    header = []
    for column in columns:
        cell = WriteOnlyCell(ws, value=clean_text(column.header))
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        header.append(cell)
    ws.append(header)
    count = 0
    for row in rows:
        cells = []
        for column, value in zip(columns, row, strict=False):
            if column.severity and isinstance(value, str):
                cells.append(_severity_cell(ws, value))
            elif column.wrap and isinstance(value, str):
                cells.append(_text_cell(ws, value, wrap=True))
            else:
                cells.append(_value(ws, value, column.number_format))
        ws.append(cells)
        count += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    return count


def _print_setup(ws: Any, fit_width: bool) -> None:
    """Landscape; ``fit_width`` scales the sheet to one page wide (not for wide tables)."""
    ws.page_setup.orientation = "landscape"
    if fit_width:
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0


def _mb_format(value: Any) -> str:
    return FLOAT_FORMAT if isinstance(value, float) and not value.is_integer() else INT_FORMAT


# ---------------------------------------------------------------- sheets


class _Rows:
    """Appends rows to a write-only sheet and knows the number of the last one."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.row = 0

    def put(self, *values: Any) -> int:
        self.ws.append(list(values))
        self.row += 1
        return self.row

    def section(self, title: str) -> None:
        self.put()
        self.put(_text_cell(self.ws, title, font=SECTION_FONT))

    def skip_to(self, row: int) -> None:
        """Blank rows until ``row`` (so a table starts below a chart)."""
        while self.row < row:
            self.put()


def _summary_sheet(wb: Workbook, result: AuditResult) -> None:
    """Provenance, vCenters, fleet totals, findings by severity and by rule, with charts."""
    ws = wb.create_sheet("Summary")
    ws.column_dimensions["A"].width = 46
    ws.column_dimensions["B"].width = 48
    for letter in "CDEFGH":
        ws.column_dimensions[letter].width = 12
    _print_setup(ws, fit_width=True)
    rows = _Rows(ws)
    _provenance_block(rows, result)
    _sources_block(rows, result)
    # The charts sit beside the two-column Fleet and severity blocks, never over a table.
    rows.section("Fleet")
    charts_top = rows.row
    _fleet_block(rows, result)
    counts = result.counts_by_severity()
    severity_rows = _severity_block(rows, counts)
    groups = p.group_findings(result)
    severity_chart = _severity_chart(ws, severity_rows, counts)
    ws.add_chart(severity_chart, f"D{charts_top}")
    charts_end = charts_top + _rows_spanned(severity_chart.height)
    by_rule_top = charts_end + 1
    if groups:
        charts_end = by_rule_top + _rows_spanned(CHART_BY_RULE_SIZE[0])
    rows.put()
    rows.skip_to(charts_end)
    by_rule_rows = _by_rule_block(rows, result, groups)
    if groups:
        ws.add_chart(_by_rule_chart(ws, by_rule_rows, groups), f"D{by_rule_top}")


def _provenance_block(rows: _Rows, result: AuditResult) -> None:
    ws = rows.ws
    prov = p.provenance(result)
    rows.put(_text_cell(ws, "vSphere memory reclamation audit", font=TITLE_FONT))
    rows.put()
    for label, value in (
        ("Generated (UTC)", prov.generated_utc),
        ("Generated (local time of the rendering machine)", prov.generated_local),
        ("Tool", f"balloon-audit {prov.tool_version} (read-only)"),
        ("Run by", prov.user),
        ("Machine", prov.machine),
        ("Command", prov.command),
        ("Rules in force", ", ".join(x.info.id for x in p.rules_in_force(result))),
        ("Findings", len(result.findings)),
        ("Waived findings", len(result.waived)),
    ):
        rows.put(_text_cell(ws, label, font=Font(bold=True)), _value(ws, value))


def _sources_block(rows: _Rows, result: AuditResult) -> None:
    ws = rows.ws
    rows.section("vCenters")
    rows.put(
        *_header_cells(ws, ("Server", "Status", "Type", "API version", "Hosts", "VMs", "Error"))
    )
    for s in result.sources:
        rows.put(
            _value(ws, s.server),
            _value(ws, str(s.status)),
            _value(ws, s.api_type),
            _value(ws, s.api_version),
            s.host_count,
            s.vm_count,
            _value(ws, s.error),
        )


def _fleet_block(rows: _Rows, result: AuditResult) -> None:
    ws = rows.ws
    for key, value in fleet_totals(result.snapshot).items():
        fmt = _mb_format(value) if key.endswith("_mb") else INT_FORMAT
        rows.put(_value(ws, FLEET_LABELS.get(key, key)), _value(ws, value, fmt))


def _severity_block(rows: _Rows, counts: dict[str, int]) -> tuple[int, int]:
    """Findings per severity; returns the (first, last) data rows for the chart."""
    ws = rows.ws
    rows.section("Findings by severity")
    rows.put(*_header_cells(ws, ("Severity", "Findings")))
    first = rows.row + 1
    for severity in p.SEVERITIES:
        rows.put(_severity_cell(ws, severity.value), counts[severity.value])
    return first, rows.row


def _by_rule_block(
    rows: _Rows, result: AuditResult, groups: list[p.FindingGroup]
) -> tuple[int, int]:
    """Findings per rule (or a line saying there are none); returns the data rows."""
    ws = rows.ws
    rows.put(_text_cell(ws, "Findings by rule", font=SECTION_FONT))
    rows.put(
        *_header_cells(
            ws, ("Rule", "Name", "Critical", "Warning", "Info", "Findings", "Checked", "Worst")
        )
    )
    first = rows.row + 1
    for g in groups:
        rows.put(
            _value(ws, g.rule),
            _value(ws, g.info.name),
            g.counts["critical"],
            g.counts["warning"],
            g.counts["info"],
            len(g.findings),
            g.checked,
            _severity_cell(ws, g.worst.value),
        )
    if not groups:
        waived = f" ({len(result.waived)} waived: see the Waived sheet)" if result.waived else ""
        rows.put(_text_cell(ws, f"No findings: every rule in force passed{waived}."))
    return first, rows.row


ROW_HEIGHT_CM = 15 / 72 * 2.54
"""Excel's default row height (15 points) in centimetres, to place charts between tables."""
CHART_SEVERITY_SIZE: tuple[float, int] = (6.0, 14)
CHART_BY_RULE_SIZE: tuple[float, int] = (8.0, 18)
"""(height, width) in cm (openpyxl types a chart's width as a whole number)."""
CHART_COLOURS = {"critical": "B42318", "warning": "E9A23B", "info": "5B8DEF"}


def _rows_spanned(height_cm: float) -> int:
    return math.ceil(height_cm / ROW_HEIGHT_CM)


def _axes_visible(chart: BarChart, biggest: int) -> None:
    # openpyxl 3.1 leaves out <c:delete val="0"/>, and Excel then hides both axes.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    if biggest < 10:
        chart.y_axis.majorUnit = 1  # counts: no 0.2 steps on a small axis


def _severity_chart(ws: Any, rows: tuple[int, int], counts: dict[str, int]) -> BarChart:
    """One bar per severity (critical on top), each in its severity's colour."""
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Findings by severity"
    chart.legend = None
    first, last = rows
    chart.add_data(Reference(ws, min_col=2, min_row=first - 1, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    series = chart.series[0]
    for index, severity in enumerate(p.SEVERITIES):
        point = DataPoint(idx=index)
        point.graphicalProperties.solidFill = CHART_COLOURS[severity.value]
        point.graphicalProperties.line.solidFill = CHART_COLOURS[severity.value]
        series.dPt.append(point)
    chart.x_axis.scaling.orientation = "maxMin"  # a horizontal bar chart lists bottom-up
    chart.y_axis.crosses = "max"  # and keep the value axis below the bars
    _axes_visible(chart, max(counts.values(), default=0))
    chart.height, chart.width = CHART_SEVERITY_SIZE
    return chart


def _by_rule_chart(ws: Any, rows: tuple[int, int], groups: list[p.FindingGroup]) -> BarChart:
    """Findings per rule, stacked by severity (columns C:E of the by-rule table)."""
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = "Findings by rule and severity"
    first, last = rows
    chart.add_data(
        Reference(ws, min_col=3, max_col=5, min_row=first - 1, max_row=last),
        titles_from_data=True,
    )
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    for series, severity in zip(chart.series, p.SEVERITIES, strict=True):
        series.graphicalProperties.solidFill = CHART_COLOURS[severity.value]
        series.graphicalProperties.line.solidFill = CHART_COLOURS[severity.value]
    _axes_visible(chart, max((len(g.findings) for g in groups), default=0))
    chart.height, chart.width = CHART_BY_RULE_SIZE
    return chart


def _header_cells(ws: Any, names: Iterable[str]) -> list[Any]:
    cells = []
    for name in names:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cells.append(cell)
    return cells


def _numeric_evidence_keys(findings: Sequence[Finding]) -> list[str]:
    """Evidence keys whose values are numbers wherever they appear, for numeric columns."""
    numeric: dict[str, bool] = {}
    for f in findings:
        for key, value in f.evidence.items():
            if value is None:
                numeric.setdefault(key, True)
            else:
                numeric[key] = numeric.get(key, True) and p.is_number(value)
    return sorted(k for k, ok in numeric.items() if ok)[:40]


ENTITY_COLUMNS = [
    Column("Entity type", 22),
    Column("Entity", 32),
    Column("MOID", 11),
    Column("vCenter", 22),
    Column("Datacenter", 14),
    Column("Cluster", 16),
    Column("Host", 22),
]


def _entity_values(f: Finding) -> list[Any]:
    e = f.entity
    return [e.type, e.name, e.moid, e.server, e.datacenter, e.cluster, e.host]


def _findings_sheet(wb: Workbook, result: AuditResult) -> None:
    ws = wb.create_sheet("Findings")
    numeric_keys = _numeric_evidence_keys(result.findings)
    headers = p.evidence_headers(numeric_keys)
    columns = [
        Column("Rule", 8),
        Column("Name", 30),
        Column("Severity", 11, severity=True),
        *ENTITY_COLUMNS,
        Column("Message", 48),
        *(Column(header, max(12, min(len(header) + 2, 30)), AUTO_FORMAT) for header in headers),
        Column("Evidence (JSON)", 40),
        Column("Remediation", 50),
        Column("PowerCLI", 50),
        Column("govc", 50),
    ]

    def rows() -> Iterable[list[Any]]:
        for f in result.findings:
            yield [
                f.rule,
                f.name,
                f.severity.value,
                *_entity_values(f),
                f.message,
                *(_numeric(f.evidence.get(key)) for key in numeric_keys),
                json.dumps(f.evidence, sort_keys=True, ensure_ascii=False, default=str),
                f.remediation.summary,
                f.remediation.powercli,
                f.remediation.govc,
            ]

    _table(ws, columns, rows())


def _numeric(value: Any) -> Any:
    return value if p.is_number(value) else None


def _waived_sheet(wb: Workbook, result: AuditResult) -> None:
    ws = wb.create_sheet("Waived")
    columns = [
        Column("Rule", 8),
        Column("Name", 30),
        Column("Severity", 11, severity=True),
        *ENTITY_COLUMNS,
        Column("Message", 48),
        Column("Waiver reason", 40),
        Column("Owner", 18),
        Column("Expires", 12),
        Column("Waiver entity", 24),
        Column("Waiver vCenter", 20),
    ]
    rows = (
        [
            w.finding.rule,
            w.finding.name,
            w.finding.severity.value,
            *_entity_values(w.finding),
            w.finding.message,
            w.waiver.reason,
            w.waiver.owner,
            w.waiver.expires or "never",
            w.waiver.entity,
            w.waiver.server,
        ]
        for w in result.waived
    )
    _table(ws, columns, rows)


def _field_column(name: str, entity: str) -> Column:
    """A model field's column: headed by its label from vsphere.py, numbers formatted."""
    header = vs.field_label(name, entity)
    if name.endswith("_mb"):
        return Column(header, 14, FLOAT_FORMAT if name.startswith("compressed") else INT_FORMAT)
    if name.endswith("_kbps"):
        return Column(header, 14, FLOAT_FORMAT)
    if name == "name":
        return Column(header, 32)
    return Column(header, 18 if name not in ("annotation", "guest_full_name") else 30)


FINDINGS_COLUMNS = [Column("Findings", 10, INT_FORMAT), Column("Worst severity", 14, severity=True)]


def _vms_sheet(wb: Workbook, result: AuditResult) -> None:
    ws = wb.create_sheet("VMs")
    names = [f.name for f in dataclasses.fields(VM)]
    per_entity = p.findings_per_entity(result)
    columns = [_field_column(n, vs.VIRTUAL_MACHINE) for n in names]
    columns += [Column(p.TOOLS_COLUMN, 22), *FINDINGS_COLUMNS]

    def rows() -> Iterable[list[Any]]:
        for vm in p.inventory_vms(result.snapshot):
            n, worst = per_entity.get((vm.server, vm.moid), (None, None))
            values: list[Any] = [getattr(vm, name) for name in names]
            yield [*values, tools_status_text(vm) or None, n, worst.value if worst else None]

    _table(ws, columns, rows())


def _hosts_sheet(wb: Workbook, result: AuditResult) -> None:
    ws = wb.create_sheet("Hosts")
    names = [f.name for f in dataclasses.fields(Host)]
    per_entity = p.findings_per_entity(result)
    columns = [_field_column(n, vs.HOST_SYSTEM) for n in names]
    columns += [
        Column(p.HOST_LOAD_LABELS["usage_pct"], 14, PERCENT_FORMAT),
        Column(p.HOST_LOAD_LABELS["vms_on"], 12, INT_FORMAT),
        Column(p.HOST_LOAD_LABELS["configured_mb"], 16, INT_FORMAT),
        Column(p.HOST_LOAD_LABELS["overcommit"], 14, RATIO_FORMAT),
        Column(p.HOST_LOAD_LABELS["ballooned_mb"], 16, INT_FORMAT),
        Column(p.HOST_LOAD_LABELS["compressed_mb"], 16, FLOAT_FORMAT),
        Column(p.HOST_LOAD_LABELS["swapped_mb"], 14, INT_FORMAT),
        *FINDINGS_COLUMNS,
    ]

    def rows() -> Iterable[list[Any]]:
        for load in p.host_loads(result.snapshot):
            h = load.host
            n, worst = per_entity.get((h.server, h.moid), (None, None))
            yield [
                *(getattr(h, name) for name in names),
                None if load.usage_pct is None else round(load.usage_pct, 1),
                load.vms_on,
                load.configured_mb,
                None if load.overcommit is None else round(load.overcommit, 2),
                load.ballooned_mb,
                load.compressed_mb,
                load.swapped_mb,
                n,
                worst.value if worst else None,
            ]

    _table(ws, columns, rows())


def _rules_sheet(wb: Workbook, result: AuditResult) -> None:
    ws = wb.create_sheet("Rules")
    columns = [
        Column("Rule", 8),
        Column("Name", 26),
        Column("Max severity", 12, severity=True),
        Column("Checks", 44, wrap=True),
        Column("Scope", 30, wrap=True),
        Column("Rationale", 60, wrap=True),
        Column("Remediation", 60, wrap=True),
        Column("References", 40, wrap=True),
        Column("Reads (property → column)", 50, wrap=True),
        Column("Thresholds in force", 30, wrap=True),
        Column("Checked", 10, INT_FORMAT),
        Column("Flagged", 10, INT_FORMAT),
    ]
    rows = (
        [
            x.info.id,
            x.info.name,
            x.info.severity,
            x.info.checks,
            x.info.scope,
            x.info.rationale,
            x.info.remediation,
            "\n".join(x.info.references),
            "\n".join(x.info.reads),
            "\n".join(f"{k} = {p.evidence_text(v)}" for k, v in sorted(x.params.items())),
            x.stat.checked if x.stat else None,
            x.stat.flagged if x.stat else None,
        ]
        for x in p.rules_in_force(result)
    )
    _table(ws, columns, rows)


def _errors_sheet(wb: Workbook, result: AuditResult) -> None:
    ws = wb.create_sheet("Errors")
    columns = [Column("Kind", 16), Column("Server", 26), Column("Problem", 60), Column("Hint", 60)]
    rows: list[list[Any]] = [
        ["collection", s.server, s.error, s.hint] for s in result.sources if not s.ok
    ]
    rows += [["waiver", None, line, None] for line in result.waiver_problems]
    _table(ws, columns, rows)


register(Format("xlsx", help="Write the Excel workbook here.", write=write_xlsx, order=30))
