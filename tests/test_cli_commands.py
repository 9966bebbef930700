"""Commands as printed and documented: they run as written, without HOME, and say what they do.

Real processes (``python -m balloon_audit``) against the recorded demo fleet and a real
listening socket; nothing is stubbed except, for one in-process test, the passwd lookup
that a container without a passwd entry lacks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from balloon_audit.config_toml import thresholds_text, toml_value
from balloon_audit.program import program
from tests.paths import CASSETTES, ROOT

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

DEMO = CASSETTES / "demo.yaml"


def run(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    base["COLUMNS"] = "120"
    return subprocess.run(
        [sys.executable, "-m", "balloon_audit", *args],
        capture_output=True,
        text=True,
        env=base if env is None else env,
        cwd=ROOT,
        timeout=120,
        **kw,
    )


@pytest.mark.parametrize(
    "command", [("scan",), ("report",), ("rules",), ("lab", "up"), ("lab", "down")]
)
def test_help_shows_flags_without_a_value_placeholder(command):
    done = run(*command, "--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "<bool>" not in text and "BOOLEAN" not in text
    for flag in ("--help", "--quiet", "--insecure", "--json", "--toml", "--summary"):
        # A flag is followed by its description (or nothing), never by a placeholder.
        assert not re.search(rf"{flag}\s+[<A-Z]{{2}}", text), (flag, text)


def test_rules_prints_thresholds_as_toml():
    done = run("rules")
    assert done.returncode == 0, done.stderr
    assert "report_supported_old = true" in " ".join(done.stdout.split())
    assert "True" not in done.stdout and "('" not in done.stdout
    assert tomllib.loads(f"x = {toml_value(('k8s', 'kube'))}") == {"x": ["k8s", "kube"]}
    params = {"a_pct": 10, "ratio": 1.5, "on": True, "names": ("k8s", "kube"), "s": 'q"x'}
    for key, value in params.items():
        parsed = tomllib.loads(thresholds_text({key: value}))[key]
        assert parsed == (list(value) if isinstance(value, tuple) else value)


def test_rules_toml_is_a_config_the_scan_accepts_as_is(tmp_path):
    written = run("rules", "--toml")
    assert written.returncode == 0, written.stderr
    config = tmp_path / "config.toml"
    config.write_text(written.stdout)
    assert "[rules.BA301]" in written.stdout and written.stdout.count("\n# ") > 20  # commented
    defaults = json.loads(run("rules", "--json").stdout)
    again = json.loads(run("rules", "--json", "--config", str(config)).stdout)
    for a, b in zip(defaults, again, strict=True):
        assert (a["id"], a["severity"], a["enabled"], a["thresholds"]) == (
            b["id"],
            b["severity"],
            b["enabled"],
            b["thresholds"],
        )
    plain = run("scan", "--replay", str(DEMO), "--json", "-")
    tuned = run("scan", "--replay", str(DEMO), "--json", "-", "--config", str(config))
    assert plain.returncode == tuned.returncode == 1, tuned.stderr
    assert json.loads(plain.stdout)["findings"] == json.loads(tuned.stdout)["findings"]
    # And a changed value is read back.
    config.write_text(written.stdout.replace("warning_pct = 10", "warning_pct = 15", 1))
    tuned = json.loads(run("rules", "--json", "--config", str(config)).stdout)
    assert 15 in [row["thresholds"].get("warning_pct") for row in tuned]


def _no_home_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep} | {"COLUMNS": "100"}


@pytest.mark.parametrize(
    "args",
    [
        ("rules",),
        ("rules", "--toml"),
        ("scan", "--replay", str(DEMO), "--summary"),
        ("lab", "list"),
    ],
)
def test_no_command_needs_a_home_directory(args):
    """HOME unset: and, when we can become a user without a passwd entry, that too."""
    env = _no_home_env()
    prefix: list[str] = []
    if os.geteuid() == 0 and shutil.which("setpriv"):
        prefix = ["setpriv", "--reuid=54321", "--regid=54321", "--clear-groups"]
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import balloon_audit"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        )
        if probe.returncode != 0:  # this checkout is not readable by other users
            prefix = []
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "balloon_audit", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), (prefix, done.stderr)
    assert "internal error" not in done.stderr and "home directory" not in done.stderr


def test_no_passwd_entry_in_process(monkeypatch):
    """The same without becoming another user: the passwd lookup fails as it does then."""
    import pwd

    from typer.testing import CliRunner

    from balloon_audit.cli import app

    def no_entry(uid: int):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    with pytest.raises(RuntimeError):
        Path.home()
    result = CliRunner().invoke(app, ["rules", "--toml"])
    assert result.exit_code == 0, (result.stdout, result.exception)
    from balloon_audit.lab import default_state_dir

    assert default_state_dir().is_absolute()


def test_output_paths_are_checked_before_any_vcenter_is_contacted(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    env["BALLOON_AUDIT_PASSWORD"] = "not-used"
    try:
        for option, target in (
            ("--html", tmp_path / "missing" / "r.html"),
            ("--xlsx", tmp_path),  # a folder
            ("--json", tmp_path / "missing" / "r.json"),
        ):
            done = run("scan", "-s", f"127.0.0.1:{port}", "-u", "u", option, str(target), env=env)
            assert done.returncode == 2, done.stderr
            assert option in done.stderr and str(target) in " ".join(done.stderr.split())
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked
    finally:
        listener.close()


def test_the_printed_command_runs_where_it_was_printed(tmp_path):
    checkout_script = tmp_path / ".venv" / "bin" / "balloon-audit"
    checkout_script.parent.mkdir(parents=True)
    checkout_script.write_text("#!/bin/sh\n")
    checkout_script.chmod(0o755)
    # Not on PATH (a checkout): the hint names the script so it runs as written.
    assert program(str(checkout_script), path="/usr/bin", cwd=tmp_path) == ".venv/bin/balloon-audit"
    # Installed and on PATH: the plain name.
    on_path = str(checkout_script.parent)
    assert program(str(checkout_script), path=on_path, cwd=tmp_path) == "balloon-audit"
    # Started as a module.
    assert program("/x/__main__.py").endswith("-m balloon_audit")
