"""The command line as a user runs it: a real process, a real vcsim, real exit codes.

Usage errors are checked in-process, faster, in tests/test_cli_usage.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from balloon_audit.lab.vcsim import VcsimEndpoint
from tests.live import LOGIN_PASSWORD, free_port
from tests.paths import CASSETTES

SECRET = LOGIN_PASSWORD
DEMO_CASSETTE = CASSETTES / "demo.yaml"


def run_cli(*args: str, password: str | None = SECRET, stdin: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    if password is not None:
        env["BALLOON_AUDIT_PASSWORD"] = password
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "balloon_audit", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
    )


def server_args(endpoint: VcsimEndpoint) -> list[str]:
    return ["scan", "-s", f"127.0.0.1:{endpoint.port}", "-u", "auditor", "--insecure"]


class _NotVSphere(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.send_response(404)
        self.end_headers()
        self.wfile.write(b"nothing here")

    do_GET = do_POST

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _NotVSphere)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_version() -> None:
    out = run_cli("--version")
    assert out.returncode == 0
    assert out.stdout.startswith("balloon-audit ")


def test_usage_error_exits_2_from_a_real_process() -> None:
    out = run_cli("scan", "-u", "x")
    assert out.returncode == 2
    assert "no server" in out.stderr


@pytest.mark.live
def test_wrong_password_exits_3_without_leaking(vcsim_with_login: VcsimEndpoint) -> None:
    wrong = "Wr0ng-" + SECRET
    out = run_cli(*server_args(vcsim_with_login), "--json", "-", password=wrong)
    assert out.returncode == 3, out.stdout + out.stderr
    assert "login" in out.stderr.lower() or "password" in out.stderr.lower()
    assert wrong not in out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    [source] = json.loads(out.stdout)["sources"]
    assert (source["status"], source["error_kind"]) == ("failed", "login")


@pytest.mark.live
def test_password_from_stdin(vcsim_with_login: VcsimEndpoint) -> None:
    out = run_cli(
        *server_args(vcsim_with_login),
        "--password-stdin",
        "--fail-on",
        "never",
        password=None,
        stdin=SECRET + "\n",
    )
    assert out.returncode == 0, out.stderr


def test_unreachable_server_exits_3() -> None:
    out = run_cli("scan", "-s", f"127.0.0.1:{free_port()}", "-u", "x", "--insecure")
    assert out.returncode == 3
    assert "Traceback" not in out.stderr
    assert "127.0.0.1" in out.stderr


def test_wrong_port_exits_3(plain_http_port: int) -> None:
    out = run_cli(
        "scan",
        "--json",
        "-",
        "-s",
        f"127.0.0.1:{plain_http_port}",
        "-u",
        "x",
        "--insecure",
        "--connect-timeout",
        "5",
        "--timeout",
        "5",
    )
    assert out.returncode == 3
    assert "Traceback" not in out.stderr
    [source] = json.loads(out.stdout)["sources"]
    assert source["error_kind"] == "protocol", source


@pytest.mark.live
def test_fail_on_thresholds_and_json(vcsim_with_login: VcsimEndpoint, tmp_path: Path) -> None:
    # vcsim's model VMs report no memory quickStats (BA901, info) and no VMware Tools on an
    # unknown guest ("otherGuest"): BA101 decides from guest info alone, critical.
    args = server_args(vcsim_with_login)
    ok = run_cli(*args, "--fail-on", "never", "--json", str(tmp_path / "r.json"))
    assert ok.returncode == 0, ok.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["schema"] == "balloon-audit/1"
    assert data["sources"][0]["status"] == "ok"
    assert data["summary"]["by_severity"]["info"] == len(data["vms"]) > 0
    assert data["summary"]["by_severity"]["critical"] == len(data["vms"])
    assert {f["rule"] for f in data["findings"]} == {"BA901", "BA101"}
    assert SECRET not in (tmp_path / "r.json").read_text()
    assert run_cli(*args, "--fail-on", "critical", "--quiet").returncode == 1


@pytest.mark.live
def test_quiet_prints_nothing(vcsim_with_login: VcsimEndpoint) -> None:
    out = run_cli(*server_args(vcsim_with_login), "--quiet", "--fail-on", "never")
    assert out.returncode == 0
    assert out.stdout == "" and out.stderr == ""


@pytest.mark.live
def test_json_to_stdout_is_only_json(vcsim_with_login: VcsimEndpoint) -> None:
    out = run_cli(*server_args(vcsim_with_login), "--json", "-", "--fail-on", "never")
    assert out.returncode == 0
    assert json.loads(out.stdout)["schema"] == "balloon-audit/1"


@pytest.mark.live
def test_one_dead_vcenter_does_not_hide_the_other(
    vcsim_with_login: VcsimEndpoint, tmp_path: Path
) -> None:
    dead = f"127.0.0.1:{free_port()}"
    out = run_cli(
        *server_args(vcsim_with_login),
        "-s",
        dead,
        "--json",
        str(tmp_path / "r.json"),
        "--fail-on",
        "never",
    )
    assert out.returncode == 3, "a failed vCenter is a failed audit, whatever --fail-on says"
    data = json.loads((tmp_path / "r.json").read_text())
    status = {s["server"]: s["status"] for s in data["sources"]}
    assert status[dead] == "failed"
    assert status[f"127.0.0.1:{vcsim_with_login.port}"] == "ok"
    kinds = {s["server"]: s["error_kind"] for s in data["sources"]}
    assert kinds == {dead: "unreachable", f"127.0.0.1:{vcsim_with_login.port}": None}
    assert data["vms"], "the healthy vCenter's VMs are still reported"
    assert any(f["rule"] == "BA902" and f["entity"]["name"] == dead for f in data["findings"])


@pytest.mark.live
def test_a_report_path_that_is_a_folder_is_refused_before_connecting(
    vcsim_with_login: VcsimEndpoint, tmp_path: Path
) -> None:
    """Known before the scan: a usage error, nothing written. (A report that fails only when
    written, e.g. on a read-only file system, leaves the others written: tests/faults.)"""
    (tmp_path / "taken.html").mkdir()  # a directory where the HTML file should go
    out = run_cli(
        *server_args(vcsim_with_login),
        "--fail-on",
        "never",
        "--html",
        str(tmp_path / "taken.html"),
        "--json",
        str(tmp_path / "r.json"),
    )
    assert out.returncode == 2
    assert "taken.html" in out.stderr and "folder" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.live
def test_report_rerenders_from_json(vcsim_with_login: VcsimEndpoint, tmp_path: Path) -> None:
    scan = run_cli(
        *server_args(vcsim_with_login),
        "--json",
        str(tmp_path / "r.json"),
        "-q",
        "--fail-on",
        "never",
    )
    assert scan.returncode == 0
    out = run_cli(
        "report",
        str(tmp_path / "r.json"),
        "--html",
        str(tmp_path / "r.html"),
        "--xlsx",
        str(tmp_path / "r.xlsx"),
    )
    assert out.returncode == 0, out.stderr
    assert "<html" in (tmp_path / "r.html").read_text(encoding="utf-8")[:500].lower()
    assert (tmp_path / "r.xlsx").read_bytes()[:2] == b"PK"


def test_an_unexpected_error_exits_3_not_1(tmp_path: Path, monkeypatch, capsys) -> None:
    """A bug must never look like "findings found" (exit 1) to a cron job."""
    from balloon_audit import cli
    from balloon_audit.report import writers

    result = tmp_path / "r.json"
    result.write_text(run_cli("scan", "--replay", str(DEMO_CASSETTE), "--json", "-").stdout)

    def broken(*args, **kwargs):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(writers, "write_reports", broken)
    monkeypatch.delenv("BALLOON_AUDIT_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", ["balloon-audit", "report", str(result), "--html", "x.html"])
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    assert exit_info.value.code == 3
    assert "internal error: RuntimeError: renderer exploded" in capsys.readouterr().err
