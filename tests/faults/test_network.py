"""Hanging, trickling and dropping servers: every case ends within its deadline.

The faulty endpoint is audited together with a healthy vcsim: the healthy one's
results must be complete in the JSON, the faulty one is a failed source (exit 3).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from balloon_audit.lab.vcsim import VcsimEndpoint
from tests.faults.harness import Outcome, one_line_error, run, stray_files
from tests.faults.servers import (
    VM_PASS,
    BlackholeServer,
    Fault,
    SilentServer,
    SoapProxy,
    TrickleServer,
    serving,
)

pytestmark = pytest.mark.live


def scan_with_healthy(
    case: str,
    faulty_port: int,
    healthy: VcsimEndpoint,
    tmp_path: Path,
    *options: str,
    within_s: float,
) -> tuple[Outcome, dict[str, Any]]:
    out = tmp_path / "result.json"
    outcome = run(
        case,
        ["scan", "-s", f"127.0.0.1:{faulty_port}", "-s", f"127.0.0.1:{healthy.port}",
         "-u", "auditor", "--insecure", "--json", str(out), "--output-dir", str(tmp_path / "r"),
         "--quiet", *options],
        code=3,
        within_s=within_s,
    )  # fmt: skip
    result = json.loads(out.read_text(encoding="utf-8"))
    by_server = {s["server"]: s for s in result["sources"]}
    good = by_server[f"127.0.0.1:{healthy.port}"]
    assert good["status"] == "ok" and good["vm_count"] > 0, good
    assert any(vm["server"] == good["server"] for vm in result["vms"])
    assert by_server[f"127.0.0.1:{faulty_port}"]["status"] == "failed"
    reports = [p for p in (tmp_path / "r").iterdir() if not p.is_symlink()]  # not latest links
    assert sorted(p.suffix for p in reports) == [".html", ".json", ".xlsx"]
    assert stray_files(tmp_path) == []
    return outcome, by_server[f"127.0.0.1:{faulty_port}"]


def test_server_that_accepts_and_never_answers(
    healthy_vcsim: VcsimEndpoint, tmp_path: Path
) -> None:
    with serving(SilentServer()) as silent:
        outcome, failed = scan_with_healthy(
            "silent server (no TLS handshake)", silent.port, healthy_vcsim, tmp_path,
            "--connect-timeout", "1", "--timeout", "2", within_s=12,
        )  # fmt: skip
    assert "within 1s while connecting" in failed["error"]
    one_line_error(outcome, rf"127\.0\.0\.1:{silent.port}: no complete answer within 1s")


def test_unreachable_host_within_the_deadline(healthy_vcsim: VcsimEndpoint, tmp_path: Path) -> None:
    with serving(BlackholeServer()) as blackhole:
        _, failed = scan_with_healthy(
            "unreachable host (SYN dropped), --deadline 2", blackhole.port, healthy_vcsim,
            tmp_path, "--connect-timeout", "60", "--deadline", "2", within_s=12,
        )  # fmt: skip
    assert "no answer within 2s while connecting" in failed["error"], failed


def test_server_that_trickles_its_answer(
    healthy_vcsim: VcsimEndpoint, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    with serving(TrickleServer(certificate, interval_s=0.5)) as trickle:
        outcome, failed = scan_with_healthy(
            "TLS server trickling 1 byte / 0.5s", trickle.port, healthy_vcsim, tmp_path,
            "--connect-timeout", "2", "--timeout", "2", within_s=14,
        )  # fmt: skip
    assert "within 2s while connecting" in failed["error"], failed


def test_trickled_performance_query(demo_lab: Any, fault_proxy: Any, tmp_path: Path) -> None:
    # Swap rates (QueryPerf) only confirm findings: when the query takes longer than the
    # request deadline they are left unknown and the audit completes without them.
    proxy: SoapProxy = fault_proxy({"QueryPerf": Fault("trickle", 0.3)}, upstream=demo_lab.port)
    out = tmp_path / "r.json"
    run("proxy trickles QueryPerf (swap rates)",
        ["scan", "-s", f"127.0.0.1:{proxy.port}", "-u", "auditor", "--insecure", "--quiet",
         "--timeout", "2", "--fail-on", "never", "--json", str(out)],
        code=0, within_s=20)  # fmt: skip
    assert proxy.hit.is_set() and proxy.methods[-1] == "Logout", proxy.methods
    result = json.loads(out.read_text())
    assert result["sources"][0]["status"] == "ok"
    assert all(vm["swapin_rate_kbps"] is None for vm in result["vms"])
    assert any(vm["swapped_mb"] for vm in result["vms"])


@pytest.mark.parametrize(
    "spec",
    [
        ("proxy trickles Login", "Login", Fault("trickle", 0.3),
         ("--connect-timeout", "2"), "within 2s while connecting"),
        ("proxy delays RetrievePropertiesEx 60s", "RetrievePropertiesEx", Fault("delay", 60),
         ("--timeout", "2"), "took longer than 2s"),
        ("proxy trickles the VM page", "RetrievePropertiesEx", Fault("trickle", 0.3, match=VM_PASS),
         ("--timeout", "2"), "took longer than 2s"),
        ("proxy cuts the VM page half-way", "RetrievePropertiesEx", Fault("cut", match=VM_PASS),
         ("--timeout", "20"), "answer was cut off"),
        ("per-vCenter deadline (3s) beats --timeout 30", "RetrievePropertiesEx",
         Fault("delay", 60), ("--timeout", "30", "--deadline", "3"), "gave up after 3s"),
    ],
)  # fmt: skip
def test_proxy_faults_after_connecting(
    spec: tuple[str, str, Fault, tuple[str, ...], str],
    fault_proxy: Any,
    healthy_vcsim: VcsimEndpoint,
    tmp_path: Path,
) -> None:
    case, method, fault, options, message = spec
    proxy: SoapProxy = fault_proxy({method: fault})
    outcome, failed = scan_with_healthy(
        case, proxy.port, healthy_vcsim, tmp_path, *options, within_s=14
    )
    assert proxy.hit.is_set(), proxy.methods
    assert message in failed["error"], failed
    one_line_error(outcome, rf"127\.0\.0\.1:{proxy.port}: ")
    if method != "Login":  # a session existed: it was logged out
        assert proxy.methods[-1] == "Logout", proxy.methods
