"""The demo report's layout measured in a real Chromium: a phone, a wide screen, and paper.

Geometry comes from the browser (DevTools): every line of text is a box, and no two boxes
of different text may overlap, no text may spill out of its table cell, and the page never
scrolls sideways. Screenshots and the PDF are kept in the test's temporary directory
(``pytest --basetemp=DIR`` keeps them somewhere known, e.g. as CI artifacts).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.report.browser import Browser, require_chromium
from tests.report.demo import demo_reports

pytestmark = pytest.mark.browser

MAX_PRINT_PAGES = 19
"""The demo report prints on 18-19 A4 landscape pages (it was 63)."""

A4_PRINTABLE_PX = (1047, 718)
"""A4 landscape less the report's 10 mm margins, in CSS pixels."""

# Layout is computed lazily for off-screen parts (content-visibility: auto); measure all of it.
SHOW_ALL = (
    "document.head.insertAdjacentHTML('beforeend', '<style>.group, #vms, #hosts"
    " { content-visibility: visible !important; }</style>')"
)

TEXT_BOXES = """(() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let index = 0;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.data.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const cell = node.parentElement.closest('td, th');
    const c = cell ? cell.getBoundingClientRect() : null;
    for (const b of range.getClientRects()) {
      if (b.width < 1 || b.height < 1) continue;
      out.push({i: index, l: b.left, t: b.top, r: b.right, b: b.bottom,
                text: node.data.trim().slice(0, 40),
                cell: c && [c.left, c.top, c.right, c.bottom]});
    }
    index++;
  }
  return out;
})()"""


def overlaps(boxes: list[dict]) -> list[tuple[str, str]]:
    """Pairs of text from different nodes whose line boxes cross by more than 2 px each way."""
    found = []
    ordered = sorted(boxes, key=lambda b: b["t"])
    for n, a in enumerate(ordered):
        for b in ordered[n + 1 :]:
            if b["t"] >= a["b"] - 2:
                break
            if a["i"] == b["i"]:
                continue
            if min(a["r"], b["r"]) - max(a["l"], b["l"]) > 2 and min(a["b"], b["b"]) - b["t"] > 2:
                found.append((a["text"], b["text"]))
    return found


def spills(boxes: list[dict]) -> list[str]:
    """Text that reaches outside its table cell (a header printed over its neighbour)."""
    return [
        b["text"]
        for b in boxes
        if b["cell"] and (b["l"] < b["cell"][0] - 1 or b["r"] > b["cell"][2] + 1)
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return demo_reports(tmp_path_factory.mktemp("demo-html"))["html"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = Browser(require_chromium())
    yield chromium
    chromium.close()


def _open_at(browser: Browser, report: Path, width: int, media: str = "") -> None:
    browser.open(report)
    browser.send("Emulation.setEmulatedMedia", media=media)
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=900,
        deviceScaleFactor=1,
        mobile=width < 500,
    )
    browser.evaluate(SHOW_ALL)


def _keep_screenshot(slices: list[bytes], stem: Path) -> Path:
    """The whole page's PNG slices as ``stem-1.png``, ``stem-2.png`` …; returns the first."""
    for n, png in enumerate(slices, 1):
        stem.with_name(f"{stem.name}-{n}.png").write_bytes(png)
    return stem.with_name(f"{stem.name}-1.png")


def _first_findings(browser: Browser, path: Path, width: int) -> None:
    """A screen-sized picture of the first finding group (the part people look at)."""
    top = browser.evaluate(
        "document.querySelector('article.group').getBoundingClientRect().top + scrollY"
    )
    reply = browser.send(
        "Page.captureScreenshot",
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": top, "width": width, "height": 1600, "scale": 1},
    )
    path.write_bytes(base64.b64decode(reply["data"]))


def _reset(browser: Browser) -> None:
    browser.send("Emulation.clearDeviceMetricsOverride")
    browser.send("Emulation.setEmulatedMedia", media="")


@pytest.mark.parametrize("width", [360, 420, 1400])
def test_screen_layout_has_no_overlap_and_no_sideways_scroll(browser, demo, width, tmp_path):
    _open_at(browser, demo, width)
    try:
        sideways = browser.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        boxes = browser.evaluate(TEXT_BOXES)
        label_px = browser.evaluate(
            "Math.min(...Array.from(document.querySelectorAll('.bar .l'))"
            ".map(e => parseFloat(getComputedStyle(e).fontSize)))"
        )
        names = browser.evaluate(
            "Array.from(document.querySelectorAll('.fx td:nth-child(2) b')).map(b => {"
            " const r = document.createRange(); r.selectNodeContents(b);"
            " const lines = Array.from(r.getClientRects());"
            " const width = lines.reduce((sum, x) => sum + x.width, 0);"
            " return [b.textContent, lines.length,"
            "         Math.ceil(width / b.parentElement.clientWidth)]; })"
        )
        shot = _keep_screenshot(browser.screenshot(width), tmp_path / f"report-{width}px")
        _first_findings(browser, tmp_path / f"report-{width}px-findings.png", width)
    finally:
        _reset(browser)
    print(f"screenshot: {shot}")
    assert sideways <= 0
    assert len(boxes) > 1000
    assert overlaps(boxes) == []
    assert spills(boxes) == []
    assert label_px >= 11  # chart labels keep the page's text size
    # Names wrap only where they have a break of their own (or not at all).
    # A name too long for the line breaks anywhere, but only as often as it must.
    for name, lines, needed in names:
        assert lines <= max(1 + len(re.findall(r"[\s\-_./]", name)), needed + 1), name


def test_narrow_screens_show_findings_as_cards(browser, demo):
    _open_at(browser, demo, 420)
    try:
        display = browser.evaluate(
            "[getComputedStyle(document.querySelector('.fx thead')).display,"
            " getComputedStyle(document.querySelector('.fx tbody tr')).display]"
        )
        widths = browser.evaluate(
            "Array.from(document.querySelectorAll('.fx tbody tr')).slice(0, 5)"
            ".map(tr => Math.round(tr.getBoundingClientRect().width))"
        )
    finally:
        _reset(browser)
    assert display == ["none", "block"]
    assert min(widths) > 300  # a card spans the screen


def test_print_is_few_pages_and_never_splits_a_word(browser, demo, tmp_path):
    width, height = A4_PRINTABLE_PX
    browser.open(demo)
    reply = browser.send("Page.printToPDF", printBackground=True, preferCSSPageSize=True)
    pdf = base64.b64decode(reply["data"])
    (tmp_path / "report.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    print(f"demo report: {pages} A4 pages; PDF: {tmp_path / 'report.pdf'}")
    _open_at(browser, demo, width, media="print")
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=height,
        deviceScaleFactor=1,
        mobile=False,
    )
    try:
        # Every word (or part between hyphens) of a table cell sits on one line, unless it is
        # wider than the cell itself.
        split = browser.evaluate(
            """(() => { const bad = [];
            for (const td of document.querySelectorAll('td')) {
              const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
              while (walker.nextNode()) {
                const node = walker.currentNode;
                if (node.parentElement.closest('code')) continue;  // commands may wrap
                for (const m of node.data.matchAll(/[^\\s\\-]+-?/g)) {
                  const r = document.createRange();
                  r.setStart(node, m.index); r.setEnd(node, m.index + m[0].length);
                  const rects = Array.from(r.getClientRects());
                  const lines = new Set(rects.map(b => Math.round(b.top)));
                  const wide = rects.reduce((sum, b) => sum + b.width, 0) > td.clientWidth - 4;
                  if (lines.size > 1 && !wide) bad.push(m[0]);  // split though it would fit
                }
              }
            }
            return bad; })()"""
        )
        boxes = browser.evaluate(TEXT_BOXES)
        groups_starting_a_page = browser.evaluate(
            "Array.from(document.querySelectorAll('article.group'))"
            ".filter(g => ['page', 'always', 'left', 'right'].includes("
            "getComputedStyle(g).breakBefore)).length"
        )
        _keep_screenshot(browser.screenshot(width), tmp_path / "report-print")
    finally:
        _reset(browser)
    assert pages <= MAX_PRINT_PAGES
    assert split == [], split[:20]
    assert overlaps(boxes) == []
    assert groups_starting_a_page == 0
