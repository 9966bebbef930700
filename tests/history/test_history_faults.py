"""A history database that cannot be used never stops the reports: exit 3 with the reason.

Each fault is real: another process holds SQLite's write lock, a file that is not a
database, a read-only directory (as root, the command runs without CAP_DAC_OVERRIDE, so
permissions apply to it too), a database written by a newer balloon-audit.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from balloon_audit.history import schema
from balloon_audit.history.store import HistoryStore
from tests.paths import CASSETTES, ROOT

DEMO = str(CASSETTES / "demo.yaml")
AS_ROOT_WITHOUT_OVERRIDE = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--")
"""Root keeps its uid but loses the capabilities that ignore file permissions."""


def scan_with(history: str, out: Path, *, obey_permissions: bool = False):
    """A scan of the demo capture with all three reports; returns the process and reports."""
    reports = {kind: out / f"r.{kind}" for kind in ("json", "html", "xlsx")}
    outputs = [arg for kind, path in reports.items() for arg in (f"--{kind}", str(path))]
    command = [sys.executable, "-m", "balloon_audit", "scan", "--replay", DEMO,
               "--history", history, *outputs]  # fmt: skip
    if obey_permissions and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            reason = "setpriv (util-linux) is needed to drop root's permission override"
            if os.environ.get("CI"):
                pytest.fail(reason + " -- CI must not skip fault tests")
            pytest.skip(reason)
        command = [*AS_ROOT_WITHOUT_OVERRIDE, *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=180)
    return done, reports


def assert_reports_despite(done: subprocess.CompletedProcess, reports: dict[str, Path]) -> None:
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "error: history database" in done.stderr or "error: cannot create" in done.stderr
    assert "hint:" in done.stderr
    assert "Findings" in done.stdout, "the console summary is printed"
    for path in reports.values():
        assert path.stat().st_size > 5_000, path
    data = json.loads(reports["json"].read_text(encoding="utf-8"))
    assert data["findings"] and "changes" not in data


def test_locked_by_another_process(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    HistoryStore.open(str(db)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, sys
            conn = sqlite3.connect({str(db)!r}, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        done, reports = scan_with(f"sqlite:///{db}?timeout=1", tmp_path)
    finally:
        holder.communicate("done\n", timeout=30)
    assert_reports_despite(done, reports)
    assert "database is locked" in done.stderr
    assert "another balloon-audit is writing to it" in done.stderr


def test_corrupt_file(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))  # a damaged header and pages
    done, reports = scan_with(str(db), tmp_path)
    assert_reports_despite(done, reports)
    assert "damaged" in done.stderr


@pytest.mark.parametrize("existing", [False, True], ids=["new database", "existing database"])
def test_read_only_directory(tmp_path: Path, existing: bool) -> None:
    folder = tmp_path / "history"
    folder.mkdir()
    if existing:
        HistoryStore.open(str(folder / "h.sqlite")).close()
    out = tmp_path / "out"
    out.mkdir()
    folder.chmod(0o555)
    if existing:
        (folder / "h.sqlite").chmod(0o444)
    try:
        done, reports = scan_with(str(folder / "h.sqlite"), out, obey_permissions=True)
    finally:
        folder.chmod(0o755)
    assert_reports_despite(done, reports)
    assert "writable" in done.stderr


def test_database_of_a_newer_balloon_audit(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    HistoryStore.open(str(db)).close()
    with sqlite3.connect(db) as conn:
        conn.execute(
            f"INSERT INTO {schema.schema_versions.name} (version, applied_at, tool_version)"
            " VALUES (99, '2027-01-01T00:00:00Z', '9.9')"
        )
    before = db.read_bytes()
    done, reports = scan_with(str(db), tmp_path)
    assert done.returncode == 3
    assert "schema version 99, newer than" in done.stderr and "upgrade balloon-audit" in done.stderr
    for path in reports.values():
        assert path.stat().st_size > 5_000, path
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    assert len(db.read_bytes()) == len(before)
