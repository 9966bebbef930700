"""Live collection against vcsim: inventory, joins, paging, units, extraConfig, swap rates."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from pyVim.connect import Disconnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from balloon_audit.collect import Target, collect_source
from balloon_audit.collect.perf import add_swap_rates
from balloon_audit.lab.vcsim import VcsimEndpoint, start_vcsim, stop_vcsim
from balloon_audit.model import Snapshot
from tests.live import connect, inventory, reconfigure, require_vcsim, session

pytestmark = pytest.mark.live

PASSWORD = "live-Pw-7f3a"


def target_for(endpoint: VcsimEndpoint, **kwargs: object) -> Target:
    return Target(endpoint.host, endpoint.port, "auditor", PASSWORD, insecure=True, **kwargs)


def without_timing(snapshot: Snapshot) -> Snapshot:
    sources = tuple(dataclasses.replace(s, duration_s=None) for s in snapshot.sources)
    return dataclasses.replace(snapshot, sources=sources)


# --- default model (shared, read-only) ---------------------------------------------------


@pytest.fixture(scope="module")
def default_snapshot(vcsim_default: VcsimEndpoint) -> Snapshot:
    return collect_source(target_for(vcsim_default))


def test_default_model_inventory(default_snapshot: Snapshot, vcsim_default: VcsimEndpoint) -> None:
    # default model: 1 DC, 1 cluster of 3 hosts + 1 standalone host, 2 VMs per compute resource
    snap = default_snapshot
    assert len(snap.vms) == 4
    assert len(snap.hosts) == 4
    assert [(c.name, c.datacenter) for c in snap.clusters] == [("DC0_C0", "DC0")]
    (source,) = snap.sources
    assert source.status == "ok"
    assert source.server == f"{vcsim_default.host}:{vcsim_default.port}"
    assert source.api_type == "VirtualCenter"
    assert source.api_version and source.product and "simulator" in source.product
    assert (source.vm_count, source.host_count) == (4, 4)
    assert source.duration_s is not None and source.duration_s > 0
    assert source.error is None


def test_hosts(default_snapshot: Snapshot) -> None:
    hosts = {h.name: h for h in default_snapshot.hosts}
    assert set(hosts) == {"DC0_H0", "DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"}
    assert hosts["DC0_H0"].cluster is None
    assert hosts["DC0_C0_H1"].cluster == "DC0_C0"
    for host in hosts.values():
        assert host.datacenter == "DC0"
        assert host.memory_size_mb == pytest.approx(4294430720 / 1024 / 1024)
        assert host.memory_usage_mb == 1404
        assert host.connected and host.power_state == "poweredOn"
        assert host.in_maintenance_mode is False
        assert host.product_version
        assert host.moid.startswith("host-")


def test_every_vm_is_joined_to_its_host(default_snapshot: Snapshot) -> None:
    hosts = {h.moid: h for h in default_snapshot.hosts}
    for vm in default_snapshot.vms:
        host = hosts[vm.host_moid]
        assert vm.server == default_snapshot.sources[0].server
        assert (vm.host, vm.datacenter, vm.cluster) == (host.name, host.datacenter, host.cluster)
        assert vm.host_connection_state == "connected"
        assert vm.power_state == "poweredOn"
        assert vm.memory_mb == 32
        assert vm.memory_limit_mb is None  # -1 on the wire
        assert vm.maxmemctl is None
        assert vm.tools_status == "toolsNotInstalled"
    standalone = [vm for vm in default_snapshot.vms if vm.host == "DC0_H0"]
    assert len(standalone) == 2 and all(vm.cluster is None for vm in standalone)


def test_default_vms_have_no_runtime_data(default_snapshot: Snapshot) -> None:
    for vm in default_snapshot.vms:
        assert not vm.quickstats_available
        assert vm.ballooned_mb is None and vm.swapped_mb is None
        assert vm.swapin_rate_kbps is None


def test_small_pages_give_the_same_result(
    default_snapshot: Snapshot, vcsim_default: VcsimEndpoint
) -> None:
    messages: list[str] = []
    paged = collect_source(target_for(vcsim_default), page_size=3, progress=messages.append)
    assert without_timing(paged) == without_timing(default_snapshot)
    # two pages of VMs: progress after each
    assert [m for m in messages if m.endswith("VMs collected")] == [
        f"{paged.sources[0].server}: 3 VMs collected",
        f"{paged.sources[0].server}: 4 VMs collected",
    ]


def test_progress_counts_n_of_m_vms_when_asked(vcsim_default: VcsimEndpoint) -> None:
    messages: list[str] = []
    counted = collect_source(
        target_for(vcsim_default), page_size=3, progress=messages.append, count_vms=True
    )
    server = counted.sources[0].server
    assert [m for m in messages if m.endswith("VMs collected")] == [
        f"{server}: 0 of 4 VMs collected",
        f"{server}: 3 of 4 VMs collected",
        f"{server}: 4 of 4 VMs collected",
    ]


def test_password_in_no_source_or_progress(vcsim_default: VcsimEndpoint) -> None:
    messages: list[str] = []
    snap = collect_source(target_for(vcsim_default), progress=messages.append)
    assert PASSWORD not in repr(snap.sources)
    assert PASSWORD not in repr(target_for(vcsim_default))
    assert all(PASSWORD not in m for m in messages)
    assert messages[0].endswith("connecting") and "done" in messages[-1]


# --- a vcsim of our own, reconfigured ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Seeded:
    endpoint: VcsimEndpoint
    names: dict[str, str]
    """role -> VM name."""


@pytest.fixture(scope="module")
def seeded() -> Iterator[Seeded]:
    require_vcsim()
    endpoint = start_vcsim()
    try:
        with session(endpoint.host, endpoint.port) as si:
            swapping, healthy, stopped, template = inventory(si)[:4]
            reconfigure(
                swapping,
                {
                    "sched.mem.maxmemctl": "0",
                    "SET.summary.quickStats.balloonedMemory": 12,
                    "SET.summary.quickStats.swappedMemory": 6,
                    "SET.summary.quickStats.compressedMemory": 3072,
                    "SET.summary.quickStats.hostMemoryUsage": 30,
                },
                memoryAllocation=vim.ResourceAllocationInfo(limit=16, reservation=8),
            )
            reconfigure(
                healthy,
                {
                    "SET.summary.quickStats.hostMemoryUsage": 31,
                    "SET.summary.quickStats.guestMemoryUsage": 9,
                    "SET.guest.toolsVersionStatus2": "guestToolsCurrent",
                    "SET.guest.toolsRunningStatus": "guestToolsRunning",
                    "guestinfo.note": "unrelated",
                },
            )
            WaitForTask(stopped.PowerOffVM_Task())
            WaitForTask(template.PowerOffVM_Task())
            template.MarkAsTemplate()
            names = {
                "swapping": swapping.name,
                "healthy": healthy.name,
                "stopped": stopped.name,
                "template": template.name,
            }
        yield Seeded(endpoint, names)
    finally:
        stop_vcsim(endpoint.pid)


def by_role(snapshot: Snapshot, seeded: Seeded) -> dict[str, object]:
    vms = {vm.name: vm for vm in snapshot.vms}
    return {role: vms[name] for role, name in seeded.names.items()}


def test_seeded_values_and_units(seeded: Seeded) -> None:
    vms = by_role(collect_source(target_for(seeded.endpoint)), seeded)
    swapping = vms["swapping"]
    assert swapping.quickstats_available
    assert swapping.maxmemctl == "0"
    assert (swapping.ballooned_mb, swapping.swapped_mb) == (12, 6)
    assert swapping.compressed_mb == 3.0  # 3072 KB
    assert swapping.host_memory_usage_mb == 30
    assert swapping.memory_limit_mb == 16 and swapping.memory_reservation_mb == 8

    healthy = vms["healthy"]
    assert healthy.quickstats_available
    assert healthy.maxmemctl is None  # another key is set, not this one
    assert healthy.tools_version_status2 == "guestToolsCurrent"
    assert healthy.tools_running_status == "guestToolsRunning"
    assert (healthy.host_memory_usage_mb, healthy.guest_memory_usage_mb) == (31, 9)
    assert healthy.runtime_value(healthy.ballooned_mb) == 0

    assert vms["stopped"].power_state == "poweredOff"
    assert not vms["stopped"].quickstats_available
    assert vms["template"].is_template


def test_whole_extra_config_fallback_gives_the_same_vms(seeded: Seeded) -> None:
    keyed = collect_source(target_for(seeded.endpoint), perf=False)
    whole = collect_source(target_for(seeded.endpoint), perf=False, keyed_extra_config=False)
    assert whole.vms == keyed.vms
    assert by_role(whole, seeded)["swapping"].maxmemctl == "0"


def test_swap_rates_are_asked_only_for_swapping_vms(seeded: Seeded) -> None:
    messages: list[str] = []
    snap = collect_source(target_for(seeded.endpoint), perf=True, progress=messages.append)
    rate_messages = [m for m in messages if "swap rates" in m]
    # vcsim offers the counters but has no samples for them: asked for 1 VM, rates unknown
    assert len(rate_messages) == 1 and "of 1 swapping VMs" in rate_messages[0]
    assert all(vm.swapin_rate_kbps is None for vm in snap.vms)

    quiet: list[str] = []
    collect_source(target_for(seeded.endpoint), perf=False, progress=quiet.append)
    assert not [m for m in quiet if "swap" in m]


def test_swap_rate_plumbing_fills_numbers(seeded: Seeded) -> None:
    """With counters vcsim has samples for, the swapping VM gets numbers and others None."""
    snap = collect_source(target_for(seeded.endpoint), perf=False)
    with session(seeded.endpoint.host, seeded.endpoint.port) as si:
        content = si.RetrieveContent()
        refs = {vm.moid: vim.VirtualMachine(vm.moid, si._stub) for vm in snap.vms}
        messages: list[str] = []
        vms = add_swap_rates(
            content,
            snap.vms,
            refs,
            label="sim",
            progress=messages.append,
            counters=("mem.swapped.average", "mem.consumed.average"),
        )
    rated = {vm.name: vm for vm in vms}
    swapping = rated[seeded.names["swapping"]]
    assert isinstance(swapping.swapin_rate_kbps, float)
    assert isinstance(swapping.swapout_rate_kbps, float)
    for role in ("healthy", "stopped", "template"):
        assert rated[seeded.names[role]].swapin_rate_kbps is None
    assert messages == ["sim: live swap rates: samples for 1 of 1 swapping VMs"]


def test_standalone_esxi_endpoint() -> None:
    require_vcsim()
    endpoint = start_vcsim(["-esx"])
    try:
        snap = collect_source(target_for(endpoint))
    finally:
        stop_vcsim(endpoint.pid)
    (source,) = snap.sources
    assert source.api_type == "HostAgent"
    assert len(snap.hosts) == 1 and snap.hosts[0].cluster is None
    assert snap.hosts[0].datacenter == "ha-datacenter"
    assert snap.vms and all(vm.host == snap.hosts[0].name for vm in snap.vms)
    assert all(vm.datacenter == "ha-datacenter" for vm in snap.vms)


def test_swap_rate_failure_leaves_rates_unknown(seeded: Seeded) -> None:
    """A failing PerformanceManager (here: the session has ended) must not fail the audit."""
    snap = collect_source(target_for(seeded.endpoint), perf=False)
    with session(seeded.endpoint.host, seeded.endpoint.port) as si:
        content = si.RetrieveContent()
        refs = {vm.moid: vim.VirtualMachine(vm.moid, si._stub) for vm in snap.vms}
        content.sessionManager.Logout()
        messages: list[str] = []
        vms = add_swap_rates(content, snap.vms, refs, label="sim", progress=messages.append)
    assert list(vms) == list(snap.vms)
    assert len(messages) == 1 and "could not read swap rates" in messages[0]


def test_sessions_are_logged_out(seeded: Seeded) -> None:
    ep = seeded.endpoint
    si = connect(ep.host, ep.port, user="checker")
    try:
        manager = si.RetrieveContent().sessionManager
        collect_source(target_for(seeded.endpoint))
        assert [s.userName for s in manager.sessionList] == ["checker"]
    finally:
        Disconnect(si)
