"""govc's variables work as govc users expect, below the options and BALLOON_AUDIT_*."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from balloon_audit.errors import ConfigError
from balloon_audit.govc_env import read_govc_env
from tests.live import LOGIN_PASSWORD as SECRET


def test_read_govc_env() -> None:
    settings = read_govc_env(
        {
            "GOVC_URL": "https://admin:p%40ss@vc01.example.com/sdk",
            "GOVC_USERNAME": "other",
            "GOVC_PASSWORD": "ignored",
            "GOVC_INSECURE": "1",
            "GOVC_TLS_CA_CERTS": "/etc/ssl/vc.pem",
        }
    )
    assert settings.server == "https://admin@vc01.example.com/sdk"
    assert settings.password == "p@ss", "the URL's password wins over GOVC_PASSWORD"
    assert settings.user == "other" and settings.insecure
    assert str(settings.ca_bundle) == "/etc/ssl/vc.pem"
    assert "p@ss" not in repr(settings)
    plain = read_govc_env({"GOVC_URL": "vc02", "GOVC_PASSWORD": "pw", "GOVC_INSECURE": "false"})
    assert (plain.server, plain.password, plain.insecure) == ("vc02", "pw", False)
    assert read_govc_env({}).server is None
    with pytest.raises(ConfigError, match="several files"):
        read_govc_env({"GOVC_TLS_CA_CERTS": "a.pem:b.pem"})


def run(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BALLOON_AUDIT_") and not k.startswith("GOVC_")
    }
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "balloon_audit", "scan", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


@pytest.mark.live
def test_govc_variables_alone_audit(vcsim_with_login, tmp_path) -> None:
    out = tmp_path / "r.json"
    port = vcsim_with_login.port
    done = run(
        {
            "GOVC_URL": f"https://auditor@127.0.0.1:{port}/sdk",
            "GOVC_PASSWORD": SECRET,
            "GOVC_INSECURE": "true",
        },
        "--json",
        str(out),
        "--fail-on",
        "never",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["sources"][0]["status"] == "ok"
    # the password inside GOVC_URL, the user from GOVC_USERNAME
    done = run(
        {
            "GOVC_URL": f"https://x:{SECRET}@127.0.0.1:{port}/sdk".replace("x:", ":"),
            "GOVC_USERNAME": "auditor",
            "GOVC_INSECURE": "1",
        },
        "--json",
        str(out),
        "--fail-on",
        "never",
    )
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stderr + done.stdout


@pytest.mark.live
def test_balloon_audit_variables_and_options_win(vcsim_with_login, tmp_path) -> None:
    port = vcsim_with_login.port
    govc = {
        "GOVC_URL": "https://nobody@127.0.0.1:1/sdk",
        "GOVC_PASSWORD": "wrong",
        "GOVC_INSECURE": "1",
    }
    done = run(
        {**govc, "BALLOON_AUDIT_PASSWORD": SECRET},
        "-s",
        f"127.0.0.1:{port}",
        "-u",
        "auditor",
        "--fail-on",
        "never",
        "-q",
    )
    assert done.returncode == 0, done.stderr
    done = run(govc, "-s", f"127.0.0.1:{port}", "-u", "auditor", "-q")
    assert done.returncode == 3 and "127.0.0.1" in done.stderr, "GOVC_PASSWORD was used"


def test_no_server_names_govc_url_in_the_hint() -> None:
    done = run({}, "-u", "x")
    assert done.returncode == 2 and "GOVC_URL" in done.stderr
