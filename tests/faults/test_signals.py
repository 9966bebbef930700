"""SIGINT and SIGTERM while collecting and while writing reports.

The run stops promptly (no waiting for the request timeout), logs the session out,
leaves no temporary file and exits 128 + the signal number.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from balloon_audit.lab.vcsim import VcsimEndpoint
from tests.faults.harness import finish, one_line_error, start, stray_files
from tests.faults.servers import BlackholeServer, Fault, SoapProxy, serving

pytestmark = pytest.mark.live


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_collection(
    sig: signal.Signals, code: int, fault_proxy: Any, tmp_path: Path
) -> None:
    proxy: SoapProxy = fault_proxy({"RetrievePropertiesEx": Fault("delay", 60)})
    out = tmp_path / "out"
    proc = start(
        ["scan", "-s", f"127.0.0.1:{proxy.port}", "-u", "auditor", "--insecure",
         "--timeout", "60", "--output-dir", str(out), "--json", str(tmp_path / "r.json")]
    )  # fmt: skip
    assert proxy.hit.wait(30), proxy.methods
    sent = time.monotonic()
    proc.send_signal(sig)
    outcome = finish(f"{sig.name} while a request hangs", proc, sent, code=code, within_s=4)
    one_line_error(outcome, rf"{sig.name} received")
    assert proxy.methods[-1] == "Logout", proxy.methods
    assert not (tmp_path / "r.json").exists()
    assert not out.exists() or list(out.iterdir()) == []
    assert stray_files(tmp_path) == []


def test_sigterm_while_writing_reports(healthy_vcsim: VcsimEndpoint, tmp_path: Path) -> None:
    fifo = tmp_path / "blocked.xlsx"
    os.mkfifo(fifo)  # opening it for writing blocks until a reader comes: "mid-write"
    out = tmp_path / "out"
    proc = start(
        ["scan", "-s", f"127.0.0.1:{healthy_vcsim.port}", "-u", "auditor", "--insecure",
         "--output-dir", str(out), "--json", str(tmp_path / "r.json"),
         "--html", str(tmp_path / "r.html"), "--xlsx", str(fifo)]
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not (tmp_path / "r.html").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    outcome = finish("SIGTERM while writing reports", proc, sent, code=143, within_s=3)
    one_line_error(outcome, "SIGTERM received")
    assert json.loads((tmp_path / "r.json").read_text())["sources"][0]["status"] == "ok"
    assert (tmp_path / "r.html").read_text().rstrip().endswith("</html>")
    reports = [p for p in out.iterdir() if not p.is_symlink()]  # not the latest links
    assert sorted(p.suffix for p in reports) == [".html", ".json", ".xlsx"]
    assert stray_files(tmp_path) == []


def test_sigint_while_connecting_to_an_unreachable_host(tmp_path: Path) -> None:
    with serving(BlackholeServer()) as blackhole:
        proc = start(
            ["scan", "-s", f"127.0.0.1:{blackhole.port}", "-u", "auditor", "--insecure",
             "--connect-timeout", "60", "--json", str(tmp_path / "r.json")]
        )  # fmt: skip
        time.sleep(2)  # the TCP connect is in progress (the SYN is dropped)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        outcome = finish("SIGINT while a TCP connect hangs", proc, sent, code=130, within_s=3)
    one_line_error(outcome, r"SIGINT received")
    assert list(tmp_path.iterdir()) == []
