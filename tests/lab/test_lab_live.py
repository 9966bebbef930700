"""Live: the lab against a real vcsim. Seeded values are read back with plain pyVmomi and govc."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pyVim.connect import Disconnect
from pyVmomi import vim, vmodl

from balloon_audit.errors import LabError
from balloon_audit.lab import LabInstance, api_name, lab_down, lab_status, lab_up, load_scenario
from balloon_audit.lab.vcsim import find_tool
from tests.live import connect, require_vcsim

MB = 1024 * 1024
pytestmark = pytest.mark.live


def _connect(lab: LabInstance) -> Any:
    return connect(lab.host, lab.port)


def _collect(si: Any, kind: type, paths: list[str]) -> dict[str, dict[str, Any]]:
    """name -> {path: value} for every object of ``kind`` (one PropertyCollector call)."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [kind], True)
    pc = vmodl.query.PropertyCollector
    spec = pc.FilterSpec(
        objectSet=[
            pc.ObjectSpec(
                obj=view,
                skip=True,
                selectSet=[pc.TraversalSpec(type=vim.view.ContainerView, path="view")],
            )
        ],
        propSet=[pc.PropertySpec(type=kind, pathSet=["name", *paths])],
    )
    out = {}
    for oc in content.propertyCollector.RetrieveContents([spec]):
        props = {p.name: p.val for p in oc.propSet}
        out[props.pop("name")] = props
    view.DestroyView()
    return out


VM_PATHS = [
    "summary.quickStats.balloonedMemory",
    "summary.quickStats.swappedMemory",
    "summary.quickStats.compressedMemory",
    "summary.quickStats.hostMemoryUsage",
    "summary.quickStats.guestMemoryUsage",
    "summary.quickStats.uptimeSeconds",
    "config.hardware.memoryMB",
    "summary.config.memorySizeMB",
    "config.template",
    "config.guestId",
    "config.annotation",
    "config.memoryAllocation.limit",
    "config.memoryAllocation.reservation",
    "config.memoryReservationLockedToMax",
    "config.extraConfig",
    "runtime.powerState",
    "runtime.connectionState",
    "guest.toolsVersionStatus2",
    "guest.toolsVersionStatus",
    "guest.toolsStatus",
    "guest.toolsRunningStatus",
    "guest.toolsVersion",
    "summary.guest.toolsVersionStatus2",
    "summary.guest.toolsRunningStatus",
]


@pytest.fixture(scope="module")
def demo_readback(demo_lab: LabInstance) -> dict[str, Any]:
    si = _connect(demo_lab)
    try:
        return {
            "vms": _collect(si, vim.VirtualMachine, VM_PATHS),
            "hosts": _collect(
                si,
                vim.HostSystem,
                [
                    "hardware.memorySize",
                    "summary.hardware.memorySize",
                    "summary.quickStats.overallMemoryUsage",
                    "runtime.connectionState",
                    "summary.runtime.connectionState",
                ],
            ),
            "clusters": _collect(si, vim.ClusterComputeResource, ["summary.totalMemory"]),
            "about": si.content.about,
        }
    finally:
        Disconnect(si)


def test_demo_every_vm_arrived_with_its_values(demo_lab: LabInstance, demo_readback) -> None:
    vms = demo_readback["vms"]
    scenario = demo_lab.scenario
    assert set(vms) == {vm.api_name for vm in scenario.vms}
    for spec in scenario.vms:
        got = vms[spec.api_name]
        assert got["config.hardware.memoryMB"] == spec.memory_mb, spec.name
        assert got["summary.config.memorySizeMB"] == spec.memory_mb, spec.name
        assert got["config.template"] is spec.template, spec.name
        assert got["runtime.powerState"] == spec.power_state, spec.name
        assert got["config.guestId"] == spec.guest_id, spec.name
        assert got["guest.toolsRunningStatus"] == spec.effective_tools_running_status
        assert got["summary.guest.toolsRunningStatus"] == spec.effective_tools_running_status
        assert got.get("guest.toolsVersionStatus2") == spec.tools_version_status2, spec.name
        assert got.get("summary.guest.toolsVersionStatus2") == spec.tools_version_status2
        assert got["guest.toolsVersion"] == spec.effective_tools_version, spec.name
        limit = -1 if spec.memory_limit_mb is None else spec.memory_limit_mb
        assert got["config.memoryAllocation.limit"] == limit, spec.name
        assert got["config.memoryAllocation.reservation"] == spec.memory_reservation_mb
        assert got["config.memoryReservationLockedToMax"] is spec.reservation_locked_to_max
        extra = {o.key: o.value for o in got["config.extraConfig"]}
        assert not any(k.startswith("SET.") for k in extra), spec.name
        for key, value in spec.extra_config:
            assert extra[key] == value, spec.name
        # zero is omitted on the wire: pyVmomi reads an unset counter as 0
        assert got.get("summary.quickStats.balloonedMemory", 0) == spec.ballooned_mb
        assert got.get("summary.quickStats.swappedMemory", 0) == spec.swapped_mb
        assert got.get("summary.quickStats.compressedMemory", 0) == spec.compressed_kb


def test_demo_specific_values(demo_readback) -> None:
    vms = demo_readback["vms"]
    cap = vms["balloon-cap-01"]
    assert cap["summary.quickStats.balloonedMemory"] == 1000
    assert {o.key: o.value for o in cap["config.extraConfig"]}["sched.mem.maxmemctl"] == "1024"
    assert vms["compress-01"]["summary.quickStats.compressedMemory"] == 204800  # KB
    assert vms["tpl-rhel9-nomemctl"]["config.template"] is True
    assert vms["finance%2fpayroll-01"]["guest.toolsVersionStatus2"] == "guestToolsUnmanaged"
    assert "<img src=x" in vms[api_name("<script>alert(1)</script>")]["config.annotation"]
    assert vms["mac-build-01"]["guest.toolsVersion"] == "11264"
    legacy = vms["tools-notinstalled-legacy-01"]
    assert legacy.get("guest.toolsVersionStatus2") is None
    assert legacy["guest.toolsStatus"] == "toolsNotInstalled"
    assert legacy["guest.toolsVersion"] == "0"
    running = vms["web-01"]
    assert running["summary.quickStats.hostMemoryUsage"] == 4096 * 8 // 10
    assert running["summary.quickStats.uptimeSeconds"] > 0
    assert running["runtime.connectionState"] == "connected"
    assert vms["app-on-disconnected-host"]["runtime.connectionState"] == "disconnected"


def test_demo_vms_without_runtime_data_have_no_counters(demo_readback) -> None:
    counters = [p for p in VM_PATHS if p.startswith("summary.quickStats.")]
    for name in ("app-noquickstats-01", "app-on-disconnected-host", "app-on-unresponsive-host"):
        vm = demo_readback["vms"][name]
        assert vm["runtime.powerState"] == "poweredOn"
        assert all(not vm.get(p) for p in counters), name


def test_demo_hosts_were_loaded_with_their_values(demo_lab: LabInstance, demo_readback) -> None:
    hosts = demo_readback["hosts"]
    for spec in demo_lab.scenario.hosts:
        got = hosts[spec.name]
        assert got["hardware.memorySize"] == spec.memory_bytes, spec.name
        assert got["summary.hardware.memorySize"] == spec.memory_bytes, spec.name
        assert got["summary.quickStats.overallMemoryUsage"] == spec.memory_usage_mb
        assert got["runtime.connectionState"] == spec.connection_state, spec.name
        assert got["summary.runtime.connectionState"] == spec.connection_state, spec.name
    assert hosts["DC0_H1"]["runtime.connectionState"] == "notResponding"
    assert demo_readback["clusters"]["DC0_C1"]["summary.totalMemory"] == 3 * 65536 * MB
    assert demo_readback["about"].apiType == "VirtualCenter"


def test_demo_readable_with_govc(demo_lab: LabInstance) -> None:
    govc = find_tool("govc")
    assert govc is not None  # demo_lab already required it
    env = {**os.environ, **demo_lab.govc_env(), "GOVC_PERSIST_SESSION": "false"}
    out = subprocess.run(
        [str(govc), "object.collect", "-s", "/DC0/host/DC0_C1/DC0_C1_H0", "hardware.memorySize"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.strip() == str(65536 * MB)
    out = subprocess.run(
        [str(govc), "vm.info", "-json", "kube-node-07"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert '"balloonedMemory":512' in out.replace(" ", "")


def test_lab_up_status_down_leaves_nothing_behind(tmp_path: Path) -> None:
    require_vcsim(govc=True)
    state_dir = tmp_path / "state"
    lab = lab_up("esx", state_dir)
    try:
        assert (state_dir / "lab.json").is_file()
        status = lab_status(state_dir)
        assert status is not None
        assert (status.pid, status.port, status.scenario.name) == (lab.pid, lab.port, "esx")
        si = _connect(lab)
        try:
            assert si.content.about.apiType == "HostAgent"
            host = _collect(si, vim.HostSystem, ["hardware.memorySize"])
            assert host["localhost.localdomain"]["hardware.memorySize"] == 65536 * MB
            assert len(_collect(si, vim.VirtualMachine, [])) == 4
        finally:
            Disconnect(si)
        with pytest.raises(LabError, match="already running"):
            lab_up("esx", state_dir)
    finally:
        stopped = lab_down(state_dir)
    assert stopped is True
    with pytest.raises(ProcessLookupError):
        os.kill(lab.pid, 0)
    assert lab_status(state_dir) is None
    assert not (state_dir / "lab.json").exists()
    assert not (state_dir / "work").exists()
    assert lab_down(state_dir) is False


def test_lab_down_ignores_a_pid_that_is_not_vcsim(tmp_path: Path) -> None:
    """A stale state file whose pid now belongs to another process must not kill it."""
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "lab.json").write_text(
            f'{{"pid": {sleeper.pid}, "host": "127.0.0.1", "port": 1, "scenario": "esx"}}'
        )
        assert lab_status(tmp_path) is None
        assert lab_down(tmp_path) is False
        assert sleeper.poll() is None  # still running
        assert not (tmp_path / "lab.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_empty_scenario_has_hosts_and_no_vms() -> None:
    require_vcsim(govc=True)
    from balloon_audit.lab import running_lab

    with running_lab(load_scenario("empty")) as lab:
        si = _connect(lab)
        try:
            assert _collect(si, vim.VirtualMachine, []) == {}
            hosts = _collect(si, vim.HostSystem, ["hardware.memorySize"])
            assert len(hosts) == 4
            assert {h["hardware.memorySize"] for h in hosts.values()} == {65536 * MB}
        finally:
            Disconnect(si)
