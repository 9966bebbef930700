"""The application service: scan/replay to an AuditResult, target merging, exit policy."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from balloon_audit import audit
from balloon_audit.config import Config
from balloon_audit.errors import ConfigError, ExitCode, ResultFileError
from balloon_audit.model import Severity
from tests.paths import CASSETTES

DEMO = CASSETTES / "demo.yaml"


def test_replay_returns_the_evaluated_result() -> None:
    result = audit.replay(DEMO, Config(), audit.RunOptions(run_by={"user": "t"}))
    assert result.findings and all(s.ok for s in result.sources)
    assert result.run_by == {"user": "t"}
    assert audit.exit_code(result, Severity.WARNING) == ExitCode.FINDINGS
    assert audit.exit_code(result, None) == ExitCode.OK


def test_a_failed_source_is_exit_3_whatever_fail_on_says() -> None:
    result = audit.replay(CASSETTES / "rejected-login.yaml", Config())
    [down] = [s for s in result.sources if not s.ok]
    assert down.error_kind == "login"
    assert audit.exit_code(result, None) == ExitCode.FAILED


def test_targets_merge_spec_and_options_and_ask_the_password_last(monkeypatch) -> None:
    for name in ("GOVC_URL", "GOVC_USERNAME", "GOVC_PASSWORD", "GOVC_INSECURE"):
        monkeypatch.delenv(name, raising=False)
    asked: list[str] = []

    def password(fallback: str | None) -> str:
        asked.append("yes")
        return fallback or "pw"

    options = audit.ConnectOptions(port=8443, user="ops", insecure=True)
    targets = audit.build_targets(
        ["vc01", "https://other@vc02:9443/sdk", "[::1]:444"], options, password
    )
    assert [(t.server, t.port, t.user) for t in targets] == [
        ("vc01", 8443, "ops"),
        ("vc02", 9443, "other"),
        ("::1", 444, "ops"),
    ]
    assert {t.password for t in targets} == {"pw"} and asked == ["yes"]
    for servers, user in (([], "ops"), (["vc01"], None)):
        with pytest.raises(ConfigError):
            audit.build_targets(servers, audit.ConnectOptions(user=user), password)
    assert asked == ["yes"], "no password is asked for when the options are wrong"


def test_rule_catalogue_shape() -> None:
    rows = audit.rule_catalogue(Config(disabled=frozenset({"BA104"})))
    by_id = {row["id"]: row for row in rows}
    assert by_id["BA104"]["enabled"] is False
    assert set(by_id["BA301"]) == {
        "id",
        "name",
        "severity",
        "enabled",
        "checks",
        "scope",
        "thresholds",
        "overridden",
    }


def test_a_damaged_result_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_bytes(b"\xff\xfe not text")
    with pytest.raises(ResultFileError) as info:
        audit.load_result(bad)
    assert info.value.exit_code == ExitCode.USAGE


ADD_A_FORMAT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from balloon_audit.report.formats import Format, register

    def write_txt(result, path):
        Path(path).write_text(f"{len(result.findings)} findings\\n")

    # What a new module in balloon_audit/report/ does when imported:
    register(Format("txt", help="Write a one-line text summary here.", write=write_txt))
    from balloon_audit.cli import run
    sys.argv = ["balloon-audit", *sys.argv[1:]]
    run()
    """
)


def test_a_new_format_needs_no_cli_edit(tmp_path: Path) -> None:
    """A registered format gets its --option, and --output-dir writes it."""
    help_text = subprocess.run(
        [sys.executable, "-c", ADD_A_FORMAT, "scan", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "200", "PATH": ""},
    ).stdout
    assert "--txt" in help_text and "one-line text summary" in help_text
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            ADD_A_FORMAT,
            "scan",
            "--replay",
            str(DEMO),
            "-q",
            "--fail-on",
            "never",
            "--txt",
            str(tmp_path / "r.txt"),
            "--output-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "r.txt").read_text().endswith(" findings\n")
    reports = [p for p in (tmp_path / "d").iterdir() if not p.is_symlink()]  # not latest links
    assert sorted(p.suffix for p in reports) == [
        ".html",
        ".json",
        ".txt",
        ".xlsx",
    ]


def test_json_to_stdout_replaces_the_console_summary(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "balloon_audit",
            "scan",
            "--replay",
            str(DEMO),
            "--json",
            "-",
            "--fail-on",
            "never",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["schema"] == "balloon-audit/1"


RERENDER_WITHOUT_RULES = textwrap.dedent(
    """
    import sys
    from balloon_audit.cli import app
    app(["report", sys.argv[1], "--html", sys.argv[2], "--xlsx", sys.argv[3], "-q"],
        standalone_mode=False)
    print(sorted(m for m in sys.modules if m.startswith("balloon_audit.rules")))
    """
)


def test_report_rerenders_without_the_rule_registry(tmp_path: Path) -> None:
    """A saved result describes its rules: re-rendering needs no rule code."""
    result = audit.replay(DEMO, Config())
    saved = tmp_path / "r.json"
    from balloon_audit.report.json_result import write_json

    write_json(result, saved)
    assert {r["id"] for r in json.loads(saved.read_text())["rules"]} >= {"BA301", "BA902"}
    html, xlsx = tmp_path / "r.html", tmp_path / "r.xlsx"
    out = subprocess.run(
        [sys.executable, "-c", RERENDER_WITHOUT_RULES, str(saved), str(html), str(xlsx)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout
    ba301 = next(r for r in result.rules if r.id == "BA301")
    assert ba301.rationale.split(".")[0] in html.read_text(encoding="utf-8")
