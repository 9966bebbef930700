"""Both reports for findings made by the real rules over a hostile fleet."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import load_workbook

from balloon_audit.engine import evaluate
from balloon_audit.report.html import render_html
from balloon_audit.report.xlsx import render_xlsx
from tests.report.sample import GENERATED_AT, HOSTILE_NAMES, hostile_snapshot
from tests.report.test_html import Page


@pytest.fixture(scope="module")
def result():
    result = evaluate(hostile_snapshot(), generated_at=GENERATED_AT)
    assert len({f.rule for f in result.findings}) >= 4  # the fleet trips several rules
    return result


def test_html_from_real_rules(result):
    page = Page(render_html(result))
    text = page.all_text
    assert len(page.elements("script")) == 1 and page.elements("img") == []
    for f in result.findings:
        assert f.message in text
        assert f.entity.name in text
        for command in (f.remediation.powercli, f.remediation.govc):
            if command:
                assert command in text
    by_rule: dict[str, int] = {}
    for f in result.findings:
        by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
    assert {k[2:]: v for k, v in page.rows.items() if k.startswith("f-")} == by_rule
    assert "not known to this version" not in text  # every rule has its metadata
    for stat in result.rule_stats:
        assert stat.rule in text


def test_xlsx_from_real_rules(result):
    data = render_xlsx(result)
    wb = load_workbook(io.BytesIO(data))
    rows = list(wb["Findings"].iter_rows(values_only=True))
    assert len(rows) - 1 == len(result.findings)
    header = rows[0]
    entity = header.index("Entity")
    assert {r[entity] for r in rows[1:]} <= set(HOSTILE_NAMES) | {
        "bell\ufffdvm",
        "esx-01.example.test",
        "<b>esx-02</b>",
        "Cluster <A>",
        "vc2.example.test",
    }
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                xml = archive.read(name).decode()
                assert "<f>" not in xml and "<f " not in xml
    rules = [r[0] for r in wb["Rules"].iter_rows(min_row=2, values_only=True)]
    assert rules == sorted(s.rule for s in result.rule_stats)


def test_reports_re_render_from_the_json_archive(result):
    from balloon_audit.report.json_result import result_from_json, result_to_json
    from tests.report.sample import hostile_result

    for original in (result, hostile_result()):
        again = result_from_json(result_to_json(original))
        assert render_html(again) == render_html(original)
        wb = load_workbook(io.BytesIO(render_xlsx(again)))
        assert wb["Findings"].max_row - 1 == len(original.findings)
