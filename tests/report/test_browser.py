"""The HTML report in a real headless Chromium: loads cleanly, sorts, filters, copies, prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from balloon_audit import vsphere as vs
from balloon_audit.report.html import write_html
from tests.report.browser import Browser, require_chromium
from tests.report.sample import clean_result, hostile_result

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = Browser(require_chromium())
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "audit.html"
    write_html(hostile_result(), path)
    return path


@pytest.fixture()
def page(browser: Browser, report: Path) -> Browser:
    browser.open(report)
    return browser


def column(page: Browser, table: str, index: int) -> list[str]:
    return page.evaluate(
        f"Array.from(document.querySelectorAll('#{table} tbody tr'))"
        f".filter(r => !r.hidden).map(r => r.cells[{index}].textContent.trim())"
    )


def header_index(page: Browser, table: str, label: str) -> int:
    return page.evaluate(
        f"Array.from(document.querySelectorAll('#{table} thead th'))"
        f".findIndex(th => th.textContent.trim() === {label!r})"
    )


def click_header(page: Browser, table: str, index: int) -> None:
    page.evaluate(f"document.querySelectorAll('#{table} thead th')[{index}].click()")


def test_loads_without_errors_and_nothing_injected(page: Browser):
    assert page.errors() == []
    assert page.evaluate("document.querySelectorAll('script').length") == 1
    assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert not [e for e in page.events if e["method"] == "Page.javascriptDialogOpening"]
    buttons = page.evaluate("document.querySelectorAll('div.cmd > button.cp').length")
    assert buttons == page.evaluate("document.querySelectorAll('div.cmd').length") > 0
    names = page.evaluate(
        "Array.from(document.querySelectorAll('#vmtab tbody tr td:first-child'))"
        ".map(td => td.textContent)"
    )
    assert "<script>alert(1)</script>" in names
    assert '"><img src=x onerror=alert(1)>' in names


def test_sorting_is_numeric_aware(page: Browser):
    index = header_index(page, "vmtab", vs.VM_BALLOONED.label)
    assert index > 0
    click_header(page, "vmtab", index)
    values = column(page, "vmtab", index)
    numbers = [float(v.replace(",", "")) for v in values if v not in ("", "—")]
    assert numbers == sorted(numbers) and numbers[-1] >= 1000  # 1,100 sorts after 200
    assert values[-1] == "—"  # unknown (template) last
    click_header(page, "vmtab", index)
    values = column(page, "vmtab", index)
    numbers = [float(v.replace(",", "")) for v in values if v not in ("", "—")]
    assert numbers == sorted(numbers, reverse=True)
    assert values[-1] == "—"  # unknown stays last when descending too
    sort_state = page.evaluate(
        f"document.querySelectorAll('#vmtab thead th')[{index}].getAttribute('aria-sort')"
    )
    assert sort_state == "descending"


def test_sorting_text_column(page: Browser):
    click_header(page, "vmtab", 0)
    names = column(page, "vmtab", 0)
    assert len(names) == len(hostile_result().snapshot.vms)
    lowered = [n.lower() for n in names if n[:1].isalpha()]
    assert lowered == sorted(lowered)


def test_filtering(page: Browser):
    page.evaluate(
        "(() => { const i = document.querySelector('input[data-table=vmtab]');"
        " i.value = 'hyperlink evil'; i.dispatchEvent(new Event('input')); })()"
    )
    page.evaluate("new Promise(r => setTimeout(r, 300))")
    visible = column(page, "vmtab", 0)
    assert visible == ['=HYPERLINK("http://evil.example/x","click")']
    total = len(hostile_result().snapshot.vms)
    assert page.evaluate("document.getElementById('vmtab-n').textContent") == f"1 of {total} VMs"
    page.evaluate(
        "(() => { const i = document.querySelector('input[data-table=vmtab]');"
        " i.value = ''; i.dispatchEvent(new Event('input')); })()"
    )
    page.evaluate("new Promise(r => setTimeout(r, 300))")
    assert len(column(page, "vmtab", 0)) == total


def test_copy_button_works_or_falls_back_without_error(page: Browser):
    page.evaluate("document.querySelector('button.cp').click()")
    # The async clipboard API settles later (or rejects in a headless page: then the fallback).
    page.evaluate("new Promise(r => setTimeout(r, 300))")
    label = page.evaluate("document.querySelector('button.cp').textContent")
    assert label in ("Copied", "Press Ctrl+C")
    assert page.errors() == []


def test_print_hides_controls_and_makes_a_pdf(page: Browser):
    page.send("Emulation.setEmulatedMedia", media="print")
    try:
        hidden = page.evaluate(
            "['input.flt', 'button.cp', 'nav'].map(s => getComputedStyle(document.querySelector(s))"
            ".display)"
        )
        assert hidden == ["none", "none", "none"]
        assert page.evaluate(
            "getComputedStyle(document.querySelector('tbody tr')).breakInside"
        ) in (
            "avoid",
            "avoid-page",
        )
    finally:
        page.send("Emulation.setEmulatedMedia", media="")
    pdf = page.print_pdf()
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


def test_clean_report_loads_without_errors(browser: Browser, tmp_path: Path):
    path = tmp_path / "clean.html"
    write_html(clean_result(), path)
    browser.open(path)
    assert browser.errors() == []
    assert "No findings." in browser.evaluate("document.getElementById('findings').textContent")


A4_LANDSCAPE_PX = (1047, 718)
"""The printable area of A4 landscape with the report's 10 mm margins, in CSS pixels."""


def test_printed_tables_fit_the_page(page: Browser):
    """No column is cut off at the right edge, and no row is taller than a page."""
    width, height = A4_LANDSCAPE_PX
    page.send("Emulation.setEmulatedMedia", media="print")
    page.send(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=height,
        deviceScaleFactor=1,
        mobile=False,
    )
    try:
        too_wide = page.evaluate(
            "Array.from(document.querySelectorAll('table'))"
            ".filter(t => t.getBoundingClientRect().width > t.parentElement.clientWidth + 1)"
            ".map(t => t.id || t.className)"
        )
        tallest = page.evaluate(
            "Math.max(...Array.from(document.querySelectorAll('tbody tr'))"
            ".map(r => r.getBoundingClientRect().height))"
        )
    finally:
        page.send("Emulation.clearDeviceMetricsOverride")
        page.send("Emulation.setEmulatedMedia", media="")
    assert too_wide == []
    assert tallest < height


def test_no_sideways_scrolling_on_a_narrow_window(page: Browser):
    page.send(
        "Emulation.setDeviceMetricsOverride",
        width=800,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    try:
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    finally:
        page.send("Emulation.clearDeviceMetricsOverride")
    assert overflow <= 0  # wide tables scroll inside their own box


def test_rules_sort_by_severity_rank(page: Browser):
    index = header_index(page, "ruletab", "Max severity")
    click_header(page, "ruletab", index)
    ranks = page.evaluate(
        f"Array.from(document.querySelectorAll('#ruletab tbody tr'))"
        f".map(r => Number(r.cells[{index}].getAttribute('data-v')))"
    )
    assert ranks == sorted(ranks) and ranks[0] == -1  # the unknown rule's severity first


def test_a_lone_chart_keeps_its_text_size(browser: Browser, tmp_path: Path):
    """With one chart (a clean fleet) the chart must not stretch its text to the full width."""
    path = tmp_path / "clean.html"
    write_html(clean_result(), path)
    browser.open(path)
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        width=1400,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    try:
        assert browser.evaluate("document.querySelectorAll('figure.chart').length") == 1
        label_height = browser.evaluate(
            "document.querySelector('figure.chart .bar .l').getBoundingClientRect().height"
        )
    finally:
        browser.send("Emulation.clearDeviceMetricsOverride")
    assert label_height < 20
