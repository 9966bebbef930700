"""``history = …`` in the configuration file and the fleet file, and who wins.

Real `balloon-audit` processes replay the demo capture; PostgreSQL is a real server whose
password comes from a libpq password file, never from the URL in the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from balloon_audit.history.setting import choose
from tests.paths import CASSETTES, ROOT
from tests.pgserver import PgServer

DEMO = str(CASSETTES / "demo.yaml")


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``balloon-audit ARGS`` with a private default history under ``tmp_path``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("BALLOON_AUDIT_", "PG"))}
    environ.update({"XDG_STATE_HOME": str(tmp_path / "state"), "COLUMNS": "200", **env})
    return subprocess.run(
        [sys.executable, "-m", "balloon_audit", *args],
        cwd=ROOT, capture_output=True, text=True, env=environ, timeout=180, check=False,
    )  # fmt: skip


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def default_db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "balloon-audit" / "history.sqlite"


def test_the_first_that_says_wins() -> None:
    assert choose(True, "x.sqlite", "fleet.sqlite", "config.sqlite").on is False
    assert choose(False, "x.sqlite", False, "config.sqlite").url == "x.sqlite"
    assert choose(False, None, "fleet.sqlite", "config.sqlite").url == "fleet.sqlite"
    off = choose(False, None, False, "config.sqlite")
    assert off.on is False and off.origin == "history = false in the fleet file"
    assert choose(False, None, None, "config.sqlite").url == "config.sqlite"
    assert choose(False, None, None, True).url is None  # true: the default database
    assert choose(False, None, None, None).origin == "default"


def test_configuration_file_names_the_database(tmp_path: Path) -> None:
    team = tmp_path / "team.sqlite"
    cfg = write(tmp_path / "config.toml", f'history = "{team}"\n\n[rules.BA101]\n')
    done = cli(tmp_path, "scan", "--replay", DEMO, "--config", str(cfg), "--quiet")
    assert done.returncode == 1, done.stderr
    assert team.is_file() and not default_db(tmp_path).exists()
    listed = cli(tmp_path, "history", "list", "--config", str(cfg))
    assert listed.returncode == 0 and listed.stdout.count("vcenter-1.invalid") == 1
    # --history (or $BALLOON_AUDIT_HISTORY) beats the file
    other = tmp_path / "other.sqlite"
    done = cli(tmp_path, "scan", "--replay", DEMO, "--config", str(cfg), "--quiet",
               BALLOON_AUDIT_HISTORY=str(other))  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert other.is_file()
    assert cli(tmp_path, "history", "list", "--config", str(cfg)).stdout.count("vcenter-1") == 1


def test_history_false_turns_it_off(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config.toml", "history = false\n")
    done = cli(tmp_path, "scan", "--replay", DEMO, "--config", str(cfg), "--quiet")
    assert done.returncode == 1, done.stderr
    assert not default_db(tmp_path).exists(), "nothing recorded"
    new = cli(tmp_path, "scan", "--replay", DEMO, "--config", str(cfg), "--fail-on", "new")
    assert new.returncode == 2
    assert "--fail-on new needs the history" in new.stderr
    assert "history = false in the configuration file" in new.stderr
    listed = cli(tmp_path, "history", "list", "--config", str(cfg))
    assert listed.returncode == 2 and "the history is off" in listed.stderr


def test_fleet_file_beats_the_configuration_file(tmp_path: Path) -> None:
    fleet_db, config_db = tmp_path / "fleet.sqlite", tmp_path / "config.sqlite"
    cfg = write(tmp_path / "config.toml", f'history = "{config_db}"\n')
    fleet = write(
        tmp_path / "fleet.toml",
        f'history = "{fleet_db}"\n\n[[fleet]]\nserver = "vc1.example.test"\n'
        'user = "audit"\npassword_env = "VC1_PASSWORD"\n',
    )
    assert cli(tmp_path, "scan", "--replay", DEMO, "--config", str(cfg)).returncode == 1
    listed = cli(tmp_path, "history", "list", "--config", str(cfg), "--fleet", str(fleet))
    assert listed.returncode == 0 and "No runs stored yet." in listed.stdout
    assert fleet_db.is_file() and config_db.is_file()
    off = write(tmp_path / "off.toml", "history = false\n" + fleet.read_text().split("\n", 1)[1])
    listed = cli(tmp_path, "history", "list", "--config", str(cfg), "--fleet", str(off))
    assert listed.returncode == 2 and "history = false in the fleet file" in listed.stderr


@pytest.mark.parametrize(
    "url",
    ["postgresql://audit:Secr3t-pw@db.example.com/balloon",
     "postgresql://audit@db.example.com/balloon?password=Secr3t-pw"],
)  # fmt: skip
@pytest.mark.parametrize("kind", ["config", "fleet"])
def test_a_password_in_the_file_is_refused_and_never_shown(tmp_path: Path, url, kind) -> None:
    path = write(tmp_path / f"{kind}.toml", f'history = "{url}"\n' + (
        '[[fleet]]\nserver = "vc1"\nuser = "a"\npassword_env = "X"\n' if kind == "fleet" else ""
    ))  # fmt: skip
    done = cli(tmp_path, "history", "list", f"--{kind}", str(path))
    assert done.returncode == 2
    assert "history: must not hold a password" in done.stderr and "PGPASSFILE" in done.stderr
    assert "Secr3t-pw" not in done.stderr + done.stdout


def test_postgresql_from_the_file_with_a_password_file(tmp_path: Path, pg_server: PgServer):
    """The file names the server and user; libpq reads the password from ``passfile``."""
    pg_server.create_database("history_from_file")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{pg_server.port}:*:{pg_server.user}:{pg_server.password}\n")
    passfile.chmod(0o600)
    url = f"postgresql://{pg_server.user}@127.0.0.1:{pg_server.port}/history_from_file"
    cfg = write(tmp_path / "config.toml", f'history = "{url}?passfile={passfile}"\n')
    first = cli(tmp_path, "scan", "--replay", DEMO, "--config", str(cfg), "--quiet")
    assert first.returncode == 1, first.stderr
    # the same URL without passfile: $PGPASSFILE, as cron's environment would give it
    plain = write(tmp_path / "plain.toml", f'history = "{url}"\n')
    second = cli(tmp_path, "scan", "--replay", DEMO, "--config", str(plain), "--fail-on", "new",
                 PGPASSFILE=str(passfile))  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "History: since run 1" in second.stdout
    listed = cli(tmp_path, "history", "list", "--config", str(plain), PGPASSFILE=str(passfile))
    assert listed.returncode == 0 and listed.stdout.count("vcenter-1.invalid") == 2
    assert not default_db(tmp_path).exists()
    # without a password from anywhere: exit 3 with the reason, reports still written
    report = tmp_path / "r.json"
    third = cli(tmp_path, "scan", "--replay", DEMO, "--config", str(plain), "--json", str(report),
                PGPASSFILE=str(tmp_path / "none"))  # fmt: skip
    assert third.returncode == 3 and report.is_file()
    assert "error: history database" in third.stderr and "PGPASSWORD" in third.stderr
    assert pg_server.password not in third.stderr + first.stderr + second.stderr
