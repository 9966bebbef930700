"""The Excel workbook, read back with openpyxl and as raw XML: no formula can run."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from balloon_audit import vsphere as vs
from balloon_audit.report.presentation import evidence_text
from balloon_audit.report.xlsx import clean_text, render_xlsx, write_xlsx
from tests.report.sample import (
    FAILED,
    HOSTILE_NAMES,
    ILLEGAL_XML_NAME,
    clean_result,
    hostile_result,
)


@pytest.fixture(scope="module")
def workbook_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("xlsx") / "audit.xlsx"
    write_xlsx(hostile_result(), path)
    return path


@pytest.fixture(scope="module")
def wb(workbook_path):
    return load_workbook(workbook_path)


def rows(ws) -> list[dict[str, object]]:
    values = list(ws.iter_rows(values_only=True))
    header = values[0]
    return [dict(zip(header, row, strict=False)) for row in values[1:]]


SHEETS = ["Summary", "Findings", "Evidence", "Waived", "VMs", "Hosts", "Rules", "Errors"]


def test_sheets(wb):
    assert wb.sheetnames == SHEETS


def test_findings_sheet_is_compact_and_numbered(wb):
    result = hostile_result()
    ws = wb["Findings"]
    assert ws.max_column <= 12  # not one column per evidence key
    found = rows(ws)
    assert [r["#"] for r in found] == list(range(1, len(result.findings) + 1))
    for row, f in zip(found, result.findings, strict=True):
        assert row["Entity"] == clean_text(f.entity.name)
        assert row["Severity"] == f.severity.value
        assert row["Rule"] == f.rule and row["Message"] == clean_text(f.message)
        assert row["Fix"] == clean_text(f.remediation.summary)
        assert row["govc"] == (f.remediation.govc and clean_text(f.remediation.govc))
        if f.evidence:
            key, value = next(iter(f.evidence.items()))
            assert row["Key evidence"] == clean_text(
                f"{vs.evidence_label(key) or key}: {evidence_text(value)}"
            )


def test_evidence_sheet_has_every_value_long_form_with_units(wb):
    result = hostile_result()
    evidence = rows(wb["Evidence"])
    assert len(evidence) == sum(len(f.evidence) for f in result.findings)
    findings = rows(wb["Findings"])
    for f_row, f in zip(findings, result.findings, strict=True):
        mine = [r for r in evidence if r["#"] == f_row["#"]]
        assert {r["Property (API path)"] for r in mine} == set(f.evidence)
        for r in mine:
            value = f.evidence[r["Property (API path)"]]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert r["Value"] == value  # a number, not text
    ballooned = next(r for r in evidence if r["Property (API path)"] == vs.VM_BALLOONED.key)
    assert ballooned["Evidence"] == vs.VM_BALLOONED.evidence_label
    assert ballooned["Unit"] == "MB" and isinstance(ballooned["Value"], int)
    compressed = next(r for r in evidence if r["Property (API path)"] == vs.VM_COMPRESSED.key)
    assert compressed["Unit"] == "KB"  # evidence keeps the API's unit


def test_inventory_starts_with_the_frozen_name_and_shows_words(wb):
    for title in ("VMs", "Hosts"):
        ws = wb[title]
        assert ws["A1"].value == vs.VM_NAME.label and ws.freeze_panes == "B2", title
    vms = {r[vs.VM_NAME.label]: r for r in rows(wb["VMs"])}
    assert {r[vs.VM_POWER_STATE.label] for r in vms.values()} <= {
        "Powered on",
        "Powered off",
        "Suspended",
    }
    assert "poweredOn" not in {v for r in vms.values() for v in r.values()}
    assert "guestToolsCurrent" not in {v for r in vms.values() for v in r.values()}
    for row in vms.values():
        assert row[vs.VM_TEMPLATE.label] in ("Yes", "No")
        for label in ("maxmemctl (MB)", vs.VM_TOOLS_VERSION.label):
            assert row[label] is None or isinstance(row[label], int), (label, row[label])


def test_headers_sit_over_their_values_and_name_their_font(wb):
    ws = wb["VMs"]
    header = {c.value: c for c in ws[1]}
    assert header[vs.VM_MEMORY.label].alignment.horizontal == "right"
    assert header[vs.VM_NAME.label].alignment.horizontal == "left"
    for title in wb.sheetnames:
        for row in wb[title].iter_rows(max_row=3):
            for cell in row:
                if cell.font is not None and cell.font.b:
                    assert cell.font.name == "Calibri", (title, cell.coordinate)


def test_every_sheet_prints_a4_landscape_one_page_wide_with_its_header(wb):
    for ws in wb.worksheets:
        assert ws.page_setup.paperSize in (9, "9"), ws.title
        assert ws.page_setup.fitToWidth in (1, "1"), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        expected = "portrait" if ws.title == "Evidence" else "landscape"
        assert ws.page_setup.orientation == expected, ws.title
        if ws.title != "Summary":
            assert ws.print_title_rows in ("1:1", "$1:$1"), ws.title


def test_hostile_names_read_back_exactly_and_stay_text(wb):
    vms = {r["MOID"]: r for r in rows(wb["VMs"])}
    names = {r[vs.VM_NAME.label] for r in vms.values()}
    for name in HOSTILE_NAMES:
        assert name in names, name
    assert clean_text(ILLEGAL_XML_NAME) in names  # control character replaced, rest kept
    assert "bell\ufffdvm" in names
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                assert cell.data_type != "e", (ws.title, cell.coordinate, cell.value)
    formula_like = [c for c in wb["VMs"]["A"] if isinstance(c.value, str) and c.value[0] in "=+-@"]
    assert len(formula_like) == 4
    assert all(c.quotePrefix for c in formula_like)


def test_raw_xml_has_no_formula_element(workbook_path):
    with zipfile.ZipFile(workbook_path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == len(SHEETS)
        for name in sheets:
            xml = archive.read(name).decode("utf-8")
            assert "<f>" not in xml and "<f " not in xml, name
            assert 't="e"' not in xml, name
        styles = archive.read("xl/styles.xml").decode("utf-8")
        assert 'quotePrefix="1"' in styles


def test_numbers_are_numeric_with_mb_formats(wb):
    ws = wb["VMs"]
    header = [c.value for c in ws[1]]
    col = header.index(vs.VM_MEMORY.label) + 1
    cell = ws.cell(row=2, column=col)
    assert cell.value == 4096 and cell.data_type == "n"
    assert cell.number_format == "#,##0"
    compressed = ws.cell(row=3, column=header.index(vs.VM_COMPRESSED.label) + 1)
    assert compressed.value == 1.5 and compressed.number_format == "#,##0.0"
    template = next(r for r in rows(ws) if r[vs.VM_NAME.label] == "powered-off-template")
    assert template[vs.VM_BALLOONED.label] is None  # unknown stays empty, not 0
    assert template[vs.VM_LIMIT.label] == 1024


def test_header_frozen_filtered(wb):
    for title in ("Findings", "Evidence", "VMs", "Hosts", "Rules", "Errors", "Waived"):
        ws = wb[title]
        assert ws.freeze_panes in ("A2", "B2", "C2"), title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), title
        assert ws["A1"].font.b, title
    assert wb["VMs"].auto_filter.ref.endswith(str(len(hostile_result().snapshot.vms) + 1))


def test_summary_errors_rules_and_waived(wb, workbook_path):
    summary = [row for row in wb["Summary"].iter_rows(values_only=True)]
    flat = [v for row in summary for v in row if v is not None]
    assert "2025-03-04 05:06:07 UTC" in flat
    assert any(isinstance(v, str) and "--password ***" in v for v in flat)
    assert not any(isinstance(v, str) and "hunter2" in v for v in flat)
    assert "Findings by severity" in flat and "Findings by rule" in flat
    errors = rows(wb["Errors"])
    assert {"collection", "waiver"} == {r["Kind"] for r in errors}
    assert any(r["Server"] == FAILED and "refused" in r["Problem"] for r in errors)
    rules = {r["Rule"]: r for r in rows(wb["Rules"])}
    assert (
        rules["BA301"]["Checked"] == 12
        and "warning_pct = 10" in rules["BA301"]["Thresholds in force"]
    )
    assert "BA777" in rules
    waived = rows(wb["Waived"])
    assert waived[0]["Waiver reason"] == "DB pins memory <by design>"
    with zipfile.ZipFile(workbook_path) as archive:
        charts = [n for n in archive.namelist() if re.match(r"xl/charts/chart\d+\.xml", n)]
    assert len(charts) == 2


def test_clean_fleet_has_no_waived_sheet_and_empty_findings():
    import io

    wb = load_workbook(io.BytesIO(render_xlsx(clean_result())))
    assert "Waived" not in wb.sheetnames
    assert rows(wb["Findings"]) == []
    assert "Errors" not in wb.sheetnames  # an empty sheet would only print blank pages


def test_long_text_is_cut_to_the_cell_limit():
    assert len(clean_text("x" * 40000)) == 32767


def _chart_xml(workbook_path: Path) -> list[str]:
    with zipfile.ZipFile(workbook_path) as archive:
        names = sorted(n for n in archive.namelist() if re.match(r"xl/charts/chart\d+\.xml", n))
        return [archive.read(n).decode("utf-8") for n in names]


def test_severity_chart_is_one_series_of_three_coloured_bars(workbook_path):
    severity, by_rule = _chart_xml(workbook_path)
    assert severity.count("<ser>") == 1  # not one series per row
    assert severity.count("<dPt>") == 3
    assert by_rule.count("<ser>") == 3
    for chart in (severity, by_rule):
        # Without <delete val="0"/> Excel hides the axes, and with them the labels.
        assert chart.count('<delete val="0"') == 2, chart


def test_charts_never_cover_a_table(wb):
    """Charts sit beside the two-column blocks: no cell right of column B shares their rows."""
    ws = wb["Summary"]
    row_cm = 15 / 72 * 2.54
    assert len(ws._charts) == 2
    for chart in ws._charts:
        top = chart.anchor._from.row + 1
        height_cm = chart.anchor.ext.height / 360_000  # EMU
        bottom = top + int(height_cm / row_cm) + 1
        for row in ws.iter_rows(min_row=top, max_row=bottom, min_col=3):
            assert all(cell.value is None for cell in row), (top, bottom, row)


def test_no_findings_is_said_on_the_summary():
    import io

    wb = load_workbook(io.BytesIO(render_xlsx(clean_result())))
    flat = [v for row in wb["Summary"].iter_rows(values_only=True) for v in row if v]
    assert any(isinstance(v, str) and v.startswith("No findings") for v in flat)


def test_whole_evidence_numbers_show_no_decimals(wb):
    ws = wb["Evidence"]
    header = [c.value for c in ws[1]]
    value_col = header.index("Value") + 1
    cells = [c for c in next(ws.iter_cols(value_col, value_col, 2)) if c.data_type == "n"]
    assert any(c.value == 4096 and c.number_format == "#,##0" for c in cells)
    assert any(c.number_format == "#,##0.0#" for c in cells if c.value % 1)  # fractions kept


def test_columns_are_at_least_as_wide_as_their_headers(wb):
    from openpyxl.utils import get_column_letter

    for title in SHEETS[1:]:
        ws = wb[title]
        for index, cell in enumerate(ws[1], 1):
            width = ws.column_dimensions[get_column_letter(index)].width
            assert width >= min(len(cell.value), 30), (title, cell.value, width)
