"""Fleet file validation: every mistake names the entry and the key, before any contact."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from balloon_audit.config_file import parse_config
from balloon_audit.errors import ConfigError
from balloon_audit.fleet_file import fetch_password, load_fleet, parse_fleet, select

BASE = {"server": "vc01.example.com", "user": "audit", "password_env": "VC01_PW"}


def error_of(entries: list[dict]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_fleet({"fleet": entries})
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"pasword_env": "X"},
            "fleet[0] (vc01.example.com).pasword_env: unknown fleet key "
            "(did you mean 'password_env'?)",
        ),
        ({"password": "x"}, "a password is never written in the fleet file"),
        ({"password_file": "/f"}, "has password_env and password_file: give exactly one"),
        ({"password_env": "not a name"}, "password_env: must be the name of an environment"),
        ({"password_command": "pass show vc"}, "password_command: must be a non-empty array"),
        ({"timeout": 0}, ".timeout: must be between 1 and 3600 seconds (got 0)"),
        ({"labels": {"site": 3}}, "labels: label 'site' must be a non-empty string"),
        ({"port": 70000}, ".port: must be a port number between 1 and 65535"),
        ({"server": "ftp://vc01"}, ".server: unsupported URL scheme 'ftp'"),
    ],
)
def test_mistakes_name_the_entry_and_key(change: dict, expected: str) -> None:
    assert expected in error_of([{**BASE, **change}])


def test_a_password_in_a_server_url_is_never_echoed() -> None:
    message = error_of([{**BASE, "server": "https://audit:S3cret@vc01/sdk"}])
    assert "S3cret" not in message
    assert "fleet[0] (https://vc01/sdk).server: the server URL contains a password" in message


def test_no_password_source() -> None:
    entry = {k: v for k, v in BASE.items() if k != "password_env"}
    assert "has no password source" in error_of([entry])


def test_entries_are_named_by_name_and_must_be_unique() -> None:
    message = error_of([{**BASE, "name": "paris"}, {**BASE, "name": "paris", "user": 5}])
    assert "fleet[1] (paris).user" in message
    assert "already used by fleet[0]" in error_of([BASE, BASE])


def test_several_problems_are_listed_together() -> None:
    message = error_of([{**BASE, "timeout": -1}, {**BASE, "name": "b", "insecure": "yes"}])
    assert "2 problems" in message and "fleet[1] (b).insecure" in message


def test_the_config_file_takes_a_fleet_too() -> None:
    config = parse_config({"fleet": [{**BASE, "labels": {"site": "paris"}}]})
    assert config.fleet[0].labels == {"site": "paris"}
    with pytest.raises(ConfigError, match=r"fleet\[0\] \(vc01.example.com\).usr: unknown fleet"):
        parse_config({"fleet": [{**BASE, "usr": "x"}]})
    with pytest.raises(ConfigError, match="did you mean 'fleet'"):
        parse_config({"flet": []})


def test_load_fleet_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_fleet(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[fleet]\n")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_fleet(bad)
    other = tmp_path / "other.toml"
    other.write_text("[rules]\n")
    with pytest.raises(ConfigError, match="unknown top-level key"):
        load_fleet(other)


def test_select_by_labels() -> None:
    entries = parse_fleet(
        {
            "fleet": [
                {**BASE, "name": "a", "labels": {"site": "paris", "environment": "prod"}},
                {**BASE, "name": "b", "labels": {"site": "lyon", "environment": "prod"}},
            ]
        }
    )
    assert [e.name for e in select(entries, ["environment=prod", "site=lyon"])] == ["b"]
    with pytest.raises(ConfigError, match="no fleet entry has the labels site=rome") as caught:
        select(entries, ["site=rome"])
    assert caught.value.hint == (
        "labels in the fleet: environment=prod, fleet=a, fleet=b, site=lyon, site=paris"
    )
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        select(entries, ["paris"])


def entry(**keys: object):
    base = {k: v for k, v in BASE.items() if k != "password_env"}
    return parse_fleet({"fleet": [{**base, **keys}]})[0]


def test_password_sources(tmp_path: Path) -> None:
    assert fetch_password(0, entry(password_env="PW"), {"PW": "from-env"}) == "from-env"
    with pytest.raises(ConfigError, match=r"password_env: \$PW is not set"):
        fetch_password(0, entry(password_env="PW"), {})
    secret = tmp_path / "pw"
    secret.write_text("from-file\nignored\n")
    secret.chmod(0o400)
    assert fetch_password(0, entry(password_file=str(secret)), {}) == "from-file"
    secret.chmod(0o640)
    with pytest.raises(ConfigError, match="has mode 0640"):
        fetch_password(0, entry(password_file=str(secret)), {})
    with pytest.raises(ConfigError, match="No such file"):
        fetch_password(0, entry(password_file=str(tmp_path / "none")), {})
    command = [sys.executable, "-c", "print('from-command')"]
    assert fetch_password(0, entry(password_command=command), {}) == "from-command"


def test_failing_password_commands_do_not_show_their_output() -> None:
    noisy = [sys.executable, "-c", "import sys; print('leak-me'); sys.exit(4)"]
    with pytest.raises(ConfigError, match="exited with code 4") as caught:
        fetch_password(2, entry(name="lab", password_command=noisy), {})
    assert "fleet[2] (lab).password_command" in str(caught.value)
    assert "leak-me" not in str(caught.value)
    with pytest.raises(ConfigError, match="was not found"):
        fetch_password(0, entry(password_command=["/nonexistent/pw-tool"]), {})
    with pytest.raises(ConfigError, match="printed nothing"):
        fetch_password(0, entry(password_command=[sys.executable, "-c", "pass"]), {})


def test_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real keyring backend (a file, tests/fleet/file_keyring.py) selected as users do."""
    import keyring

    from tests.fleet.file_keyring import FileKeyring

    backend = FileKeyring(tmp_path / "keyring.json")
    keyring.set_keyring(backend)
    try:
        keyring.set_password("balloon-audit", "audit", "from-keyring")
        assert fetch_password(0, entry(password_keyring="balloon-audit"), {}) == "from-keyring"
        with pytest.raises(ConfigError, match="no password for user 'audit'") as caught:
            fetch_password(0, entry(password_keyring="other"), {})
        assert caught.value.hint == "store it with: keyring set other audit"
    finally:
        keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(ConfigError, match="password_keyring needs a user"):
        parse_fleet({"fleet": [{"server": "vc", "password_keyring": "svc"}]})


def test_waivers_can_be_scoped_to_a_cluster() -> None:
    from balloon_audit.model import Entity, Finding, Remediation, Severity
    from balloon_audit.waivers import waiver_matches

    def make_finding(rule: str, cluster: str, datacenter: str) -> Finding:
        entity = Entity("vm", "app-01", "vm-1", "vc01", datacenter, cluster, "esx01")
        return Finding(rule, "ballooning", Severity.WARNING, entity, "m", {}, Remediation("r"))

    config = parse_config(
        {
            "waivers": [
                {"rule": "BA301", "entity": "*", "reason": "CHG1", "owner": "ops",
                 "cluster": "prod-*", "datacenter": "DC?"},
            ]
        }
    )  # fmt: skip
    (waiver,) = config.waivers
    assert waiver_matches(waiver, make_finding("BA301", cluster="Prod-A", datacenter="DC1"))
    assert not waiver_matches(waiver, make_finding("BA301", cluster="Test-A", datacenter="DC1"))
    assert not waiver_matches(waiver, make_finding("BA301", cluster="Prod-A", datacenter="DC10"))
    with pytest.raises(ConfigError, match="did you mean 'cluster'"):
        parse_config({"waivers": [{"rule": "BA301", "entity": "*", "reason": "r", "owner": "o",
                                   "clustr": "x"}]})  # fmt: skip
