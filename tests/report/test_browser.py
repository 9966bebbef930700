"""The HTML report in a real headless Chromium: loads cleanly, sorts, filters, copies, prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
    index = header_index(page, "vmtab", "Ballooned")
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
