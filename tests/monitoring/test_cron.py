"""Cron hygiene: local dated names, retention, `latest` pointers, one run at a time."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from balloon_audit.cron import prune, run_stamp
from balloon_audit.lab.vcsim import start_vcsim, stop_vcsim
from tests.live import require_vcsim
from tests.paths import CASSETTES

DATED = re.compile(r"balloon-audit-\d{8}-\d{6}[+-]\d{4}(-\d+)?\.(json|html|xlsx)\Z")


def _run_order(name: str) -> tuple[str, int]:
    """Order dated names by stamp, then by the collision suffix (no suffix = first, then -2, -3)."""
    match = re.match(r"(.*[+-]\d{4})(?:-(\d+))?\.\w+\Z", name)
    assert match, name
    return match.group(1), int(match.group(2) or 1)


def touch(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_text("x")


def test_prune_deletes_only_this_tools_old_runs(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "balloon-audit-20261101-020000+0100.json",
        "balloon-audit-20261101-020000+0100.html",
        "balloon-audit-20261102-020000+0100.json",
        "balloon-audit-20261102-020000+0100-2.json",
        "balloon-audit-20261103-020000.json",  # an older UTC name
        "balloon-audit-20261104-020000+0100.csv",
        "balloon-audit-20261104-020000+0100-vms.csv",
        "balloon-audit-notes.json",
        "notes.txt",
        "balloon-audit-20261101-020000+0100.json.bak",
    )
    deleted = prune(tmp_path, keep=2)
    assert sorted(p.name for p in deleted) == [
        "balloon-audit-20261101-020000+0100.html",
        "balloon-audit-20261101-020000+0100.json",
        "balloon-audit-20261102-020000+0100-2.json",
        "balloon-audit-20261102-020000+0100.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "balloon-audit-20261101-020000+0100.json.bak",
        "balloon-audit-20261103-020000.json",
        "balloon-audit-20261104-020000+0100-vms.csv",
        "balloon-audit-20261104-020000+0100.csv",
        "balloon-audit-notes.json",
        "notes.txt",
    ]
    now = datetime(2026, 11, 5, 1, 0, tzinfo=timezone.utc)
    assert [p.name for p in prune(tmp_path, keep_days=1.5, now=now)] == [
        "balloon-audit-20261103-020000.json"
    ]


def test_run_stamp_reads_the_offset() -> None:
    stamp = run_stamp(Path("balloon-audit-20261130-020000-0500-3.html"))
    assert stamp == datetime(2026, 11, 30, 7, 0, tzinfo=timezone.utc)
    assert stamp.utcoffset() == timedelta(hours=-5)
    assert run_stamp(Path("report.html")) is None


def env_without_ours() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BALLOON_AUDIT_", "GOVC_"))}
    env["BALLOON_AUDIT_PASSWORD"] = "any"
    env["TZ"] = "Europe/Paris"
    return env


def scan(out: Path, *extra: str, server: str | None = None, background: bool = False):
    source = (
        ["-s", server, "-u", "u", "-k"] if server else ["--replay", str(CASSETTES / "demo.yaml")]
    )
    cmd = [sys.executable, "-m", "balloon_audit", "scan", *source, "--output-dir", str(out),
           "-q", *extra]  # fmt: skip
    if background:
        return subprocess.Popen(
            cmd, env=env_without_ours(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(cmd, env=env_without_ours(), capture_output=True, text=True, timeout=180)


def lock_held(out: Path) -> bool:
    """Another process holds the directory's run lock (a flock on the directory)."""
    if not out.exists():
        return False
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the lock if this test took it
    return False


@pytest.mark.live
def test_two_concurrent_runs_lock_retention_and_latest(tmp_path: Path) -> None:
    """A slow run holds the lock; a second exits 3 at once, a third waits, then retention."""
    require_vcsim()
    slow = start_vcsim(["-method-delay", "RetrievePropertiesEx:1500"])
    out = tmp_path / "reports"
    (out).mkdir()
    touch(out, "notes.txt")
    try:
        first = scan(out, server=f"127.0.0.1:{slow.port}", background=True)
        deadline = time.monotonic() + 60
        while not lock_held(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock_held(out)
        started = time.monotonic()
        second = scan(out, "--fail-on", "never")
        assert second.returncode == 3, second.stderr
        assert "another balloon-audit run is writing to" in second.stderr
        assert "--wait-lock" in second.stderr
        assert time.monotonic() - started < 30
        assert first.poll() is None, "the first run was still going: the runs overlapped"
        third = scan(out, "--fail-on", "never", "--wait-lock", "120")
        assert first.wait(timeout=120) in (0, 1), first.stderr.read()
        assert third.returncode == 0, third.stderr
    finally:
        stop_vcsim(slow.pid)
    dated = sorted(p.name for p in out.iterdir() if DATED.match(p.name))
    assert len(dated) == 6, dated  # the first and the third run, 3 formats each
    assert all("+0100" in n or "+0200" in n for n in dated), "local time (Paris) with offset"
    latest = out / "balloon-audit-latest.json"
    assert latest.is_symlink()
    assert json.loads(latest.read_text())["tool_version"]
    newest = max((n for n in dated if n.endswith(".json")), key=_run_order)
    assert os.readlink(latest) == newest
    fourth = scan(out, "--fail-on", "never", "--keep", "1")
    assert fourth.returncode == 0, fourth.stderr
    kept = sorted(p.name for p in out.iterdir() if DATED.match(p.name))
    assert len(kept) == 3 and not set(kept) & set(dated), "only the newest run is kept"
    assert (out / "notes.txt").exists(), "other files are never deleted"
    assert os.readlink(latest) in kept


def test_quiet_prints_one_summary_line_when_the_exit_code_is_not_0(tmp_path: Path) -> None:
    done = scan(tmp_path)
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("balloon-audit: exit 1: ") and "critical" in line
    assert str(tmp_path) in line
    assert scan(tmp_path, "--fail-on", "never").stderr == ""


def test_keep_needs_an_output_dir() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "balloon_audit", "scan", "--replay", str(CASSETTES / "demo.yaml"),
         "--keep", "3"],
        capture_output=True, text=True, env=env_without_ours(), timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "--keep and --keep-days apply to --output-dir" in done.stderr
