"""The Excel workbook: one sheet per table, numbers as numbers, text that can never run.

Written with openpyxl in write-only mode so a 10,000-VM fleet stays fast and
small; the tables' data rows bypass openpyxl's cell objects and are written as sheet
XML directly (``xlsx_sheetdata``), typed and styled exactly as openpyxl's cells would
be (``render_xlsx(..., fast_rows=False)`` still writes them through openpyxl: the tests
compare the two). Every text cell is stored as a literal string: openpyxl turns a value
starting with ``=`` into a formula (and ``#N/A`` into an error), so such values
get an explicit string cell with Excel's quote-prefix flag, and they read back
exactly as the VM was named. Characters XML cannot carry are replaced, not the
whole value.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
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
from balloon_audit.history.changes import Changes
from balloon_audit.model import VM, AuditResult, Finding, Host
from balloon_audit.report import presentation as p
from balloon_audit.report import xlsx_changes as xc
from balloon_audit.report.words import enum_word, field_display
from balloon_audit.report.xlsx_sheetdata import (
    CellStyles,
    SheetRows,
    bool_cell,
    date_cell,
    number_cell,
    splice,
    text_cell,
)
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
DATE_FORMAT = "yyyy-mm-dd"

FONT_NAME = "Calibri"
"""Named on every styled cell: a font without a name makes LibreOffice fall back to a serif.
(Plain cells use the workbook's default font, Calibri 11 as well.)"""
HEADER_FONT = Font(name=FONT_NAME, bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="13294B")
TITLE_FONT = Font(name=FONT_NAME, bold=True, size=14, color="13294B")
SECTION_FONT = Font(name=FONT_NAME, bold=True, size=11, color="13294B")
LABEL_FONT = Font(name=FONT_NAME, bold=True)
SEVERITY_STYLE = {
    "critical": (
        PatternFill("solid", fgColor="FDE8E7"),
        Font(name=FONT_NAME, bold=True, color="B42318"),
    ),
    "warning": (
        PatternFill("solid", fgColor="FEF0D7"),
        Font(name=FONT_NAME, bold=True, color="A15C07"),
    ),
    "info": (
        PatternFill("solid", fgColor="E4EDFC"),
        Font(name=FONT_NAME, bold=True, color="175CD3"),
    ),
}
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
HEADER_LEFT = Alignment(horizontal="left", vertical="center")
HEADER_RIGHT = Alignment(horizontal="right", vertical="center")
"""Headers sit on the side their column's values do: numbers right, text left."""
BUILD_FORMAT = "0"
PAPER_A4 = 9
"""OOXML paper size code for A4."""
"""Build numbers: no thousands separator."""


def write_xlsx(result: AuditResult, path: Path) -> None:
    """Write the workbook for ``result`` to ``path`` atomically."""
    atomic_write_bytes(Path(path), render_xlsx(result))


class _Workbook(Workbook):
    """openpyxl's write-only workbook, plus the table rows written past openpyxl."""

    def __init__(self, fast_rows: bool) -> None:
        super().__init__(write_only=True)
        self.fast_rows = fast_rows
        self.sheet_rows: list[SheetRows] = []


def render_xlsx(result: AuditResult, *, fast_rows: bool = True) -> bytes:
    """The workbook as bytes; ``fast_rows=False`` writes every cell through openpyxl
    (slow: the reference the fast rows are tested against)."""
    wb = _Workbook(fast_rows)
    try:
        _summary_sheet(wb, result)
        if result.changes is not None:
            _changes_sheet(wb, result.changes)
        _findings_sheet(wb, result)
        _evidence_sheet(wb, result)
        if result.waived:
            _waived_sheet(wb, result)
        _vms_sheet(wb, result)
        _hosts_sheet(wb, result)
        _rules_sheet(wb, result)
        _errors_sheet(wb, result)
        buffer = io.BytesIO()
        wb.save(buffer)
        return splice(buffer.getvalue(), wb.sheet_rows) if wb.sheet_rows else buffer.getvalue()
    finally:
        for rows in wb.sheet_rows:
            rows.close()


# ---------------------------------------------------------------- cells


NOT_IN_XML_RE = re.compile("[\ud800-\udfff\ufffe\uffff]")
"""What openpyxl's ILLEGAL_CHARACTERS_RE lets through but XML 1.0 forbids too: lone
surrogates (a hand-edited capture or result can carry them) and U+FFFE/U+FFFF."""


def clean_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold, cut to Excel's cell limit."""
    text = NOT_IN_XML_RE.sub("\ufffd", ILLEGAL_CHARACTERS_RE.sub("\ufffd", text))
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


def _date_cell(ws: Any, value: datetime) -> Any:
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = DATE_FORMAT
    return cell


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
    numeric: bool | None = None
    """Right-aligned header; by default when the column has a number format."""

    @property
    def right(self) -> bool:
        return self.number_format is not None if self.numeric is None else self.numeric


def _table(
    ws: Any,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    freeze: str = "B2",
    portrait: bool = False,
) -> int:
    """Header + rows with frozen header (and first column), autofilter, widths and print
    setup; returns the data row count."""
    # Never narrower than the header (and its filter button).
    widths = [max(column.width, min(len(column.header) + 4, 34)) for column in columns]
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = freeze
    _print_setup(ws, portrait=portrait)
    ws.print_title_rows = "1:1"  # the header on every printed page
    header = []
    for column in columns:
        cell = WriteOnlyCell(ws, value=clean_text(column.header))
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = HEADER_RIGHT if column.right else HEADER_LEFT
        header.append(cell)
    ws.append(header)
    if ws.parent.fast_rows:
        count = _fast_rows(ws, columns, widths, rows)
    else:
        count = _openpyxl_rows(ws, columns, widths, rows)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    return count


def _openpyxl_rows(
    ws: Any, columns: Sequence[Column], widths: Sequence[float], rows: Iterable[Sequence[Any]]
) -> int:
    """The data rows as openpyxl cells (about 10 µs a cell): the reference for _fast_rows."""
    wrapped = _wrapped(columns, widths)
    count = 0
    for row in rows:
        height = _row_height(wrapped, row)
        if height:
            ws.row_dimensions[count + 2].height = height
        cells = []
        for column, value in zip(columns, row, strict=False):
            if column.severity and isinstance(value, str) and value in SEVERITY_STYLE:
                cell = _severity_cell(ws, value)
            elif column.wrap and isinstance(value, str):
                cell = _text_cell(ws, value, wrap=True)
            elif isinstance(value, datetime):
                cell = _date_cell(ws, value)
            else:
                cell = _value(ws, value, column.number_format)
            cells.append(_top(ws, cell) if height else cell)
        ws.append(cells)
        count += 1
    return count


def _fast_rows(
    ws: Any, columns: Sequence[Column], widths: Sequence[float], rows: Iterable[Sequence[Any]]
) -> int:
    """The data rows as sheet XML (see xlsx_sheetdata), cells as _openpyxl_rows makes them."""
    sheet = SheetRows(ws, len(columns))
    ws.parent.sheet_rows.append(sheet)
    styles = CellStyles(ws)
    writers = [_ColumnCells(styles, column) for column in columns]
    wrapped = _wrapped(columns, widths)
    count = 0
    for row in rows:
        sheet.add(row, writers, _row_height(wrapped, row) if wrapped else 0)
        count += 1
    return count


KNOWN_TEXTS = 2000
"""Distinct texts remembered per column: enough for states, clusters, rules and advice,
never the whole fleet's names."""


class _ColumnCells:
    """One column's cells as XML: the type and look _openpyxl_rows gives the same value
    (severity colours, wrapped text, number formats, the quote prefix on risky text, top
    alignment in rows taller than one line)."""

    def __init__(self, styles: CellStyles, column: Column) -> None:
        self.styles = styles
        self.severity = column.severity
        self.wrap = column.wrap
        self.number_format = column.number_format
        self.looks: dict[tuple[Any, ...], str] = {}
        self.known: tuple[dict[str, str], dict[str, str]] = ({}, {})
        """Text cells already written (column values repeat), in normal and tall rows."""

    def __call__(self, value: Any, top: bool) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            known = self.known[top]
            cell = known.get(value)
            if cell is None:
                if self.severity and value in SEVERITY_STYLE:
                    cell = text_cell(value, self.look("severity", value, top))
                else:
                    cell = self.text(value, self.wrap, top)
                if len(known) < KNOWN_TEXTS:
                    known[value] = cell
            return cell
        if isinstance(value, bool):
            return bool_cell(value, self.look("number", None, top))
        if isinstance(value, (int, float)):
            fmt = self.number_format
            if fmt == AUTO_FORMAT:
                whole = isinstance(value, int) or value.is_integer()
                fmt = INT_FORMAT if whole else EVIDENCE_FORMAT
            return number_cell(value, self.look("number", fmt, top))
        if isinstance(value, datetime):
            return date_cell(value, self.look("number", DATE_FORMAT, top))
        return self.text(p.evidence_text(value), False, top)

    def text(self, value: str, wrap: bool, top: bool) -> str:
        text = clean_text(value)
        risky = text.startswith(RISKY_PREFIXES) or text in ERROR_CODES
        return text_cell(text, self.look("text", (wrap, risky), top))

    def look(self, kind: str, detail: Any, top: bool) -> str:
        """The style attribute for one look, registered on first use."""
        key = (kind, detail, top)
        found = self.looks.get(key)
        if found is None:
            found = self.looks[key] = self._register(kind, detail, top)
        return found

    def _register(self, kind: str, detail: Any, top: bool) -> str:
        align = TOP if top else None
        if kind == "severity":
            fill, font = SEVERITY_STYLE[detail]
            return self.styles.attr(fill=fill, font=font, alignment=align)
        if kind == "number":
            return self.styles.attr(number_format=detail, alignment=align)
        wrap, risky = detail
        return self.styles.attr(alignment=WRAP if wrap else align, quote_prefix=risky)


LINE_HEIGHT_PT = 15
CHARS_PER_WIDTH_UNIT = 1.1
"""A width unit is one "0" of Calibri 11; average text is a little narrower, and word wrap
wastes some of each line."""
MAX_ROW_HEIGHT_PT = 409
"""Excel's limit."""


def _lines(text: str, width: float) -> int:
    """Lines a wrapped cell of ``width`` characters needs for ``text`` (a safe estimate)."""
    per_line = max(1, int(width * CHARS_PER_WIDTH_UNIT))
    return sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))


def _wrapped(columns: Sequence[Column], widths: Sequence[float]) -> list[tuple[int, float]]:
    """(index, width) of the columns whose text wraps."""
    return [(i, w) for i, (c, w) in enumerate(zip(columns, widths, strict=True)) if c.wrap]


def _row_height(wrapped: Sequence[tuple[int, float]], row: Sequence[Any]) -> float:
    """The height a row with wrapped text needs, or 0 for the default: write-only sheets
    get no automatic row heights, and LibreOffice would print wrapped lines on top of
    the next row. ``wrapped`` is what _wrapped gives."""
    lines = 1
    for index, width in wrapped:
        value = row[index] if index < len(row) else None
        if isinstance(value, str):
            lines = max(lines, _lines(value, width))
    return 0 if lines == 1 else min(lines * LINE_HEIGHT_PT, MAX_ROW_HEIGHT_PT)


def _top(ws: Any, cell: Any) -> Any:
    """``cell`` aligned to the top, so a tall row reads as one line across."""
    if cell is None:
        return None
    if not hasattr(cell, "alignment"):  # a plain value
        cell = WriteOnlyCell(ws, value=cell)
    if not cell.alignment.wrap_text:
        cell.alignment = TOP
    return cell


def _print_setup(ws: Any, portrait: bool = False) -> None:
    """A4, landscape unless ``portrait``, one page wide (as many pages tall as needed),
    sheet name and page number in the footer."""
    ws.page_setup.orientation = "portrait" if portrait else "landscape"
    ws.page_setup.paperSize = PAPER_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_options.horizontalCentered = False
    ws.oddFooter.center.text = "&A · page &P of &N"
    ws.oddFooter.center.size = 8
    ws.oddFooter.center.font = FONT_NAME


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
    _print_setup(ws)
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
        rows.put(_text_cell(ws, label, font=LABEL_FONT), _value(ws, value))


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
    if p.no_data(result):
        rows.put(
            _text_cell(
                ws, "No data: no vCenter could be audited (see the Errors sheet).", font=LABEL_FONT
            )
        )
        return
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
    if not groups and p.no_data(result):
        rows.put(_text_cell(ws, "No data: no vCenter could be audited, so nothing was checked."))
    elif not groups:
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


def _where(f: Finding) -> str:
    """Where the entity sits: host for a VM, else cluster or vCenter."""
    e = f.entity
    parts = [e.server, e.cluster, e.host if e.type == vs.VIRTUAL_MACHINE else None]
    return " / ".join(part for part in parts if part)


def _evidence_label(key: str) -> str:
    return vs.evidence_label(key) or key


def _evidence_unit(key: str) -> str:
    """The unit of an evidence value: evidence holds API values, so the API's unit."""
    inner = key[4:-1].removeprefix("host.") if key.startswith("sum(") else key
    prop = vs.prop_for_key(inner)
    return prop.wire_unit if prop is not None else ""


def _first_evidence(f: Finding) -> str | None:
    """The first piece of evidence the rule recorded, as ``label: value``."""
    for key, value in f.evidence.items():
        return f"{_evidence_label(key)}: {p.evidence_text(value)}"
    return None


FINDING_NUMBER = Column("#", 6, INT_FORMAT)
"""Findings are numbered in sheet order; the Evidence sheet refers to these numbers."""


def _findings_sheet(wb: Workbook, result: AuditResult) -> None:
    """One compact row per finding: what, where, why, what to do; evidence in full on the
    Evidence sheet."""
    ws = wb.create_sheet("Findings")
    history = result.changes.current_by_entity() if result.changes is not None else None
    history_headers = xc.FINDING_HISTORY_HEADERS if history is not None else ()
    columns = [
        FINDING_NUMBER,
        Column("Severity", 10, severity=True),
        Column("Rule", 8),
        Column("Check", 20, wrap=True),
        Column("Entity", 26, wrap=True),
        Column("Entity type", 15),
        Column("vCenter / cluster / host", 24, wrap=True),
        Column("Message", 56, wrap=True),
        *(Column(h, w, INT_FORMAT if h.startswith("Age") else None) for h, w in history_headers),
        Column("Fix", 48, wrap=True),
        Column("PowerCLI", 40, wrap=True),
        Column("govc", 40, wrap=True),
        Column("Key evidence", 30, wrap=True),
    ]

    def rows() -> Iterable[list[Any]]:
        for number, f in enumerate(result.findings, 1):
            yield [
                number,
                f.severity.value,
                f.rule,
                f.name,
                f.entity.name,
                f.entity.type,
                _where(f),
                f.message,
                *(xc.finding_history(history, f) if history is not None else ()),
                f.remediation.summary,
                f.remediation.powercli,
                f.remediation.govc,
                _first_evidence(f),
            ]

    _table(ws, columns, rows(), freeze="A2")


def _changes_sheet(wb: Workbook, changes: Changes) -> None:
    """Every finding's change since the previous run, then the VMs whose memory moved."""
    ws = wb.create_sheet("Changes")
    columns = [
        Column(h, w, FLOAT_FORMAT if "(MB)" in h else INT_FORMAT if h.startswith("Age") else None,
               severity=h in ("Severity", "Previous severity"))
        for h, w in xc.CHANGE_HEADERS
    ]  # fmt: skip
    _table(ws, columns, xc.change_rows(changes))
    if changes.vm_deltas:
        ws = wb.create_sheet("VM memory changes")
        columns = [Column(h, w, FLOAT_FORMAT if "(MB)" in h else None) for h, w in xc.DELTA_HEADERS]
        _table(ws, columns, xc.delta_rows(changes))


def _evidence_sheet(wb: Workbook, result: AuditResult) -> None:
    """Every piece of evidence, one per row (long form): filter by key, sort by value."""
    ws = wb.create_sheet("Evidence")
    columns = [
        FINDING_NUMBER,
        Column("Rule", 8),
        Column("Entity", 30),
        Column("Evidence", 30),
        Column("Value", 16, AUTO_FORMAT, numeric=True),
        Column("Unit", 8),
        Column("Property (API path)", 48),
    ]

    described: dict[str, tuple[str, str]] = {}  # key -> (label, unit): keys repeat

    def rows() -> Iterable[list[Any]]:
        for number, f in enumerate(result.findings, 1):
            for key, value in f.evidence.items():
                shown = value if p.is_number(value) else p.evidence_text(value)
                label, unit = described.get(key) or described.setdefault(
                    key, (_evidence_label(key), _evidence_unit(key))
                )
                yield [number, f.rule, f.entity.name, label, shown, unit, key]

    _table(ws, columns, rows(), freeze="A2", portrait=True)


def _waived_sheet(wb: Workbook, result: AuditResult) -> None:
    ws = wb.create_sheet("Waived")
    columns = [
        Column("Rule", 8),
        Column("Name", 30),
        Column("Severity", 11, severity=True),
        *ENTITY_COLUMNS,
        Column("Message", 48, wrap=True),
        Column("Waiver reason", 40, wrap=True),
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
    _table(ws, columns, rows, freeze="A2")


HEADER_OVERRIDES = {"maxmemctl": "maxmemctl (MB)"}
"""Headers that need a unit the property table does not carry (the key's value is MB)."""


def _field_column(name: str, entity: str) -> Column:
    """A model field's column: headed by its label from vsphere.py, numbers formatted."""
    header = HEADER_OVERRIDES.get(name) or vs.field_label(name, entity)
    if name.endswith("_mb"):
        return Column(header, 14, FLOAT_FORMAT if name.startswith("compressed") else INT_FORMAT)
    if name.endswith("_kbps"):
        return Column(header, 14, FLOAT_FORMAT)
    if name == "tools_version":
        return Column(header, 10, BUILD_FORMAT)
    if name == "maxmemctl":
        return Column(header, 12, INT_FORMAT)
    if name == "name":
        return Column(header, 32)
    return Column(header, 18 if name not in ("annotation", "guest_full_name") else 30)


FINDINGS_COLUMNS = [Column("Findings", 10, INT_FORMAT), Column("Worst severity", 14, severity=True)]

VM_FIELD_ORDER = (
    "name",
    "power_state",
    "is_template",
    "memory_mb",
    "memory_limit_mb",
    "memory_reservation_mb",
    "reservation_locked_to_max",
    "host_memory_usage_mb",
    "guest_memory_usage_mb",
    "ballooned_mb",
    "compressed_mb",
    "swapped_mb",
    "swapin_rate_kbps",
    "swapout_rate_kbps",
    "maxmemctl",
    "tools_running_status",
    "tools_version",
    "guest_full_name",
    "guest_id",
    "server",
    "datacenter",
    "cluster",
    "host",
    "host_connection_state",
    "quickstats_available",
    "moid",
    "host_moid",
    "tools_version_status2",
    "tools_version_status",
    "tools_status",
)
"""RVTools habit: the name first (and frozen), then state, memory, Tools, placement, IDs.
Fields not listed (added later to the model) follow in model order."""

HOST_FIELD_ORDER = (
    "name",
    "connection_state",
    "power_state",
    "in_maintenance_mode",
    "memory_size_mb",
    "memory_usage_mb",
)


def _ordered_fields(model: type, first: Sequence[str], last: Sequence[str] = ()) -> list[str]:
    names = [f.name for f in dataclasses.fields(model)]
    middle = [n for n in names if n not in first and n not in last]
    return [n for n in first if n in names] + middle + [n for n in last if n in names]


def _vms_sheet(wb: Workbook, result: AuditResult) -> None:
    ws = wb.create_sheet("VMs")
    names = _ordered_fields(VM, VM_FIELD_ORDER, last=("annotation",))
    tools_at = names.index("tools_running_status")
    per_entity = p.findings_per_entity(result)
    columns = [_field_column(n, vs.VIRTUAL_MACHINE) for n in names]
    columns.insert(tools_at, Column(p.TOOLS_COLUMN, 16))
    columns[-1:-1] = FINDINGS_COLUMNS  # before the notes, which are long

    def rows() -> Iterable[list[Any]]:
        for vm in p.inventory_vms(result.snapshot):
            n, worst = per_entity.get((vm.server, vm.moid), (None, None))
            values = [field_display(name, getattr(vm, name)) for name in names]
            values.insert(tools_at, enum_word(tools_status_text(vm) or None))
            values[-1:-1] = [n, worst.value if worst else None]
            yield values

    _table(ws, columns, rows())


def _hosts_sheet(wb: Workbook, result: AuditResult) -> None:
    ws = wb.create_sheet("Hosts")
    names = _ordered_fields(Host, HOST_FIELD_ORDER)
    split = len([n for n in HOST_FIELD_ORDER if n in names])
    per_entity = p.findings_per_entity(result)
    columns = [_field_column(n, vs.HOST_SYSTEM) for n in names]
    columns[split:split] = [
        Column(p.HOST_LOAD_LABELS["usage_pct"], 14, PERCENT_FORMAT),
        Column(p.HOST_LOAD_LABELS["vms_on"], 12, INT_FORMAT),
        Column(p.HOST_LOAD_LABELS["configured_mb"], 16, INT_FORMAT),
        Column(p.HOST_LOAD_LABELS["overcommit"], 14, RATIO_FORMAT),
        Column(p.HOST_LOAD_LABELS["ballooned_mb"], 16, INT_FORMAT),
        Column(p.HOST_LOAD_LABELS["compressed_mb"], 16, FLOAT_FORMAT),
        Column(p.HOST_LOAD_LABELS["swapped_mb"], 14, INT_FORMAT),
    ]
    columns += FINDINGS_COLUMNS

    def rows() -> Iterable[list[Any]]:
        for load in p.host_loads(result.snapshot):
            h = load.host
            n, worst = per_entity.get((h.server, h.moid), (None, None))
            values = [field_display(name, getattr(h, name)) for name in names]
            values[split:split] = [
                None if load.usage_pct is None else round(load.usage_pct, 1),
                load.vms_on,
                load.configured_mb,
                None if load.overcommit is None else round(load.overcommit, 2),
                load.ballooned_mb,
                load.compressed_mb,
                load.swapped_mb,
            ]
            yield [*values, n, worst.value if worst else None]

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


def _error_rows(result: AuditResult) -> list[list[Any]]:
    rows: list[list[Any]] = [
        ["collection", s.server, s.error, s.hint] for s in result.sources if not s.ok
    ]
    rows += [["waiver", None, line, None] for line in result.waiver_problems]
    return rows


def _errors_sheet(wb: Workbook, result: AuditResult) -> None:
    """Only when something went wrong: an empty sheet would print as blank pages."""
    rows = _error_rows(result)
    if not rows:
        return
    ws = wb.create_sheet("Errors")
    columns = [
        Column("Kind", 16),
        Column("Server", 26),
        Column("Problem", 60, wrap=True),
        Column("Hint", 60, wrap=True),
    ]
    _table(ws, columns, rows, freeze="A2")
