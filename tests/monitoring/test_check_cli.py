"""`balloon-audit check`: plugin exit codes and parseable perfdata, from real captures."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.paths import CASSETTES
from tests.test_cli import run_cli

PERF_ITEM = re.compile(r"(?P<label>\w+)=(?P<value>[\d.]+)(?P<uom>MB)?;;;0\Z")


def perfdata(line: str) -> dict[str, float]:
    _, bar, perf = line.partition(" | ")
    assert bar, f"no perfdata in {line!r}"
    out = {}
    for item in perf.split():
        found = PERF_ITEM.match(item)
        assert found, f"perfdata item {item!r} does not follow label=value[UOM];;;0"
        out[found["label"]] = float(found["value"])
    return out


def test_check_of_the_demo_capture_is_critical_with_perfdata(tmp_path) -> None:
    done = run_cli("check", "--replay", str(CASSETTES / "demo.yaml"))
    assert done.returncode == 2, done.stdout + done.stderr
    first, *details = done.stdout.splitlines()
    assert first.startswith("BALLOON-AUDIT CRITICAL - ")
    perf = perfdata(first)
    result_file = tmp_path / "r.json"
    run_cli("scan", "--replay", str(CASSETTES / "demo.yaml"), "--json", str(result_file), "-q")
    data = json.loads(result_file.read_text())
    severities = [f["severity"] for f in data["findings"]]
    for level in ("critical", "warning", "info"):
        assert perf[f"findings_{level}"] == severities.count(level)
    assert perf["ballooned"] == sum(v["ballooned_mb"] or 0 for v in data["vms"])
    assert perf["swapped"] == sum(v["swapped_mb"] or 0 for v in data["vms"])
    assert details and details[0].startswith("CRITICAL ")


def test_check_thresholds_choose_warning_and_ok() -> None:
    demo = str(CASSETTES / "demo.yaml")
    done = run_cli("check", "--replay", demo, "--critical-on", "never")
    assert done.returncode == 1 and done.stdout.startswith("BALLOON-AUDIT WARNING - ")
    done = run_cli("check", "--replay", demo, "--critical-on", "never", "--warning-on", "never")
    assert done.returncode == 0 and done.stdout.startswith("BALLOON-AUDIT OK - ")
    done = run_cli("check", "--replay", str(CASSETTES / "empty.yaml"))
    assert done.returncode == 0, done.stdout


def test_check_failures_are_unknown_on_stdout() -> None:
    rejected = str(CASSETTES / "rejected-login.yaml")  # one vCenter refused the login
    done = run_cli("check", "--replay", rejected, "--critical-on", "never")
    assert done.returncode == 3 and done.stdout.startswith("BALLOON-AUDIT UNKNOWN - not audited:")
    assert perfdata(done.stdout.splitlines()[0])["sources_failed"] == 1
    done = run_cli("check", "--replay", rejected)
    assert done.returncode == 3, "the failed login is UNKNOWN, not its BA902 critical"
    done = run_cli("check", "--no-such-option")
    assert (done.returncode, done.stdout.count("\n")) == (3, 1)
    assert done.stdout.startswith("BALLOON-AUDIT UNKNOWN - ")
    done = run_cli("check", "-u", "x")  # no server at all
    assert done.returncode == 3 and "no server given" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "balloon_audit", "check", "-s", "127.0.0.1:1", "-u", "x", "-k"],
        capture_output=True,
        text=True,
        env={"BALLOON_AUDIT_PASSWORD": "x", "PATH": "/usr/bin"},
        timeout=60,
    )
    assert done.returncode == 3 and "127.0.0.1:1" in done.stdout, done.stdout + done.stderr
