"""The terminal summary of the demo fleet at the widths people use: 80, 100, 120, 160 columns."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from openpyxl import load_workbook
from rich.console import Console

from balloon_audit.model import Severity, SourceStatus
from balloon_audit.report import presentation as p
from balloon_audit.report.console import first_sentence, render_console
from balloon_audit.report.html import render_html
from balloon_audit.report.json_result import read_result
from balloon_audit.report.xlsx import render_xlsx
from tests.report.demo import demo_reports

MAX_LINES = {80: 340, 100: 280, 120: 260, 160: 230}
"""Upper bounds for the demo (74 findings, 20 rules). Before the grouped layout the demo took
287, 245, 554 (!) and 262 lines; now about 316, 260, 239 and 206, with the advice once per rule."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return read_result(demo_reports(tmp_path_factory.mktemp("console"))["json"])


def render(result, width: int, **options) -> list[str]:
    out = io.StringIO()
    render_console(
        result, Console(file=out, width=width, highlight=False, color_system=None), **options
    )
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", sorted(MAX_LINES))
def test_every_width_fits_and_stays_short(demo, width):
    lines = render(demo, width)
    print(f"{width} columns: {len(lines)} lines")
    assert max(len(line) for line in lines) <= width
    assert len(lines) <= MAX_LINES[width]


def test_wider_never_takes_more_lines(demo):
    counts = [len(render(demo, width)) for width in sorted(MAX_LINES)]
    assert counts == sorted(counts, reverse=True), counts


def test_findings_are_grouped_by_rule_with_the_advice_once(demo):
    text = "\n".join(render(demo, 120))
    groups = p.group_findings(demo)
    headings = re.findall(r"^(CRITICAL|WARNING|INFO) (BA\d{3}) ", text, re.M)
    assert [rule for _, rule in headings] == [g.rule for g in groups]  # worst first, once each
    for g in groups:
        advice = " ".join(first_sentence(g.summary, 2 * (120 - 9)).split())
        assert " ".join(text.split()).count(advice) == 1, g.rule
    for f in demo.findings:
        assert f.entity.name in text


def test_min_severity_shortens_the_listing_only(demo):
    full = render(demo, 100)
    warnings_up = render(demo, 100, min_severity=Severity.WARNING)
    infos = sum(1 for f in demo.findings if f.severity is Severity.INFO)
    assert len(warnings_up) < len(full)
    assert not any(line.startswith("info ") for line in warnings_up)
    assert any(f"{infos} findings below warning not listed" in line for line in warnings_up)
    # The totals still count every finding.
    assert any(f"{infos} info" in line for line in warnings_up)


def test_summary_is_the_totals_only(demo):
    lines = render(demo, 100, summary_only=True)
    text = "\n".join(lines)
    assert "Findings:" in text and "Fleet" in text
    assert not re.search(r"^(CRITICAL|WARNING|INFO) BA\d{3}", text, re.M)
    assert len(lines) < 15


def _failed(demo):
    failed = tuple(
        dataclasses.replace(s, status=SourceStatus.FAILED, error="connection refused")
        for s in demo.sources
    )
    snapshot = dataclasses.replace(demo.snapshot, vms=(), hosts=(), sources=failed)
    return dataclasses.replace(demo, snapshot=snapshot, findings=())


def test_a_failed_run_says_no_data_not_zero_totals(demo):
    failed = _failed(demo)
    text = "\n".join(render(failed, 100))
    assert "No data" in text
    assert "Fleet" not in text and "0 MB" not in text
    html = render_html(failed)
    assert "<b>No data</b>" in html and "No findings" not in html
    summary = load_workbook(io.BytesIO(render_xlsx(failed)))["Summary"]
    cells = [str(c) for row in summary.iter_rows(values_only=True) for c in row if c is not None]
    assert any(c.startswith("No data") for c in cells)
    assert "Hosts connected" not in cells  # no zero totals
