"""The Excel workbook, read back with openpyxl and as raw XML: no formula can run."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from balloon_audit import vsphere as vs
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


def test_sheets(wb):
    assert wb.sheetnames == ["Summary", "Findings", "Waived", "VMs", "Hosts", "Rules", "Errors"]


def test_one_row_per_finding_with_numbers_as_numbers(wb):
    result = hostile_result()
    found = rows(wb["Findings"])
    assert len(found) == len(result.findings)
    by_moid = {r["MOID"]: r for r in found if r["Rule"] == "BA301"}
    for f in result.findings:
        if f.rule != "BA301":
            continue
        row = by_moid[f.entity.moid]
        assert row["Entity"] == f.entity.name
        assert row["Severity"] == f.severity.value
        # Evidence columns are headed by the property's label (vsphere.py), not its path.
        assert row[vs.VM_BALLOONED.evidence_label] == f.evidence[vs.VM_BALLOONED.key]
        assert isinstance(row[vs.VM_BALLOONED.evidence_label], int)
        assert row["govc"] == f.remediation.govc
    # A text evidence value gets no numeric column.
    assert "note" not in found[0]


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
    formula_like = [c for c in wb["VMs"]["B"] if isinstance(c.value, str) and c.value[0] in "=+-@"]
    assert len(formula_like) == 4
    assert all(c.quotePrefix for c in formula_like)


def test_raw_xml_has_no_formula_element(workbook_path):
    with zipfile.ZipFile(workbook_path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 7
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
    for title in ("Findings", "VMs", "Hosts", "Rules", "Errors", "Waived"):
        ws = wb[title]
        assert ws.freeze_panes in ("A2", "B2"), title
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
    assert rows(wb["Errors"]) == []


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
    ws = wb["Findings"]
    header = [c.value for c in ws[1]]
    memory = ws.cell(row=2, column=header.index(vs.VM_MEMORY.evidence_label) + 1)
    assert memory.value == 4096 and memory.number_format == "#,##0"
    compressed_col = header.index(vs.VM_COMPRESSED.evidence_label) + 1
    formats = {c.number_format for c in ws.iter_cols(compressed_col, compressed_col, 2).__next__()}
    assert "#,##0.0#" in formats  # 1.5 MB keeps its fraction


def test_columns_are_at_least_as_wide_as_their_headers(wb):
    from openpyxl.utils import get_column_letter

    for title in ("Findings", "VMs", "Hosts", "Rules", "Errors", "Waived"):
        ws = wb[title]
        for index, cell in enumerate(ws[1], 1):
            width = ws.column_dimensions[get_column_letter(index)].width
            assert width >= min(len(cell.value), 30), (title, cell.value, width)
