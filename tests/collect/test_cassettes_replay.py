"""Replay the recorded vCenter sessions in cassettes/ without vcsim: scan → rules → reports.

Each ``NAME.yaml`` has a ``NAME.expected.json`` written by scripts/record_cassettes.py from
the live run it recorded; a replay must give the same sources and findings. These tests
need no simulator and open no socket.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import load_workbook

from balloon_audit.audit import replay_snapshot
from balloon_audit.collect import collect_source
from balloon_audit.collect.capture import (
    CaptureMismatchError,
    capture_info,
    replay_targets,
    replaying,
)
from balloon_audit.collect.capture.scrub import soap_operation
from balloon_audit.collect.connection import open_session
from balloon_audit.engine import evaluate
from balloon_audit.errors import ConfigError
from balloon_audit.model import AuditResult, Snapshot
from balloon_audit.report.json_result import result_from_json
from balloon_audit.report.writers import write_reports
from tests.paths import CASSETTES, ROOT

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NAMES = ("demo", "empty", "esx", "large", "rejected-login")


def cassette(name: str) -> Path:
    """``NAME.yaml``, or ``NAME.yaml.gz`` for the large one."""
    plain = CASSETTES / f"{name}.yaml"
    return plain if plain.exists() else CASSETTES / f"{name}.yaml.gz"


def expected(name: str) -> dict[str, Any]:
    return json.loads((CASSETTES / f"{name}.expected.json").read_text())


def finding_keys(result: AuditResult) -> list[list[str]]:
    return sorted([f.rule, f.severity.value, f.entity.type, f.entity.name] for f in result.findings)


def source_keys(snapshot: Snapshot) -> list[dict[str, object]]:
    return [
        {
            "server": s.server,
            "status": s.status,
            "api_type": s.api_type,
            "vm_count": s.vm_count,
            "host_count": s.host_count,
        }
        for s in snapshot.sources
    ]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve a name or open a connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"replay tried to use the network: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def replayed() -> dict[str, tuple[Snapshot, AuditResult]]:
    out = {}
    for name in NAMES:
        snapshot = replay_snapshot(cassette(name), strict=True)
        out[name] = (snapshot, evaluate(snapshot))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_replay_gives_the_recorded_sources_and_findings(
    name: str, replayed: dict[str, tuple[Snapshot, AuditResult]]
) -> None:
    snapshot, result = replayed[name]
    want = expected(name)
    assert source_keys(snapshot) == want["sources"]
    assert (len(snapshot.vms), len(snapshot.hosts)) == (want["vms"], want["hosts"])
    assert finding_keys(result) == want["findings"]


def test_demo_replay_has_the_findings_the_demo_scenario_expects(
    replayed: dict[str, tuple[Snapshot, AuditResult]],
) -> None:
    scenario_path = ROOT / "balloon_audit" / "lab" / "scenarios" / "demo.toml"
    if not scenario_path.is_file():
        pytest.skip("the lab's demo scenario is not in this tree")
    from balloon_audit.lab.scenario import load_scenario

    _, result = replayed["demo"]
    got = {(f.entity.type, f.entity.name, f.rule, f.severity.value) for f in result.findings}
    for e in load_scenario(scenario_path).expectations():
        assert (e.entity_type, e.entity_name, e.rule, e.severity) in got


def test_each_kind_of_capture_is_what_its_name_says(
    replayed: dict[str, tuple[Snapshot, AuditResult]],
) -> None:
    esx = replayed["esx"][0].sources[0]
    assert esx.status == "ok" and esx.api_type == "HostAgent"
    empty = replayed["empty"][0]
    assert empty.sources[0].status == "ok" and not empty.vms
    refused = replayed["rejected-login"][0].sources[0]
    assert refused.status == "failed" and "login refused" in (refused.error or "")
    assert [f.rule for f in replayed["rejected-login"][1].findings] == ["BA902"]
    # the large capture pages: one RetrievePropertiesEx plus several continuations
    document = yaml.load(gzip.decompress(cassette("large").read_bytes()), Loader=LOADER)
    operations = Counter(soap_operation(i["request"]["body"]) for i in document["interactions"])
    assert operations["ContinueRetrievePropertiesEx"] >= 2
    assert capture_info(cassette("large")).page_size == expected("large")["page_size"]


@pytest.mark.parametrize("name", ["demo", "large", "esx"])
def test_reports_from_a_replay(
    name: str, replayed: dict[str, tuple[Snapshot, AuditResult]], tmp_path: Path
) -> None:
    _, result = replayed[name]
    paths = {kind: tmp_path / f"report.{kind}" for kind in ("json", "html", "xlsx")}
    write_reports(result, list(paths.items()))

    again = result_from_json(paths["json"].read_text())
    assert finding_keys(again) == expected(name)["findings"]

    sheet = load_workbook(paths["xlsx"], read_only=True)["Findings"]
    table = list(sheet.iter_rows(values_only=True))
    rule_at = table[0].index("Rule") if table else 0
    rules = Counter(
        row[rule_at] for row in table[1:] if row and re.fullmatch(r"BA\d{3}", str(row[rule_at]))
    )
    assert rules == Counter(f[0] for f in expected(name)["findings"])

    text = _html_text(paths["html"].read_text())
    for rule, _, _, entity in expected(name)["findings"]:
        assert rule in text and entity in text


def _html_text(html: str) -> str:
    parts: list[str] = []

    class Collect(HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

    Collect().feed(html)
    return " ".join(parts)


# --- a changed question fails loudly ---------------------------------------------------


def test_other_page_size_fails_replay_with_a_clear_error() -> None:
    path = cassette("demo")
    with pytest.raises(CaptureMismatchError) as caught, replaying(path):
        collect_source(replay_targets(path)[0], page_size=7)
    message = str(caught.value)
    assert "RetrievePropertiesEx" in message and "maxObjects" in message
    assert "1000" in message and "7" in message
    assert caught.value.hint and "record" in caught.value.hint


def test_an_extra_property_fails_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    from balloon_audit.collect import properties

    monkeypatch.setattr(properties, "VM_PATHS", (*properties.VM_PATHS, "config.uuid"))
    path = cassette("demo")
    with pytest.raises(CaptureMismatchError, match=r"config\.uuid"), replaying(path):
        collect_source(replay_targets(path)[0])


def test_mismatch_is_raised_even_when_the_collector_swallows_it() -> None:
    """collect_all turns errors into failed sources; the replay context still fails."""
    from balloon_audit.collect import collect_all

    path = cassette("demo")
    with pytest.raises(CaptureMismatchError), replaying(path):
        snapshot = collect_all(replay_targets(path), page_size=7)
        assert snapshot.sources[0].status == "failed"


def test_a_server_the_capture_does_not_hold() -> None:
    import dataclasses

    path = cassette("demo")
    target = dataclasses.replace(replay_targets(path)[0], server="vc01.example.com")
    refused = pytest.raises(CaptureMismatchError, match="holds no requests for vc01.example.com")
    with refused, replaying(path):
        collect_source(target)


def test_strict_replay_notices_requests_never_asked() -> None:
    path = cassette("demo")
    strict = pytest.raises(CaptureMismatchError, match="never asked for")
    with strict, replaying(path, strict=True), open_session(replay_targets(path)[0]) as si:
        assert si.RetrieveContent().about.apiType == "VirtualCenter"


def test_not_a_capture(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("just: text\n")
    with pytest.raises(ConfigError, match="not a balloon-audit capture"):
        capture_info(bad)
    with pytest.raises(ConfigError, match="cannot read capture"):
        capture_info(tmp_path / "missing.yaml")


def test_replay_targets_name_the_placeholders_only() -> None:
    targets = replay_targets(cassette("demo"))
    assert [t.server for t in targets] == ["vcenter-1.invalid"]
    assert targets[0].password == "scrubbed-password"


# --- through the command line ----------------------------------------------------------


def test_cli_scan_replay_writes_the_same_findings(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    proc = subprocess.run(
        [sys.executable, "-m", "balloon_audit", "scan", "--replay", str(cassette("demo"))]
        + ["--json", str(out), "--quiet", "--fail-on", "critical"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    result = result_from_json(out.read_text())
    worst = result.worst_severity()
    assert proc.returncode == (1 if worst is not None and worst.value == "critical" else 0), (
        proc.stderr
    )
    assert finding_keys(result) == expected("demo")["findings"]
    assert [s.server for s in result.sources] == ["vcenter-1.invalid"]


def test_cli_replay_of_a_refused_login_exits_3(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    proc = subprocess.run(
        [sys.executable, "-m", "balloon_audit", "scan", "--quiet"]
        + ["--replay", str(cassette("rejected-login"))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 3, proc.stderr
    assert "login refused" in proc.stderr
