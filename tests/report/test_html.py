"""The HTML report, read back with a parser: content present, names escaped, nothing external."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from balloon_audit.report.html import render_html, templates_location, write_html
from tests.report.sample import (
    FAILED,
    HOSTILE_NAMES,
    ILLEGAL_XML_NAME,
    clean_result,
    hostile_result,
)

URL_ATTRIBUTES = {"src", "href", "action", "formaction", "poster", "data", "srcset", "xlink:href"}


class Page(HTMLParser):
    """Collects what the tests assert on: elements, attributes, text, table rows, raw code."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.rows: dict[str, int] = {}
        self._table: list[str] = []
        self._in_tbody = False
        self._raw: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
            self._table.append(attributes.get("id") or "")
        elif tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody and self._table:
            key = self._table[-1]
            self.rows[key] = self.rows.get(key, 0) + 1
        elif tag in ("script", "style"):
            self._raw = tag

    def handle_endtag(self, tag):
        if tag == "table" and self._table:
            self._table.pop()
        elif tag == "tbody":
            self._in_tbody = False
        elif tag in ("script", "style"):
            self._raw = None

    def handle_data(self, data):
        if self._raw == "script":
            self.scripts.append(data)
        elif self._raw == "style":
            self.styles.append(data)
        else:
            self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)

    def elements(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


@pytest.fixture(scope="module")
def hostile():
    result = hostile_result()
    html = render_html(result)
    return result, html, Page(html)


def test_every_finding_is_listed_once_in_its_rule_table(hostile):
    result, _, page = hostile
    by_rule: dict[str, int] = {}
    for f in result.findings:
        by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
    assert {k[2:]: v for k, v in page.rows.items() if k.startswith("f-")} == by_rule
    for f in result.findings:
        assert f.message in page.all_text


def test_inventory_tables_have_every_vm_and_host(hostile):
    result, _, page = hostile
    assert page.rows["vmtab"] == len(result.snapshot.vms)
    assert page.rows["hosttab"] == len(result.snapshot.hosts)


def test_hostile_names_are_text_not_markup(hostile):
    _, html, page = hostile
    text = page.all_text
    for name in HOSTILE_NAMES:
        assert name in text, name
    assert ILLEGAL_XML_NAME in text
    # Only our own script element, no injected element or event handler.
    assert len(page.elements("script")) == 1
    assert page.elements("img") == []
    assert page.elements("b") and not any(a for a in page.elements("b"))
    for tag, attrs in page.tags:
        for attr in attrs:
            assert not attr.startswith("on"), (tag, attrs)
    assert "<script>alert(1)" not in html
    assert "{{7*7}}" in text  # shown literally: vCenter data is never evaluated as a template


KB_PREFIX = "https://knowledge.broadcom.com/external/article?legacyId="


def test_nothing_is_loaded_from_the_network(hostile):
    _, html, page = hostile
    for tag, attrs in page.tags:
        for attr, value in attrs.items():
            if attr in URL_ATTRIBUTES and value is not None:
                # Links to VMware KB articles are followed only when clicked.
                link = tag == "a" and attr == "href" and value.startswith(KB_PREFIX)
                assert value.startswith("#") or link, (tag, attr, value)
    css = "".join(page.styles)
    js = "".join(page.scripts)
    assert "url(" not in css and "@import" not in css
    assert not re.search(r"https?:|fetch\(|XMLHttpRequest|import\(|WebSocket|\.src\s*=", js)
    csp = [m for m in page.elements("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]
    # The only absolute URLs are the SVG namespace and what vCenter data said.
    for url in re.findall(r"https?://[^\s\"'<>)]+", unescape(html)):
        shown = url.rstrip("…")  # chart labels cut long names
        assert (
            shown == "http://www.w3.org/2000/svg"
            or shown.startswith(KB_PREFIX)
            or "http://evil.example/x".startswith(shown)
        ), url


def test_provenance_header(hostile):
    result, _, page = hostile
    text = page.all_text
    assert "2025-03-04 05:06:07 UTC" in text
    assert "Generated (local time)" in text
    assert "ops<admin>" in text and "jump-01" in text
    assert "--password ***" in text and "hunter2" not in text
    assert "8.0.3.0" in text and "VirtualCenter" in text
    assert f"balloon-audit {result.tool_version}" in text
    assert "warning_pct" in text


def test_failed_source_waivers_and_unknown_rule(hostile):
    _, _, page = hostile
    text = page.all_text
    assert FAILED in text
    assert "connection refused <port 443>" in text
    assert "check that the vCenter is reachable & the port is right" in text
    assert "DB pins memory <by design>" in text and "dba@team" in text and "2099-01-01" in text
    assert "waiver BA102 <old-vm> expired on 2024-01-01" in text
    assert "BA777" in text and "not known to this version" in text
    assert page.rows["waivedtab"] == 1


def test_rule_advice_and_commands(hostile):
    result, _, page = hostile
    text = page.all_text
    assert "11 of 12 checked" in text
    assert "esxtop, memory view: MCTLSZ > 0" in text
    assert "KB 1002586" in text
    for f in result.findings:
        assert f.remediation.govc in text
    commands = [attrs for tag, attrs in page.tags if tag == "div" and attrs.get("class") == "cmd"]
    assert len(commands) == 2 * len(result.findings)  # the script adds a Copy button to each


def test_no_findings_state():
    page = Page(render_html(clean_result()))
    assert "No findings." in page.all_text
    assert not any(k.startswith("f-") for k in page.rows)
    assert "No VM is being ballooned" in page.all_text


def test_write_html_is_utf8_file(tmp_path: Path):
    target = tmp_path / "report.html"
    write_html(hostile_result(), target)
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "naïve-数据库-🎈" in html


def test_templates_come_from_source_tree_in_a_checkout():
    # In a checkout without an install the top-level templates/ directory is used;
    # tests/report/test_packaging.py covers the installed wheel.
    location = Path(templates_location())
    assert (location / "report.html.j2").is_file()


def test_entity_line_has_no_dangling_separator():
    """A vCenter finding has no MOID and no datacenter: its line is just the type."""
    import dataclasses

    from balloon_audit.model import Entity, Finding, Remediation, Severity

    vcenter = Finding(
        rule="BA902",
        name="collection-error",
        severity=Severity.CRITICAL,
        entity=Entity("vCenter", FAILED, None, FAILED),
        message=f"could not audit {FAILED}",
        evidence={"status": "failed"},
        remediation=Remediation(summary="Fix the connection and run the audit again."),
    )
    html = render_html(dataclasses.replace(clean_result(), findings=(vcenter,)))
    assert re.search(r"<small>vCenter</small>", html)
    assert not re.search(r"<small>[^<]*· </small>", html)
    assert " · </small>" not in render_html(hostile_result())
