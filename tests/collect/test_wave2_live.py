"""Live collection of the wave-2 properties against vcsim: host advanced options (keyed path and
the per-host fallback), the mem.state pass, resource pools with nesting, latency sensitivity,
guest family, swap to host cache and overhead memory."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from pyVim.connect import Disconnect
from pyVmomi import vim

from balloon_audit.collect import collect_source
from balloon_audit.collect.host_options import _keyed_pass, _query_each, add_host_options
from balloon_audit.collect.perf import add_host_memory_state
from balloon_audit.lab import LabInstance, load_scenario, start_lab, stop_lab
from balloon_audit.model import Snapshot
from tests.collect.test_collect_live import target_for
from tests.live import connect, require_vcsim

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def review_lab() -> Iterator[LabInstance]:
    """The review scenario: no -load, so host options are set with UpdateOptions."""
    require_vcsim()
    lab = start_lab(load_scenario("review"))
    yield lab
    stop_lab(lab)


@pytest.fixture(scope="module")
def review_snapshot(review_lab: LabInstance) -> Snapshot:
    return collect_source(target_for(review_lab))  # type: ignore[arg-type]


def test_host_options_by_keyed_path(review_snapshot: Snapshot) -> None:
    hosts = {h.name: h for h in review_snapshot.hosts}
    assert hosts["DC0_C0_H1"].ctl_max_pct == 0
    # vcsim's other hosts do not know the option (a real ESXi reports 65): unknown, not 65
    assert hosts["DC0_C0_H0"].ctl_max_pct is None
    assert all(h.min_free_pct is None for h in hosts.values())


def test_host_options_fallback_asks_each_host(review_lab: LabInstance) -> None:
    """The per-host QueryOptions fallback finds the same values as the keyed pass."""
    si = connect(review_lab.host, review_lab.port)
    try:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
        refs = {h._moId: h for h in view.view}
        view.DestroyView()
        keyed = _keyed_pass(content)
        messages: list[str] = []
        each = _query_each(refs, list(refs), "sim", messages.append)
    finally:
        Disconnect(si)
    assert {m: v for m, v in keyed.items() if v} == {m: v for m, v in each.items() if v}
    assert sorted(v for found in each.values() for v in found.values()) == [0]
    assert messages == []


def test_host_options_failure_leaves_values_unknown(review_lab: LabInstance) -> None:
    """A session that has ended: no values, one message, no exception."""
    snap = collect_source(target_for(review_lab), perf=False)  # type: ignore[arg-type]
    si = connect(review_lab.host, review_lab.port)
    content = si.RetrieveContent()
    refs = {h.moid: vim.HostSystem(h.moid, si._stub) for h in snap.hosts}
    content.sessionManager.Logout()
    blank = [dataclasses.replace(h, ctl_max_pct=None) for h in snap.hosts]
    messages: list[str] = []
    try:
        hosts = add_host_options(content, blank, refs, label="sim", progress=messages.append)
    finally:
        Disconnect(si)
    assert all(h.ctl_max_pct is None for h in hosts)
    assert len(messages) == 1 and "could not read host advanced options" in messages[0]


def test_mem_state_pass_is_one_query_and_optional(review_lab: LabInstance) -> None:
    """vcsim serves no mem.state samples: hosts keep None and the estimate is used. With a
    counter vcsim has samples for, the same pass fills every connected host."""
    messages: list[str] = []
    snap = collect_source(target_for(review_lab), progress=messages.append)  # type: ignore[arg-type]
    assert all(h.mem_state is None for h in snap.hosts)
    assert [m for m in messages if "mem.state" in m] == [
        f"{review_lab.server}: host mem.state: samples for 0 of 4 hosts"
    ]
    si = connect(review_lab.host, review_lab.port)
    try:
        content = si.RetrieveContent()
        refs = {h.moid: vim.HostSystem(h.moid, si._stub) for h in snap.hosts}
        other: list[str] = []
        hosts = add_host_memory_state(
            content,
            snap.hosts,
            refs,
            label="sim",
            progress=other.append,
            counter="mem.consumed.average",
        )
    finally:
        Disconnect(si)
    assert all(isinstance(h.mem_state, int) for h in hosts)
    assert other == ["sim: host mem.state: samples for 4 of 4 hosts"]
    quiet: list[str] = []
    collect_source(target_for(review_lab), perf=False, progress=quiet.append)  # type: ignore[arg-type]
    assert not [m for m in quiet if "mem.state" in m]


def test_resource_pools_and_nesting(review_snapshot: Snapshot) -> None:
    pools = {p.name: p for p in review_snapshot.resource_pools}
    assert set(pools) == {"ns-team-a", "ns-team-b", "ns-team-b-batch"}  # no root pools
    assert pools["ns-team-a"].memory_limit_mb == 2048
    assert pools["ns-team-a"].parent_moid is None and pools["ns-team-a"].cluster == "DC0_C0"
    assert pools["ns-team-b-batch"].parent_moid == pools["ns-team-b"].moid
    assert pools["ns-team-b-batch"].datacenter == "DC0"
    assert not any(p.is_vapp for p in pools.values())
    vms = {vm.name: vm for vm in review_snapshot.vms}
    assert vms["team-a-app-01"].resource_pool_moid == pools["ns-team-a"].moid
    assert vms["batch-b-01"].resource_pool_moid == pools["ns-team-b-batch"].moid


def test_vm_wave2_properties(review_snapshot: Snapshot) -> None:
    vms = {vm.name: vm for vm in review_snapshot.vms}
    assert vms["lowlat-01"].latency_sensitivity == "high"
    assert vms["team-a-app-02"].latency_sensitivity in (None, "normal")
    # vcsim derives guestFamily from the guest id; a real vCenter reports it while Tools run,
    # which is why BA101 decides by config.guestId first
    assert vms["team-a-app-02"].guest_family == "linuxGuest"
    assert vms["win-app-01"].guest_family == "windowsGuest"
    assert vms["win-app-01"].guest_id == "windows2019srv_64Guest"


def test_ssd_swapped_and_overhead_units(demo_lab: LabInstance) -> None:
    snap = collect_source(target_for(demo_lab))  # type: ignore[arg-type]
    vm = next(v for v in snap.vms if v.name == "swap-crit-01")
    assert vm.ssd_swapped_mb == 100.0  # 102400 KB on the wire
    assert vm.overhead_mb == 60
    hosts = {h.name: h for h in snap.hosts}
    # the demo is served with -load: host options come from the saved model's config.option
    assert hosts["DC0_C1_H0"].ctl_max_pct == 0 and hosts["DC0_C2_H1"].ctl_max_pct == 30
