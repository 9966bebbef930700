"""`balloon-audit vm` against the demo lab (real vcsim over SOAP) and its recorded capture.

The command reads the matched VM, its host, cluster, pools and neighbours only; its
findings must be exactly the ones a whole-fleet scan gives for that VM, its host and its
pools, with the same advice.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from balloon_audit.collect import collect_source
from balloon_audit.collect.target import Target
from balloon_audit.collect.vmcontext import vm_session
from balloon_audit.engine import evaluate
from balloon_audit.lab import LabInstance
from balloon_audit.vmdiagnosis import relevant
from balloon_audit.vmexplain import explain, explain_snapshot
from balloon_audit.vmmemory import pool_chain
from tests.paths import CASSETTES
from tests.test_cli import run_cli

pytestmark = pytest.mark.live


def _target(lab: LabInstance) -> Target:
    return Target(server="127.0.0.1", port=lab.port, user="lab", password="x", insecure=True)


def vm_json(lab: LabInstance, tmp_path: Path, *args: str) -> tuple[int, dict, str]:
    out = tmp_path / "vm.json"
    done = run_cli("vm", *args, "-s", lab.server, "-u", "lab", "--insecure", "--json", str(out))
    assert "Traceback" not in done.stderr, done.stderr
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return done.returncode, data, done.stdout + done.stderr


@pytest.fixture(scope="module")
def fleet(demo_lab: LabInstance):
    """The whole demo fleet as a scan collects it (the reference)."""
    snapshot = collect_source(_target(demo_lab), perf=False)
    return snapshot, evaluate(snapshot)


def _keys(findings) -> list[tuple[str, str, str, str]]:
    return sorted((f.rule, f.severity.value, f.entity.type, f.entity.name) for f in findings)


@pytest.mark.parametrize(
    "name",
    ["balloon-crit-01", "finance-batch-01", "swap-crit-01", "payments-api-01", "qa-app-01"],
)
def test_same_findings_as_a_whole_fleet_scan(demo_lab, fleet, name) -> None:
    snapshot, result = fleet
    vm = next(v for v in snapshot.vms if v.name == name)
    want = relevant(result.findings, vm, pool_chain(vm, snapshot.resource_pools))
    report = explain(_target(demo_lab), name, perf=False)
    (exp,) = report.explanations
    assert _keys(exp.findings) == _keys(want)
    by_key = {(f.rule, f.entity.moid): f for f in want}
    for finding in exp.findings:
        assert finding.remediation == by_key[(finding.rule, finding.entity.moid)].remediation
        assert finding.message == by_key[(finding.rule, finding.entity.moid)].message


def test_reads_only_the_vm_and_its_neighbours(demo_lab, fleet) -> None:
    snapshot, _ = fleet
    with vm_session(_target(demo_lab)) as session:
        found = session.find("balloon-crit-01", 10)
        collection = session.read(found)
    crit = next(v for v in snapshot.vms if v.name == "balloon-crit-01")
    on_host = {v.moid for v in snapshot.vms if v.host_moid == crit.host_moid}
    read = {v.moid for v in collection.snapshot.vms}
    assert read == on_host  # no limited pool: only the VMs on its host (for BA503 and BA502)
    assert len(read) < len(snapshot.vms)
    assert collection.names_read == len(snapshot.vms)
    neighbour = next(v for v in collection.snapshot.vms if v.moid != crit.moid)
    assert neighbour.tools_status is None and neighbour.guest_id is None  # never read


def test_nested_limited_pool(demo_lab, tmp_path) -> None:
    code, data, _ = vm_json(demo_lab, tmp_path, "finance-batch-01")
    (vm,) = data["vms"]
    assert [p["name"] for p in vm["resource_pools"]] == ["finance-batch", "dept-finance"]
    assert vm["effective_limit"] == {
        "mb": 16384,
        "set_by": 'resource pool "dept-finance" (shared by its VMs)',
    }
    lines = {line["key"]: line for line in vm["breakdown"]}
    pool_lines = [k for k in lines if k.startswith("limit_pool:")]
    assert len(pool_lines) == 2
    assert lines["limit_effective"]["value"] == 16384
    rules = {(f["rule"], f["entity"]["name"]) for f in vm["findings"]}
    assert ("BA403", "dept-finance") in rules
    assert code == 1  # the host's BA502 warning


def test_ballooning_disabled_host_wide(demo_lab, tmp_path) -> None:
    code, data, text = vm_json(demo_lab, tmp_path, "swap-crit-01")
    (vm,) = data["vms"]
    assert vm["host"]["name"] == "DC0_C1_H0" and vm["host"]["ctl_max_pct"] == 0
    assert vm["balloon_cap"]["mb"] == 0
    assert "ballooning is off on this host" in vm["balloon_cap"]["set_by"]
    first = vm["findings"][0]
    assert first["severity"] == "critical"
    assert ("BA203", "critical") in {(f["rule"], f["severity"]) for f in vm["findings"]}
    assert code == 1
    assert "ballooning is off on this host" in text or "--json" in text


def test_powered_off_vm(demo_lab, tmp_path) -> None:
    code, data, _ = vm_json(demo_lab, tmp_path, "app-poweredoff-01")
    (vm,) = data["vms"]
    assert vm["vm"]["power_state"] == "poweredOff"
    lines = {line["key"]: line["value"] for line in vm["breakdown"]}
    assert lines["ballooned"] is None and lines["consumed"] is None  # no runtime figures
    assert lines["configured"] == vm["vm"]["memory_mb"]
    assert code in (0, 1)


def test_a_glob_matching_several_vms(demo_lab, tmp_path) -> None:
    code, data, text = vm_json(demo_lab, tmp_path, "balloon-*-01")
    names = [v["vm"]["name"] for v in data["vms"]]
    assert names == sorted(names) and len(names) >= 4
    assert {"balloon-crit-01", "balloon-warn-01", "balloon-info-01"} <= set(names)
    assert code == 1


def test_too_many_matches_is_a_usage_error_listing_them(demo_lab, tmp_path) -> None:
    code, data, text = vm_json(demo_lab, tmp_path, "*")
    assert code == 2 and not data
    assert "more than the 10 explained at once" in text
    assert "balloon-crit-01" in text and "--scope vm=GLOB" in text


def test_no_match_suggests_names(demo_lab, tmp_path) -> None:
    code, data, text = vm_json(demo_lab, tmp_path, "baloon-crit-01")
    assert code == 2 and not data
    assert "no VM matches 'baloon-crit-01'" in text
    assert "did you mean: 'balloon-crit-01'" in text


@pytest.mark.parametrize(
    ("pattern", "name"),
    [
        ("<script>*", "<script>alert(1)</script>"),
        ("=HYPERLINK*", '=HYPERLINK("http://evil","x")'),
        ("it's*", """it's "quoted" $(x); y"""),
        ("数据库*", "数据库-серверα ’q’"),
    ],
)
def test_hostile_names(demo_lab, tmp_path, pattern, name) -> None:
    out = tmp_path / "vm.json"
    done = run_cli(
        "vm", pattern, "-s", demo_lab.server, "-u", "lab", "--insecure", "--json", str(out)
    )
    assert "Traceback" not in done.stderr
    raw = out.read_text(encoding="utf-8")
    assert "<script>" not in raw  # escaped as \u003c in the JSON text
    data = json.loads(raw)
    got = data["vms"][0]["vm"]["name"].replace("%2f", "/")
    assert got == name
    assert name.replace("/", "%2f") in done.stdout or name in done.stdout


def test_replay_from_the_demo_capture_matches_live(demo_lab, tmp_path) -> None:
    out = tmp_path / "replayed.json"
    done = run_cli("vm", "qa-app-01", "--replay", str(CASSETTES / "demo.yaml"), "--json", str(out))
    assert "Traceback" not in done.stderr, done.stderr
    replayed = json.loads(out.read_text(encoding="utf-8"))
    _, live, _ = vm_json(demo_lab, tmp_path, "qa-app-01")
    assert any("capture" in note for note in replayed["notes"])

    def facts(data: dict) -> list:
        (vm,) = data["vms"]
        return [
            sorted((f["rule"], f["severity"], f["entity"]["name"]) for f in vm["findings"]),
            vm["effective_limit"],
            [(line["key"], line["value"]) for line in vm["breakdown"] if line["section"] != "host"],
        ]

    assert facts(replayed) == facts(live)


def test_explain_snapshot_is_the_same_from_the_fleet(demo_lab, fleet) -> None:
    """Cutting the whole fleet down (replay) and reading just the VM (live) agree."""
    snapshot, _ = fleet
    vm = next(v for v in snapshot.vms if v.name == "limit-balloon-01")
    (from_fleet,) = explain_snapshot(snapshot, [vm.moid])
    (live,) = explain(_target(demo_lab), "limit-balloon-01", perf=False).explanations
    assert from_fleet.breakdown == live.breakdown
    assert _keys(from_fleet.findings) == _keys(live.findings)


def _sessions_of(lab: LabInstance, user: str) -> int:
    """How many sessions ``user`` has open on the lab's vcsim (govc session.ls)."""
    import os
    import subprocess

    from balloon_audit.lab.vcsim import find_tool

    env = {**os.environ, **lab.govc_env(), "GOVC_PERSIST_SESSION": "false"}
    out = subprocess.run(
        [str(find_tool("govc")), "session.ls", "-json"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return sum(1 for s in json.loads(out)["sessionList"] if s["userName"] == user)


def test_watch_stops_cleanly_on_a_real_sigint_and_logs_out(demo_lab) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    user = "watch-sigint"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    env.update(BALLOON_AUDIT_PASSWORD="x", COLUMNS="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "balloon_audit", "vm", "balloon-crit-01", "--watch",
         "-s", demo_lab.server, "-u", user, "--insecure"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first report has started
        assert "balloon-crit-01" in first
        time.sleep(1.0)
        assert _sessions_of(demo_lab, user) == 1  # waiting for the next sample, logged in
        proc.send_signal(signal.SIGINT)
        out, errors = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, errors
    assert "Traceback" not in errors
    assert "SIGINT received" in errors
    assert "Diagnosis" in out
    assert _sessions_of(demo_lab, user) == 0  # it logged out on the way out


class _Facts(HTMLParser):
    """What the HTML says, by the data attributes the template puts on each fact."""

    def __init__(self) -> None:
        super().__init__()
        self.vms: list[str] = []
        self.lines: dict[str, str] = {}
        self.counters: list[str] = []
        self.findings: list[tuple[str, str, str]] = []
        self.verdicts: dict[str, str] = {}
        self._cells: list[str] | None = None
        self._key: str | None = None
        self._verdict: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section" and "data-vm" in a:
            self.vms.append(a["data-vm"])
        elif tag == "tr" and "data-key" in a:
            self._key, self._cells = a["data-key"], []
        elif tag == "tr" and "data-counter" in a:
            self.counters.append(a["data-counter"])
        elif tag == "td" and self._cells is not None:
            self._cells.append("")
        elif tag == "li" and "data-rule" in a:
            self.findings.append((a["data-rule"], a["data-severity"], a["data-entity"]))
        elif tag == "p" and "data-verdict" in a:
            self._verdict = a["data-verdict"]
            self.verdicts[self._verdict] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._cells is not None and self._key is not None:
            self.lines[self._key] = self._cells[1].strip()
            self._cells, self._key = None, None
        elif tag == "p":
            self._verdict = None

    def handle_data(self, data: str) -> None:
        if self._cells:
            self._cells[-1] += data
        if self._verdict is not None:
            self.verdicts[self._verdict] += data


@pytest.fixture(scope="module")
def hostile_outputs(demo_lab, tmp_path_factory) -> tuple[dict, str, Path]:
    folder = tmp_path_factory.mktemp("vmhtml")
    json_file, html_file = folder / "vm.json", folder / "vm.html"
    done = run_cli(
        "vm", "<script>*", "-s", demo_lab.server, "-u", "lab", "--insecure",
        "--json", str(json_file), "--html", str(html_file),
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    return json.loads(json_file.read_text("utf-8")), html_file.read_text("utf-8"), html_file


def test_json_and_html_carry_the_same_facts(hostile_outputs) -> None:
    from balloon_audit.report.vm_console import series_value, value_text
    from balloon_audit.report.vm_model import VmDocument

    data, html, _ = hostile_outputs
    VmDocument.model_validate_json(json.dumps(data))  # docs/vm.schema.json, counters included
    facts = _Facts()
    facts.feed(html)
    (vm,) = data["vms"]
    assert facts.vms == [vm["vm"]["name"]]
    want = {line["key"]: value_text(line["value"], line["unit"]) for line in vm["breakdown"]}
    assert facts.lines == want
    series = vm["counters"]["series"]
    assert facts.counters == [s["counter"] for s in series] and series
    for s in series:
        assert series_value(s["last"], s["unit"]) in html
    assert facts.findings == [
        (f["rule"], f["severity"], f["entity"]["name"]) for f in vm["findings"]
    ]
    for kind in ("balloon", "swap"):
        verdict = vm["verdicts"][kind]
        assert verdict["verdict"] in facts.verdicts[kind]
        assert verdict["reason"] in facts.verdicts[kind]
    assert "<script>alert" not in html


@pytest.mark.browser
def test_html_in_a_real_browser_shows_the_name_and_runs_nothing(hostile_outputs) -> None:
    from tests.report.browser import Browser, require_chromium

    data, _, html_file = hostile_outputs
    browser = Browser(require_chromium())
    try:
        browser.open(html_file)
        assert browser.errors() == []
        assert browser.evaluate("document.querySelectorAll('script').length") == 0
        assert not [e for e in browser.events if e["method"] == "Page.javascriptDialogOpening"]
        shown = browser.evaluate("document.querySelector('section.vm h2 .vmname').textContent")
        assert shown == data["vms"][0]["vm"]["name"]
        sparks = browser.evaluate("document.querySelectorAll('svg.spark polyline').length")
        assert sparks >= 1
    finally:
        browser.close()
