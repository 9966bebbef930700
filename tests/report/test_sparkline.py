"""Sparklines: Unicode blocks for the terminal and inline SVG for HTML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from balloon_audit.report.sparkline import BLOCKS, downsample, svg_sparkline, text_sparkline

SVG = "{http://www.w3.org/2000/svg}"


def test_empty_and_all_missing() -> None:
    assert text_sparkline([]) == ""
    assert text_sparkline([None, None, None]) == "   "
    assert text_sparkline([None] * 100, width=10) == " " * 10


def test_rising_series_uses_the_whole_scale() -> None:
    assert text_sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == BLOCKS
    assert text_sparkline([70, 10]) == "█▁"


def test_gaps_stay_gaps() -> None:
    assert text_sparkline([0, None, 7, None]) == "▁ █ "


@pytest.mark.parametrize(
    ("values", "drawn"),
    [([0, 0, 0], "▁▁▁"), ([512.5, 512.5], "▄▄"), ([3], "▄"), ([0], "▁"), ([None, 5, None], " ▄ ")],
)
def test_flat_series_are_drawn_flat(values: list[float | None], drawn: str) -> None:
    assert text_sparkline(values) == drawn


def test_more_values_than_width_keep_each_buckets_maximum() -> None:
    values: list[float | None] = [0.0] * 180
    values[97] = 50.0  # one spike of 20 s in an hour
    line = text_sparkline(values, width=30)
    assert len(line) == 30
    assert line.count("█") == 1 and line.index("█") == 97 * 30 // 180
    assert set(line) == {"▁", "█"}
    assert downsample([1, None, None, None, 2, 3], 3) == [1, None, 3]
    assert downsample([1, 2], 0) == []


def test_svg_is_well_formed_and_drawn_in_runs() -> None:
    svg = svg_sparkline([1, 2, None, 5, None, 3, 4, 2], title="Ballooned: 1 – 5 MB")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("class") == "spark"
    assert (root.get("width"), root.get("height")) == ("160", "28")
    assert root.find(f"{SVG}title").text == "Ballooned: 1 – 5 MB"  # type: ignore[union-attr]
    lines = root.findall(f"{SVG}polyline")
    dots = root.findall(f"{SVG}circle")
    assert [len(p.get("points", "").split()) for p in lines] == [2, 3]
    assert len(dots) == 1  # the lone 5 between two gaps
    for line in lines:
        for pair in line.get("points", "").split():
            x, y = (float(n) for n in pair.split(","))
            assert 0 <= x <= 160 and 0 <= y <= 28
    assert "script" not in svg.lower()


def test_svg_scales_top_to_bottom() -> None:
    root = ET.fromstring(svg_sparkline([0, 10], width=100, height=20))
    (line,) = root.findall(f"{SVG}polyline")
    (x0, y0), (x1, y1) = (tuple(map(float, p.split(","))) for p in line.get("points", "").split())
    assert (x0, y0) == (2.0, 18.0) and (x1, y1) == (98.0, 2.0)  # low left, high right


def test_svg_title_is_escaped() -> None:
    title = 'VM "<script>alert(1)</script>" & co'
    svg = svg_sparkline([1, 2], title=title)
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == title  # type: ignore[union-attr]
    assert root.get("aria-label") == title


def test_svg_empty_flat_and_long() -> None:
    empty = ET.fromstring(svg_sparkline([None, None]))
    assert list(empty) == []  # no title, no shapes
    flat = ET.fromstring(svg_sparkline([7, 7, 7], height=28))
    ys = {p.split(",")[1] for p in flat.find(f"{SVG}polyline").get("points", "").split()}  # type: ignore[union-attr]
    assert ys == {"14.0"}
    long = ET.fromstring(svg_sparkline(list(range(1000)), width=60))
    (line,) = long.findall(f"{SVG}polyline")
    assert len(line.get("points", "").split()) == 56  # one point per pixel inside the padding
