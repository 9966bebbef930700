"""`balloon-audit vm` against the demo lab (real vcsim over SOAP) and its recorded capture.

The command reads the matched VM, its host, cluster, pools and neighbours only; its
findings must be exactly the ones a whole-fleet scan gives for that VM, its host and its
pools, with the same advice.
"""

from __future__ import annotations

import json
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
        ("it's*", '''it's "quoted" $(x); y'''),
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


def test_watch_stops_cleanly_on_a_real_sigint(demo_lab) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    env.update(BALLOON_AUDIT_PASSWORD="x", COLUMNS="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "balloon_audit", "vm", "balloon-crit-01", "--watch",
         "-s", demo_lab.server, "-u", "lab", "--insecure"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first report has started
        assert "balloon-crit-01" in first
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, errors = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, errors
    assert "Traceback" not in errors
    assert "SIGINT received" in errors
    assert "Diagnosis" in out
