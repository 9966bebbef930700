"""The tables' rows written as sheet XML read back exactly as openpyxl's own cells do.

``render_xlsx(result, fast_rows=False)`` writes every cell through openpyxl (the path the
workbook always had); each test renders the same result both ways and compares every
cell's value, type and look, and every sheet's widths, heights, panes, filter and print
setup, read back with openpyxl.
"""

from __future__ import annotations

import io
import math
import subprocess
import zipfile
from copy import copy
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook
from openpyxl.cell.cell import ERROR_CODES

from balloon_audit.engine import evaluate
from balloon_audit.model import AuditResult, Snapshot
from balloon_audit.report import xlsx
from balloon_audit.report.json_result import read_result
from balloon_audit.report.xlsx import MAX_CELL_TEXT, clean_text, render_xlsx
from tests.report.demo import demo_reports, require_tool
from tests.report.sample import (
    GENERATED_AT,
    HOSTILE_NAMES,
    _snapshot,
    _vm,
    hostile_result,
    hostile_snapshot,
)

LONG = "long " * 6600
"""33,000 characters: over Excel's 32,767 per cell."""
HARSH_NAMES = (
    "nul\x00and\x01soh\x0bvt\x0cff\x1fus",
    "  padded  ",
    " ",
    "trailing\n",
    "cr\rinside",
    "]]> not CDATA &amp; not an entity &lt;",
    "TRUE",
    "00123",
    "1e5",
    "=1+1",
    "#REF!",
    "#DIV/0!",
    "\u202eevil-rtl\u202c",
    "e\u0301 combining, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, 🎈🎈",
    LONG,
)


def _look(cell: Any) -> tuple[Any, ...]:
    """A cell's look as values (copies, not proxies into one workbook)."""
    return (
        cell.number_format,
        copy(cell.font),
        copy(cell.fill),
        copy(cell.alignment),
        copy(cell.border),
        copy(cell.protection),
        cell.quotePrefix,
    )


def _cells(data: bytes) -> dict[str, Any]:
    """Everything a reader sees of a workbook, sheet by sheet."""
    wb = load_workbook(io.BytesIO(data))
    seen: dict[str, Any] = {"sheets": wb.sheetnames, "names": sorted(wb.defined_names)}
    looks: dict[int, tuple[Any, ...]] = {}
    for ws in wb.worksheets:
        seen[ws.title] = {
            "cells": [
                [
                    (
                        c.coordinate,
                        c.value,
                        c.data_type,
                        looks.get(c.style_id) or looks.setdefault(c.style_id, _look(c)),
                    )
                    for c in row
                ]
                for row in ws.iter_rows()
            ],
            "heights": {r: d.height for r, d in ws.row_dimensions.items() if d.height},
            "widths": {k: d.width for k, d in ws.column_dimensions.items()},
            "freeze": ws.freeze_panes,
            "filter": ws.auto_filter.ref,
            "titles": ws.print_title_rows,
            "setup": (
                ws.page_setup.orientation,
                ws.page_setup.paperSize,
                ws.page_setup.fitToWidth,
                ws.page_setup.fitToHeight,
                ws.sheet_properties.pageSetUpPr.fitToPage,
                ws.oddFooter.center.text,
            ),
            "charts": len(ws._charts),
        }
    return seen


def assert_same_workbook(result: AuditResult) -> bytes:
    """The fast workbook reads back as the openpyxl one; returns the fast one."""
    fast = render_xlsx(result)
    slow = render_xlsx(result, fast_rows=False)
    fast_seen, slow_seen = _cells(fast), _cells(slow)
    assert fast_seen["sheets"] == slow_seen["sheets"]
    for name in fast_seen["sheets"]:
        f, s = fast_seen[name], slow_seen[name]
        for key in s:
            if key != "cells":
                assert f[key] == s[key], (name, key)
        assert len(f["cells"]) == len(s["cells"]), name
        for fast_row, slow_row in zip(f["cells"], s["cells"], strict=True):
            assert fast_row == slow_row, name
    assert fast_seen["names"] == slow_seen["names"]
    return fast


def harsh_result() -> AuditResult:
    """The real rules over hostile and harsh names (control characters, padding, text
    that looks like numbers, errors or formulas, bidi and astral characters, 33,000
    characters) with long annotations that make tall wrapped rows."""
    snap = hostile_snapshot()
    harsh = [
        _vm(
            200 + i,
            name,
            ballooned_mb=300 + i,
            annotation=f"note {i}\n" * (i + 1) + name,
            memory_limit_mb=2**40 if i == 0 else None,
            compressed_mb=0.1 + 0.2,
        )
        for i, name in enumerate(HARSH_NAMES)
    ]
    snap = _snapshot([*snap.vms, *harsh])
    return evaluate(
        Snapshot(snap.sources, snap.clusters, snap.hosts, snap.vms),
        generated_at=GENERATED_AT,
        run_by={"user": "t", "host": "h", "command": "balloon-audit scan"},
    )


def test_demo_fleet_reads_back_as_openpyxl_wrote_it(tmp_path):
    """The demo fleet (cassettes/demo.yaml) as the command line audits it, as the second
    run of its history (so with the Changes sheet and the findings' history columns)."""
    result = read_result(demo_reports(tmp_path)["json"])
    assert len(result.findings) > 50 and result.changes is not None
    data = assert_same_workbook(result)
    first_seen = load_workbook(io.BytesIO(data))["Changes"]["M2"]
    assert isinstance(first_seen.value, datetime) and first_seen.number_format == "yyyy-mm-dd"


def test_hostile_sample_reads_back_as_openpyxl_wrote_it():
    assert_same_workbook(hostile_result())


def test_harsh_names_through_the_real_rules_read_back_as_openpyxl_wrote_them():
    data = assert_same_workbook(harsh_result())
    vms = load_workbook(io.BytesIO(data))["VMs"]
    names = [c.value for c in vms["A"][1:]]
    for name in HARSH_NAMES + HOSTILE_NAMES:
        # XML readers turn a raw CR into LF: openpyxl's own cells always did the same.
        assert clean_text(name).replace("\r", "\n") in names, name[:40]
    assert "nul\ufffdand\ufffdsoh\ufffdvt\ufffdff\ufffdus" in names
    longest = max(names, key=len)
    assert len(longest) == MAX_CELL_TEXT and longest.endswith("…")
    for cell in vms["A"][1:]:
        assert cell.data_type == "s", cell.value[:40]
        risky = cell.value.startswith(xlsx.RISKY_PREFIXES) or cell.value in ERROR_CODES
        assert bool(cell.quotePrefix) == risky, cell.value[:40]


def test_every_value_type_in_a_table_reads_back_as_openpyxl_wrote_it():
    """Values the rules do not produce today but a table may hold: dates, booleans,
    NaN, huge and negative numbers, nested evidence, unknown severities, empty text."""
    columns = [
        xlsx.Column("Severity", 10, severity=True),
        xlsx.Column("Text", 20, wrap=True),
        xlsx.Column("Plain", 12),
        xlsx.Column("Count", 10, xlsx.INT_FORMAT),
        xlsx.Column("Evidence", 16, xlsx.AUTO_FORMAT, numeric=True),
        xlsx.Column("Day", 12),
    ]
    rows = [
        ["critical", "short", "x", 1, 2.5, datetime(2025, 3, 4)],
        ["warning", "line\n" * 9, True, -3, 7.0, datetime(1900, 1, 1, 12, 30)],
        ["info", None, False, 2**60, math.nan, None],
        ["unknown", "=SUM(A1)", {"k": ["<v>", 1]}, 0.1 + 0.2, -0.0, datetime(2099, 12, 31)],
        [None, "", "", None, 10**20, datetime(2025, 1, 1, 0, 0, 1)],
        ["=cmd", "@x" * 200, "#N/A", 1.5, True, "2025-01-01"],
        ["short row"],
    ]

    def render(fast: bool) -> bytes:
        wb = xlsx._Workbook(fast)
        ws = wb.create_sheet("Table")
        count = xlsx._table(ws, columns, rows)
        assert count == len(rows)
        buffer = io.BytesIO()
        wb.save(buffer)
        return xlsx.splice(buffer.getvalue(), wb.sheet_rows) if fast else buffer.getvalue()

    fast, slow = _cells(render(True)), _cells(render(False))
    assert fast == slow
    day = fast["Table"]["cells"][1][5]
    assert day[1] == datetime(2025, 3, 4) and day[3][0] == xlsx.DATE_FORMAT


def test_rows_stream_to_disk_and_the_package_stays_valid():
    data = render_xlsx(hostile_result())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = archive.read(name)
                assert xml.count(b"<sheetData>") == 1 and xml.count(b"</sheetData>") == 1


@pytest.mark.parametrize("fast", [True, False])
def test_characters_xml_forbids_beyond_control_characters_are_replaced(fast):
    """U+FFFE and U+FFFF (valid in a JSON result fed to `report`) and a lone surrogate
    (a program's own result) would make a sheet part that no XML reader accepts."""
    names = ["nonchar-\uffff-\ufffe", "lone-\udc80-surrogate"]
    result = evaluate(
        _snapshot([_vm(i, name, ballooned_mb=900) for i, name in enumerate(names)]),
        generated_at=GENERATED_AT,
        run_by={"user": "t", "host": "h", "command": "c"},
    )
    data = render_xlsx(result, fast_rows=fast)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for part in archive.namelist():
            if part.endswith(".xml"):
                ElementTree.fromstring(archive.read(part))  # raises on a bad character
    shown = [c.value for c in load_workbook(io.BytesIO(data))["VMs"]["A"][1:]]
    assert "nonchar-\ufffd-\ufffd" in shown and "lone-\ufffd-surrogate" in shown


@pytest.mark.parametrize("vms", [0, 1])
def test_empty_and_tiny_fleets(vms):
    snap = _snapshot([_vm(i, f"vm-{i}") for i in range(vms)])
    result = evaluate(
        Snapshot(snap.sources[:1], snap.clusters, snap.hosts, snap.vms),
        generated_at=GENERATED_AT,
        run_by={"user": "t", "host": "h", "command": "c"},
    )
    assert_same_workbook(result)


@pytest.mark.browser
def test_libreoffice_reads_the_fast_workbook_as_it_reads_openpyxl_cells(tmp_path):
    """A real LibreOffice opens both workbooks (no repair, nothing dropped) and saves what
    it read: the two copies hold the same values, and hostile names stay text."""
    soffice = require_tool("soffice", "libreoffice", package="libreoffice-calc-nogui")
    result = harsh_result()
    (tmp_path / "fast.xlsx").write_bytes(render_xlsx(result))
    (tmp_path / "slow.xlsx").write_bytes(render_xlsx(result, fast_rows=False))
    out = tmp_path / "out"
    subprocess.run(
        [
            soffice,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(out),
            str(tmp_path / "fast.xlsx"),
            str(tmp_path / "slow.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    fast, slow = (load_workbook(out / f"{kind}.xlsx") for kind in ("fast", "slow"))
    assert fast.sheetnames == slow.sheetnames == render_sheetnames(result)
    for ws in slow.worksheets:
        read = [[(c.value, c.data_type, c.number_format) for c in row] for row in ws.iter_rows()]
        again = [[(c.value, c.data_type, c.number_format) for c in row] for row in fast[ws.title]]
        assert read == again, ws.title
    names = {c.value for c in fast["VMs"]["A"][1:]}
    assert HOSTILE_NAMES[3] in names and "=1+1" in names and "#REF!" in names
    assert all(c.data_type == "s" for c in fast["VMs"]["A"][1:])


def render_sheetnames(result: AuditResult) -> list[str]:
    return load_workbook(io.BytesIO(render_xlsx(result)), read_only=True).sheetnames
