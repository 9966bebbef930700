"""The history through the command line: scan records, history list/show/prune, failures exit 3."""

from __future__ import annotations

import json
from pathlib import Path

from tests.paths import CASSETTES
from tests.test_cli import run_cli

DEMO = str(CASSETTES / "demo.yaml")


def _replay(history: str, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli("scan", "--replay", DEMO, "--history", history, "--json", str(out), *extra)


def test_scan_records_and_history_commands_read_it(tmp_path: Path) -> None:
    db = str(tmp_path / "h.sqlite")
    first = _replay(db, tmp_path / "1.json")
    assert first.returncode == 1, first.stderr
    assert "first run of this scope in the history" in first.stdout
    second = _replay(db, tmp_path / "2.json", "--fail-on", "new")
    assert second.returncode == 0, "the same capture again: nothing new"
    assert "History: since run 1" in second.stdout
    data = json.loads((tmp_path / "2.json").read_text(encoding="utf-8"))
    assert data["changes"]["previous"]["run_id"] == 1
    assert {c["status"] for c in data["changes"]["findings"]} == {"persisting"}

    listed = run_cli("history", "list", "--history", db)
    assert listed.returncode == 0 and " 2 " in listed.stdout and " 1 " in listed.stdout
    shown = run_cli("history", "show", "2", "--history", db)
    assert shown.returncode == 0 and "first seen" in shown.stdout and "persisting" in shown.stdout
    missing = run_cli("history", "show", "99", "--history", db)
    assert missing.returncode == 3 and "no run 99" in missing.stderr
    pruned = run_cli("history", "prune", "--keep-runs", "1", "--history", db)
    assert pruned.returncode == 0 and "deleted 1 run" in pruned.stdout
    nothing = run_cli("history", "prune", "--history", db)
    assert nothing.returncode == 2


def test_default_location_honours_xdg_state_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    done = run_cli("scan", "--replay", DEMO, "--quiet")
    assert done.returncode == 1, done.stderr
    assert (tmp_path / "state" / "balloon-audit" / "history.sqlite").is_file()
    assert run_cli("scan", "--replay", DEMO, "--quiet", "--no-history").returncode == 1
    listed = run_cli("history", "list")
    assert listed.stdout.count("vcenter-1.invalid") == 1, "--no-history recorded nothing"


def test_corrupt_history_still_writes_reports(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    db.write_bytes(b"definitely not sqlite " * 200)
    done = run_cli(
        "scan", "--replay", DEMO, "--history", str(db), "--json", str(tmp_path / "r.json"),
        "--html", str(tmp_path / "r.html"),
    )  # fmt: skip
    assert done.returncode == 3
    assert "error: history database" in done.stderr and "hint:" in done.stderr
    assert "Traceback" not in done.stderr
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert "changes" not in data and data["findings"]
    assert (tmp_path / "r.html").stat().st_size > 10_000
    assert "Findings" in done.stdout, "the console summary is still printed"


def test_unreachable_postgresql_hides_the_password(tmp_path: Path) -> None:
    from tests.live import free_port

    url = f"postgresql://audit:s3cret-pw@127.0.0.1:{free_port()}/history"
    done = _replay(url, tmp_path / "r.json")
    assert done.returncode == 3
    assert "s3cret-pw" not in done.stderr + done.stdout
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert "s3cret-pw" not in data["run_by"]["command"]
    assert "audit:***@" in data["run_by"]["command"]


def test_fail_on_new_needs_the_history(tmp_path: Path) -> None:
    done = run_cli("scan", "--replay", DEMO, "--no-history", "--fail-on", "new")
    assert done.returncode == 2 and "--fail-on new needs the history" in done.stderr


def test_diff_refuses_nonsense(tmp_path: Path) -> None:
    done = run_cli("diff", "nope.json", "also-nope", "--history", str(tmp_path / "h.sqlite"))
    assert done.returncode == 2 and "neither a result file nor a run ID" in done.stderr


def test_lab_change_needs_a_change_and_a_running_lab(tmp_path: Path) -> None:
    nothing = run_cli("lab", "change", "vm-1", "--state-dir", str(tmp_path))
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    no_lab = run_cli("lab", "change", "vm-1", "--swapped-mb", "5", "--state-dir", str(tmp_path))
    assert no_lab.returncode == 3 and "no lab is running" in no_lab.stderr
