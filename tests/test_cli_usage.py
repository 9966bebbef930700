"""Usage errors and offline commands, in-process (Typer's CliRunner): exit code 2, clear text.

The same app object runs as in the console script; tests/test_cli.py keeps the
subprocess smoke tests (real process, real vcsim).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from balloon_audit.cli import app
from tests.live import free_port

SECRET = "Sup3r-S3cret!pw"


def invoke(*args: str, password: str | None = SECRET, stdin: str | None = None, **env: str):
    """Run the CLI in-process with no BALLOON_AUDIT_* variables but ``env`` (and the password)."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("BALLOON_AUDIT_")}
    clean["BALLOON_AUDIT_PASSWORD"] = password
    clean["COLUMNS"] = "200"
    clean.update(env)
    return CliRunner().invoke(app, list(args), input=stdin, env=clean)


def assert_usage_error(result: Result) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stderr


def test_rules_lists_the_catalogue_with_thresholds() -> None:
    result = invoke("rules", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    for rule_id in ("BA101", "BA201", "BA301", "BA302", "BA401", "BA901"):
        assert rule_id in rows
    assert rows["BA301"]["thresholds"], "BA301 declares its thresholds"


def test_no_server_is_a_usage_error() -> None:
    result = invoke("scan", "-u", "x")
    assert_usage_error(result)
    assert "no server" in result.stderr


def test_unknown_option_is_a_usage_error() -> None:
    assert_usage_error(invoke("scan", "--no-such-flag"))


def test_password_in_url_is_refused() -> None:
    result = invoke("scan", "-s", "https://root:hunter2@vc.example.com/sdk")
    assert_usage_error(result)
    assert "hunter2" not in result.stdout + result.stderr


def test_no_password_without_terminal_is_a_usage_error() -> None:
    result = invoke("scan", "-s", "127.0.0.1", "-u", "x", password=None, stdin="")
    assert_usage_error(result)
    assert "BALLOON_AUDIT_PASSWORD" in result.stderr


def test_report_refuses_a_file_that_is_not_a_result(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    result = invoke("report", str(bogus), "--html", str(tmp_path / "r.html"))
    assert_usage_error(result)
    assert "not a balloon-audit result" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_invalid_config_fails_before_connecting(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[rules.BA301]\nwarning_pct = -5\n", encoding="utf-8")
    # The server is a closed port: had the scan connected first, it would exit 3.
    result = invoke(
        "scan", "-s", f"127.0.0.1:{free_port()}", "-u", "x", "--insecure", "--config", str(config)
    )
    assert_usage_error(result)
    assert "rules.BA301.warning_pct" in result.stderr


def test_config_from_environment_variable_is_used_by_rules(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[rules]\ndisabled = ["BA104"]\n[rules.BA301]\nwarning_pct = 15\n')
    result = invoke("rules", "--json", BALLOON_AUDIT_CONFIG=str(config))
    assert result.exit_code == 0, result.stderr
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert rows["BA301"]["thresholds"]["warning_pct"] == 15
    assert rows["BA104"]["enabled"] is False


@pytest.mark.parametrize(
    "args",
    [
        ("report",),  # missing result file
        ("scan", "--fail-on", "sometimes", "-s", "vc"),  # not a choice
        ("scan", "--timeout", "soon", "-s", "vc"),  # not a number
    ],
)
def test_bad_arguments_are_usage_errors(args: tuple[str, ...]) -> None:
    assert_usage_error(invoke(*args))
