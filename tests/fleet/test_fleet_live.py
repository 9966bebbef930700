"""A fleet file audits several vCenters in one run, each with its own user and password.

Three real vcsim instances each accept only their own user / password; the fleet
file takes one password from an environment variable, one from a 0600 file and one
from a command. One `balloon-audit scan --fleet` run must audit all three.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from balloon_audit.lab.hostmodel import saved_model
from balloon_audit.lab.vcsim import VcsimEndpoint, start_vcsim, stop_vcsim
from tests.live import require_vcsim
from tests.test_cli import run_cli

pytestmark = pytest.mark.live

LOGINS = [("alice", "pw-env-A1"), ("bob", "pw-file-B2"), ("carol", "pw-cmd-C3")]


def distinct_vcenter(workdir: Path, index: int) -> Path:
    """vcsim's default model with its own instance UUID (one vCenter under two names is
    audited once, and every vcsim vCenter has the same UUID)."""
    model = workdir / f"model-{index}"
    shutil.copytree(saved_model([]), model, ignore=shutil.ignore_patterns(".complete"))
    service = model / "0000-ServiceInstance-ServiceInstance.xml"
    text = re.sub(
        r"<instanceUuid>[^<]*</instanceUuid>",
        f"<instanceUuid>{uuid.UUID(int=index + 1)}</instanceUuid>",
        service.read_text(encoding="utf-8"),
    )
    service.write_text(text, encoding="utf-8")
    return model


@pytest.fixture(scope="module")
def three_vcsims(tmp_path_factory) -> Iterator[list[VcsimEndpoint]]:
    """Three vCenters (default model: 1 cluster DC0_C0, 1 standalone host, 4 VMs each)."""
    require_vcsim(govc=True)
    workdir = tmp_path_factory.mktemp("fleet-models")
    started: list[VcsimEndpoint] = []
    try:
        for index, (user, password) in enumerate(LOGINS):
            model = distinct_vcenter(workdir, index)
            args = ["-load", str(model), "-username", user, "-password", password]
            started.append(start_vcsim(args))
        yield started
    finally:
        for endpoint in started:
            stop_vcsim(endpoint.pid)


def write_fleet(tmp_path: Path, endpoints: list[VcsimEndpoint], file_mode: int = 0o600) -> Path:
    secret_file = tmp_path / "bob.pw"
    secret_file.write_text(LOGINS[1][1] + "\n")
    secret_file.chmod(file_mode)
    command_source = tmp_path / "carol.src"
    command_source.write_text(LOGINS[2][1] + "\n")
    command = json.dumps([sys.executable, "-c", f"print(open({str(command_source)!r}).read())"])
    a, b, c = endpoints
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        f"""
[[fleet]]
name = "paris"
server = "127.0.0.1:{a.port}"
user = "alice"
password_env = "PARIS_PASSWORD"
insecure = true
labels = {{ site = "paris", environment = "prod" }}

[[fleet]]
name = "lyon"
server = "127.0.0.1:{b.port}"
user = "bob"
password_file = "{secret_file}"
insecure = true
labels = {{ site = "lyon", environment = "prod" }}

[[fleet]]
name = "lab"
server = "https://carol@127.0.0.1:{c.port}/sdk"
password_command = {command}
insecure = true
timeout = 60
labels = {{ site = "lyon", environment = "test" }}
""",
        encoding="utf-8",
    )
    return fleet


def run_fleet(fleet: Path, *extra: str, tmp_path: Path):
    out = tmp_path / "result.json"
    env_password = {"PARIS_PASSWORD": LOGINS[0][1]}
    os.environ.update(env_password)
    try:
        done = run_cli("scan", "--fleet", str(fleet), "--json", str(out), *extra, password=None)
    finally:
        os.environ.pop("PARIS_PASSWORD")
    data = json.loads(out.read_text()) if out.exists() else None
    return done, data


def test_one_run_audits_three_vcenters_with_three_logins(three_vcsims, tmp_path) -> None:
    done, data = run_fleet(
        write_fleet(tmp_path, three_vcsims), "--fail-on", "never", tmp_path=tmp_path
    )
    assert done.returncode == 0, done.stderr
    sources = {s["server"]: s for s in data["sources"]}
    assert [sources[f"127.0.0.1:{e.port}"]["status"] for e in three_vcsims] == ["ok"] * 3
    paris = sources[f"127.0.0.1:{three_vcsims[0].port}"]
    assert paris["labels"] == {"site": "paris", "environment": "prod", "fleet": "paris"}
    assert len(data["vms"]) == 3 * 4, "vcsim's default model has 4 VMs"
    for _, password in LOGINS:
        assert password not in done.stdout + done.stderr


def test_a_wrong_password_fails_only_its_own_entry(three_vcsims, tmp_path) -> None:
    fleet = write_fleet(tmp_path, three_vcsims)
    (tmp_path / "bob.pw").write_text("not-bobs-password\n")
    done, data = run_fleet(fleet, tmp_path=tmp_path)
    assert done.returncode == 3
    status = {s["server"]: s["status"] for s in data["sources"]}
    assert sorted(status.values()) == ["failed", "ok", "ok"]
    assert status[f"127.0.0.1:{three_vcsims[1].port}"] == "failed"


def test_label_selects_entries(three_vcsims, tmp_path) -> None:
    fleet = write_fleet(tmp_path, three_vcsims)
    done, data = run_fleet(fleet, "--label", "site=lyon", "--fail-on", "never", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(s["labels"]["fleet"] for s in data["sources"]) == ["lab", "lyon"]


def test_open_password_file_is_refused_before_contacting_anything(three_vcsims, tmp_path) -> None:
    done, data = run_fleet(write_fleet(tmp_path, three_vcsims, 0o644), tmp_path=tmp_path)
    assert done.returncode == 2
    assert data is None, "nothing was audited"
    assert "fleet[1] (lyon).password_file" in done.stderr
    assert "mode 0644" in done.stderr and "chmod 600" in done.stderr


def test_scoped_to_one_cluster_collects_only_that_cluster(three_vcsims, tmp_path) -> None:
    """vcsim's default model: cluster DC0_C0 (VMs DC0_C0_RP0_VM0/1, 3 hosts) and the
    standalone host DC0_H0 (VMs DC0_H0_VM0/1). The capture shows what was asked for."""
    capture = tmp_path / "scoped.yaml"
    done, data = run_fleet(
        write_fleet(tmp_path, three_vcsims),
        "--scope", "cluster=dc0_c0", "--record", str(capture), "--fail-on", "never",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted({vm["name"] for vm in data["vms"]}) == ["DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"]
    assert len(data["vms"]) == 3 * 2
    assert {h["cluster"] for h in data["hosts"]} == {"DC0_C0"}
    assert {c["name"] for c in data["clusters"]} == {"DC0_C0"}
    assert {s["scope"] for s in data["sources"]} == {"cluster=dc0_c0"}
    recorded = capture.read_text(encoding="utf-8")
    assert "DC0_C0_RP0_VM0" in recorded
    assert "DC0_H0_VM0" not in recorded, "VMs outside the cluster were never collected"


def test_scope_excludes_by_vm_glob_and_pool(three_vcsims, tmp_path) -> None:
    done, data = run_fleet(
        write_fleet(tmp_path, three_vcsims),
        "--label", "fleet=paris", "--exclude", "vm=*_VM1", "--exclude", "host=DC0_H0",
        "--fail-on", "never",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(vm["name"] for vm in data["vms"]) == ["DC0_C0_RP0_VM0"]
    assert "DC0_H0" not in {h["name"] for h in data["hosts"]}
    assert data["sources"][0]["scope"] == "not host=DC0_H0, not vm=*_VM1"
