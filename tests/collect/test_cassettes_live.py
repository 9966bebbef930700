"""Record against a live vcsim, replay offline, and get the same audit.

Live tests: they need vcsim (skipped locally without it, failing under CI=true).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from balloon_audit.audit import replay_snapshot
from balloon_audit.collect import Target, collect_all
from balloon_audit.collect.capture import capture_info, recording
from balloon_audit.collect.capture.scrub import soap_operation
from balloon_audit.engine import evaluate
from balloon_audit.lab import LabInstance
from balloon_audit.lab.vcsim import VcsimEndpoint, start_vcsim, stop_vcsim
from balloon_audit.model import Snapshot
from tests.live import require_vcsim
from tests.paths import ROOT

pytestmark = pytest.mark.live

PASSWORD = "Capture-Pw-9d2e!"


def target_for(endpoint: VcsimEndpoint, password: str = PASSWORD) -> Target:
    return Target(endpoint.host, endpoint.port, "auditor@vsphere.local", password, insecure=True)


def comparable(snapshot: Snapshot, names: dict[str, str]) -> Snapshot:
    """``snapshot`` with server labels (and the names in ``names``) as the capture shows them."""

    def rename(value: str | None) -> str | None:
        return names.get(value, value) if value is not None else None

    return Snapshot(
        sources=tuple(
            dataclasses.replace(s, server=rename(s.server), duration_s=None, error=None)
            for s in snapshot.sources
        ),
        clusters=tuple(dataclasses.replace(c, server=rename(c.server)) for c in snapshot.clusters),
        hosts=tuple(
            dataclasses.replace(h, server=rename(h.server), name=rename(h.name))
            for h in snapshot.hosts
        ),
        vms=tuple(
            dataclasses.replace(v, server=rename(v.server), host=rename(v.host))
            for v in snapshot.vms
        ),
    )


def finding_keys(snapshot: Snapshot) -> list[tuple[str, str, str, str]]:
    return sorted(
        (f.rule, f.severity.value, f.entity.type, f.entity.name)
        for f in evaluate(snapshot).findings
    )


@pytest.fixture(scope="module")
def esx() -> Iterator[VcsimEndpoint]:
    require_vcsim()
    endpoint = start_vcsim(["-esx"])
    yield endpoint
    stop_vcsim(endpoint.pid)


def test_record_then_replay_gives_the_same_snapshot_and_findings(
    vcsim_default: VcsimEndpoint, tmp_path: Path
) -> None:
    path = tmp_path / "default.yaml"
    target = target_for(vcsim_default)
    with recording(path, servers=[target]):
        live = collect_all([target], page_size=3)
    replayed = replay_snapshot(path, strict=True)
    assert capture_info(path).page_size == 3
    names = {target.label: "vcenter-1.invalid"}
    assert comparable(replayed, {}) == comparable(live, names)
    assert finding_keys(replayed) == finding_keys(comparable(live, names))
    text = path.read_text()
    assert PASSWORD not in text and "127.0.0.1" not in text
    assert f":{vcsim_default.port}/" not in text and f":{vcsim_default.port}<" not in text


def test_re_recording_the_demo_lab_gives_the_committed_cassettes_findings(
    demo_lab: LabInstance, tmp_path: Path
) -> None:
    path = tmp_path / "demo.yaml"
    target = Target(demo_lab.host, demo_lab.port, "auditor", PASSWORD, insecure=True)
    with recording(path, servers=[target]):
        live = collect_all([target])
    replayed = replay_snapshot(path, strict=True)
    names = {target.label: "vcenter-1.invalid"}
    assert comparable(replayed, {}) == comparable(live, names)
    committed = json.loads((ROOT / "cassettes" / "demo.expected.json").read_text())
    # if this fails after a change to the demo scenario, the collector or the rules:
    # re-record with scripts/record_cassettes.py
    assert [list(k) for k in finding_keys(replayed)] == committed["findings"]


def test_two_sources_recorded_in_parallel_replay_in_order(
    vcsim_default: VcsimEndpoint, esx: VcsimEndpoint, tmp_path: Path
) -> None:
    path = tmp_path / "two.yaml"
    targets = [target_for(esx), target_for(vcsim_default)]
    with recording(path, servers=targets):
        live = collect_all(targets, max_workers=2)
    assert [s.status for s in live.sources] == ["ok", "ok"]
    info = capture_info(path)
    assert info.sources == ("vcenter-1.invalid", "vcenter-2.invalid")
    replayed = replay_snapshot(path, strict=True)
    names = {
        targets[0].label: "vcenter-1.invalid",
        targets[1].label: "vcenter-2.invalid",
        "localhost.localdomain": "vcenter-1.invalid",  # the simulated ESXi's own name
    }
    assert comparable(replayed, {}) == comparable(live, names)
    assert [s.api_type for s in replayed.sources] == ["HostAgent", "VirtualCenter"]
    # one source after the other in the file, each starting with its own version probe
    hosts = [i["request"]["uri"] for i in yaml.safe_load(path.read_text())["interactions"]]
    first_of_second = hosts.index("https://vcenter-2.invalid/sdk/vimServiceVersions.xml")
    assert all("vcenter-1" in h for h in hosts[:first_of_second])
    assert all("vcenter-2" in h for h in hosts[first_of_second:])


def test_refused_login_is_recorded_and_replayed_as_an_authentication_failure(
    tmp_path: Path,
) -> None:
    require_vcsim()
    endpoint = start_vcsim(["-username", "auditor@vsphere.local", "-password", PASSWORD])
    try:
        path = tmp_path / "refused.yaml"
        target = target_for(endpoint, password="Wrong-" + PASSWORD)
        with recording(path, servers=[target]):
            live = collect_all([target])
    finally:
        stop_vcsim(endpoint.pid)
    replayed = replay_snapshot(path, strict=True)
    (source,) = replayed.sources
    assert live.sources[0].status == source.status == "failed"
    assert "login refused" in (source.error or "")
    operations = [soap_operation(i["request"]["body"]) for i in _interactions(path)]
    assert "Login" in operations and "RetrievePropertiesEx" not in operations
    assert PASSWORD not in path.read_text()


def _interactions(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text())["interactions"]


def test_cli_record_then_replay_on_the_demo_lab(demo_lab: LabInstance, tmp_path: Path) -> None:
    capture = tmp_path / "capture.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    env["BALLOON_AUDIT_PASSWORD"] = PASSWORD
    common = ["--quiet", "--fail-on", "never"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "balloon_audit", "scan", *args, *common],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd=ROOT,
        )

    live_json, replay_json = tmp_path / "live.json", tmp_path / "replay.json"
    server = demo_lab.server
    recorded = run("-s", server, "-u", "auditor", "-k", "--record", str(capture))
    recorded_json = run("-s", server, "-u", "auditor", "-k", "--json", str(live_json))
    assert recorded.returncode == recorded_json.returncode == 0, recorded.stderr
    env.pop("BALLOON_AUDIT_PASSWORD")
    replayed = run("--replay", str(capture), "--json", str(replay_json))
    assert replayed.returncode == 0, replayed.stderr

    def keys(path: Path) -> list[tuple[str, str, str]]:
        data = json.loads(path.read_text())
        return sorted((f["rule"], f["severity"], f["entity"]["name"]) for f in data["findings"])

    assert keys(replay_json) == keys(live_json)
    assert len(keys(live_json)) > 20  # the demo fleet has something for every rule
    assert json.loads(replay_json.read_text())["sources"][0]["server"] == "vcenter-1.invalid"
    text = capture.read_text()
    assert PASSWORD not in text and "127.0.0.1" not in text


def test_a_server_that_never_answered_replays_as_failed(
    vcsim_default: VcsimEndpoint, tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    path = tmp_path / "partial.yaml"
    targets = [
        Target("127.0.0.1", closed_port, "auditor", PASSWORD, insecure=True),
        target_for(vcsim_default),
    ]
    with recording(path, servers=targets):
        live = collect_all(targets)
    assert [s.status for s in live.sources] == ["failed", "ok"]
    info = capture_info(path)
    assert (info.sources, info.unreachable) == (("vcenter-2.invalid",), ("vcenter-1.invalid",))
    replayed = replay_snapshot(path, strict=True)
    assert [(s.server, s.status) for s in replayed.sources] == [
        ("vcenter-1.invalid", "failed"),
        ("vcenter-2.invalid", "ok"),
    ]
    assert [f.rule for f in evaluate(replayed).findings if f.entity.type == "vCenter"] == ["BA902"]
    assert "127.0.0.1" not in path.read_text()
