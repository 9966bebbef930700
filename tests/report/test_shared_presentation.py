"""One presentation layer: the HTML table, the workbook and BA103 say the same about a VM."""

from __future__ import annotations

import io
import re
from html import unescape

from openpyxl import load_workbook
from rich.console import Console

from balloon_audit import vsphere as vs
from balloon_audit.engine import evaluate
from balloon_audit.formatting import tools_status_text
from balloon_audit.report.console import render_console
from balloon_audit.report.html import render_html
from balloon_audit.report.presentation import TOOLS_COLUMN
from balloon_audit.report.words import enum_word
from balloon_audit.report.xlsx import render_xlsx
from balloon_audit.summary import FLEET_LABELS, fleet_totals
from tests.factories import make_vm, snapshot


def _legacy_server_vm():
    """A server without toolsVersionStatus2: the deprecated fields disagree with each other."""
    return make_vm(
        name="legacy-tools-01",
        tools_version_status2=None,
        tools_version_status="guestToolsNeedUpgrade",
        tools_status="toolsOld",
    )


def _html_cells(html: str, table: str, name: str) -> dict[str, str]:
    section = html.split(f"id={table}>", 1)[1].split("</table>", 1)[0]
    headers = [unescape(h) for h in re.findall(r"<th(?:\s[^>]*)?>([^<]*)", section)]
    row = next(r for r in section.split("<tr>") if f"<td>{name}" in r)
    cells = [unescape(re.sub(r"<[^>]+>", "", c)) for c in row.split("<td")[1:]]
    cells = [c.split(">", 1)[1] if ">" in c else c for c in cells]
    return dict(zip(headers, cells, strict=False))


def test_html_table_xlsx_and_ba103_show_the_same_tools_status() -> None:
    vm = _legacy_server_vm()
    result = evaluate(snapshot(vm, make_vm()))
    expected = tools_status_text(vm)
    assert expected == "guestToolsNeedUpgrade"

    [ba103] = [f for f in result.findings if f.rule == "BA103"]
    assert expected in ba103.message

    cells = _html_cells(render_html(result), "vmtab", vm.name)
    # In words, and from toolsVersionStatus2's fallback, not the older toolsStatus ("Old").
    assert cells[TOOLS_COLUMN] == enum_word(expected) == "Upgrade available"

    ws = load_workbook(io.BytesIO(render_xlsx(result)))["VMs"]
    rows = list(ws.iter_rows(values_only=True))
    row = dict(zip(rows[0], next(r for r in rows[1:] if vm.name in r), strict=False))
    assert row[TOOLS_COLUMN] == enum_word(expected) == "Upgrade available"  # words, not enums
    assert row[vs.VM_TOOLS_STATUS.label] == "Old"  # the deprecated field is still there


def test_inventory_headers_are_the_table_labels() -> None:
    result = evaluate(snapshot(make_vm(name="web01", ballooned_mb=512)))
    cells = _html_cells(render_html(result), "vmtab", "web01")
    assert cells[vs.VM_BALLOONED.label] == "512"
    assert cells[vs.VM_MEMORY.label] == "4,096"
    header = next(load_workbook(io.BytesIO(render_xlsx(result)))["VMs"].iter_rows(values_only=True))
    assert vs.VM_BALLOONED.label in header and "ballooned_mb" not in header


def test_fleet_totals_have_one_label_each_in_every_output() -> None:
    result = evaluate(snapshot(make_vm(ballooned_mb=512)))
    assert set(FLEET_LABELS) == set(fleet_totals(result.snapshot))
    html = unescape(render_html(result))
    summary = load_workbook(io.BytesIO(render_xlsx(result)))["Summary"]
    first_column = {r[0] for r in summary.iter_rows(values_only=True) if r}
    console = Console(record=True, width=400)
    render_console(result, console)
    terminal = console.export_text()
    for key in ("ballooned_mb", "swapped_mb", "configured_mb", "vms_ballooning"):
        assert FLEET_LABELS[key] in html
        assert FLEET_LABELS[key] in first_column
        assert FLEET_LABELS[key] in terminal
    assert f"{FLEET_LABELS['ballooned_mb']}: 512" in terminal
