"""Usage mistakes caught before anything is contacted, and run-level guarantees:
one vCenter under two names, never-colliding dated names, captures that cannot be
written, IPv6 recording, password-free messages, a closed standard output."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from balloon_audit.lab.vcsim import VcsimEndpoint
from tests.faults.harness import PASSWORD, command, env, one_line_error, run, stray_files
from tests.faults.servers import SilentServer, SoapProxy, serving
from tests.paths import CASSETTES

DEMO = str(CASSETTES / "demo.yaml")


def scan(port: int, *options: str) -> list[str]:
    return ["scan", "-s", f"127.0.0.1:{port}", "-u", "auditor", "--insecure", *options]


@pytest.mark.parametrize(
    ("case", "args", "pattern"),
    [
        ("--replay with --server", ["scan", "--replay", DEMO, "-s", "vc01"], r"--server"),
        ("--replay with --record", ["scan", "--replay", DEMO, "--record", "c.yaml"],
         r"--record"),
        ("--timeout inf", ["scan", "--replay", DEMO, "--timeout", "inf"], r"--timeout"),
        ("--timeout 1e12", ["scan", "--replay", DEMO, "--timeout", "1e12"], r"--timeout"),
        ("--connect-timeout nan", ["scan", "--replay", DEMO, "--connect-timeout", "nan"],
         r"--connect-timeout"),
        ("--deadline 0", ["scan", "--replay", DEMO, "--deadline", "0"], r"--deadline"),
        ("--port 70000", ["scan", "-s", "vc01", "--port", "70000"], r"--port"),
        ("--html X --xlsx X", ["scan", "--replay", DEMO, "--html", "X", "--xlsx", "X"],
         r"X and X are the same file"),
        ("--json X --html ./X", ["scan", "--replay", DEMO, "--json", "X", "--html", "./X"],
         r"same file"),
        ("unknown option", ["scan", "--bogus"], r"No such option: --bogus"),
    ],
)  # fmt: skip
def test_usage_errors(case: str, args: list[str], pattern: str, tmp_path: Path) -> None:
    outcome = run(case, args, code=2, within_s=10, cwd=tmp_path)
    one_line_error(outcome, pattern)
    assert list(tmp_path.iterdir()) == []


def test_report_never_overwrites_its_input(tmp_path: Path) -> None:
    result = tmp_path / "r.json"
    run("scan for report input", ["scan", "--replay", DEMO, "--json", str(result), "-q",
        "--fail-on", "never"], code=0, within_s=20)  # fmt: skip
    before = result.read_bytes()
    outcome = run("report r.json --html r.json", ["report", str(result), "--html", str(result)],
                  code=2, within_s=10)  # fmt: skip
    one_line_error(outcome, r"same file")
    assert result.read_bytes() == before


@pytest.mark.parametrize(
    ("case", "options", "stdin", "pattern"),
    [
        ("empty --password-stdin", ["--password-stdin"], "\n", r"empty password"),
        ("--ca-bundle that is not PEM", ["--ca-bundle", "{bad_pem}"], None,
         r"no usable PEM certificate"),
        ("--record below a regular file", ["--record", "{bad_pem}/c.yaml"], None,
         r"cannot write capture"),
    ],
)  # fmt: skip
def test_refused_before_connecting(
    case: str, options: list[str], stdin: str | None, pattern: str, tmp_path: Path
) -> None:
    bad_pem = tmp_path / "ca.pem"
    bad_pem.write_text("this is not a certificate\n")
    options = [o.replace("{bad_pem}", str(bad_pem)) for o in options]
    with serving(SilentServer()) as silent:
        args = ["scan", "-s", f"127.0.0.1:{silent.port}", "-u", "auditor", *options]
        outcome = run(case, args, code=2, within_s=10, stdin=stdin)
        assert silent.connections == 0
    one_line_error(outcome, pattern)


@pytest.mark.live
def test_one_vcenter_under_two_names_is_audited_once(
    vcsim_default: VcsimEndpoint, tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    names = [f"127.0.0.1:{vcsim_default.port}", f"localhost:{vcsim_default.port}"]
    run("same vCenter as 127.0.0.1:P and localhost:P",
        ["scan", "-s", names[0], "-s", names[1], "-u", "auditor", "--insecure",
         "--fail-on", "never", "--json", str(out)], code=0, within_s=20)  # fmt: skip
    result = json.loads(out.read_text())
    [source] = result["sources"]
    assert sorted([source["server"], *source["aliases"]]) == sorted(names)
    assert source["instance_uuid"]
    moids = [vm["moid"] for vm in result["vms"]]
    assert len(moids) == len(set(moids)) == source["vm_count"]


@pytest.mark.live
def test_password_is_never_masked_into_messages(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "r.json"
    outcome = run(
        "password equal to the port number",
        scan(port, "--json", str(out)),
        code=3,
        within_s=15,
        environ=env(BALLOON_AUDIT_PASSWORD=str(port)),
    )
    one_line_error(outcome, rf"connection refused on port {port}\b")
    assert f"port {port}" in json.loads(out.read_text())["sources"][0]["error"]
    assert "***" not in outcome.stderr


@pytest.mark.live
def test_dated_names_never_collide(tmp_path: Path) -> None:
    result = tmp_path / "r.json"
    run("scan for dated names", ["scan", "--replay", DEMO, "--json", str(result), "-q",
        "--fail-on", "never"], code=0, within_s=20)  # fmt: skip
    out = tmp_path / "out"
    args = command("report", str(result), "--output-dir", str(out), "-q")
    started = time.monotonic()
    procs = [subprocess.Popen(args, env=env(), stderr=subprocess.PIPE) for _ in range(3)]
    codes = [proc.wait(60) for proc in procs]
    seconds = time.monotonic() - started
    names = sorted(p.name for p in out.iterdir())
    from tests.faults.harness import CATALOGUE

    CATALOGUE.append(("3 concurrent runs, same second, same dir", seconds,
                      f"exit {codes}: {len(names)} distinct files"))  # fmt: skip
    assert codes == [0, 0, 0]
    stems = {name.rsplit(".", 1)[0] for name in names}
    assert len(stems) == 3 and len(names) == 6, names  # html + xlsx each, nothing overwritten
    assert stray_files(out) == []


@pytest.mark.live
def test_record_over_ipv6(vcsim_default: VcsimEndpoint, certificate: Any, tmp_path: Path) -> None:
    try:
        proxy = SoapProxy(vcsim_default.port, certificate, host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    capture, out = tmp_path / "c.yaml.gz", tmp_path / "r.json"
    with serving(proxy):
        run("--record with -s [::1]:PORT",
            ["scan", "-s", f"[::1]:{proxy.port}", "-u", "auditor", "--insecure", "--fail-on",
             "never", "--record", str(capture), "--json", str(out), "-q"],
            code=0, within_s=20)  # fmt: skip
    assert json.loads(out.read_text())["sources"][0]["status"] == "ok"
    replayed = tmp_path / "replayed.json"
    run("--replay of the IPv6 capture", ["scan", "--replay", str(capture), "--json",
        str(replayed), "-q", "--fail-on", "never"], code=0, within_s=20)  # fmt: skip
    assert json.loads(replayed.read_text())["vms"]


@pytest.mark.live
def test_record_with_password_in_inventory_names(
    vcsim_default: VcsimEndpoint, tmp_path: Path
) -> None:
    capture = tmp_path / "c.yaml"
    run("--record, password equal to a cluster name",
        scan(vcsim_default.port, "--record", str(capture), "-q", "--fail-on", "never"),
        code=0, within_s=20, environ=env(BALLOON_AUDIT_PASSWORD="DC0_C0"))  # fmt: skip
    assert "<password>DC0_C0</password>" not in capture.read_text()
    replayed = tmp_path / "replayed.json"
    run("--replay keeps cluster DC0_C0", ["scan", "--replay", str(capture), "--json",
        str(replayed), "-q", "--fail-on", "never"], code=0, within_s=20)  # fmt: skip
    clusters = [c["name"] for c in json.loads(replayed.read_text())["clusters"]]
    assert "DC0_C0" in clusters, clusters


def _closed_stdout_run(case: str, args: list[str]) -> tuple[int, str, float]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: like `| head -c 0`
    started = time.monotonic()
    proc = subprocess.run(command(*args), stdout=write_end, stderr=subprocess.PIPE,
                          text=True, env=env(), timeout=60)  # fmt: skip
    os.close(write_end)
    seconds = time.monotonic() - started
    from tests.faults.harness import CATALOGUE

    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    CATALOGUE.append((case, seconds, f"exit {proc.returncode}: {(errors or [''])[0][:100]}"))
    assert "Traceback" not in proc.stderr and PASSWORD not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr, seconds


@pytest.mark.parametrize("json_to_stdout", [False, True])
def test_closed_stdout(json_to_stdout: bool, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    args = ["scan", "--replay", DEMO, "--html", str(out)]
    args += ["--json", "-"] if json_to_stdout else []
    case = "--json - | closed reader" if json_to_stdout else "scan | closed reader"
    code, stderr, seconds = _closed_stdout_run(case, args)
    assert code == 141, stderr
    assert "standard output was closed" in stderr
    assert out.read_text().rstrip().endswith("</html>")
    assert seconds < 20
