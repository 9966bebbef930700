"""Wave 2: BA203 (host balloon cap), BA403 (pool limits), BA404 (latency sensitivity), BA501 from
the mem.state counter and Mem.MemMinFreePct, BA503 N−1 and overhead, BA301 with the host's cap."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from balloon_audit.model import ResourcePool, Snapshot, SourceInfo
from tests.factories import SERVER, make_host, make_vm, powered_off, run, template


def snap(hosts=(), vms=(), pools=(), clusters=()) -> Snapshot:
    return Snapshot(
        sources=(SourceInfo(server=SERVER, status="ok"),),
        clusters=tuple(clusters),
        hosts=tuple(hosts),
        vms=tuple(vms),
        resource_pools=tuple(pools),
    )


def pool(**overrides: Any) -> ResourcePool:
    values: dict[str, Any] = dict(
        moid="resgroup-10",
        name="tanzu-ns-1",
        server=SERVER,
        datacenter="DC1",
        cluster="Cluster1",
        parent_moid=None,
        memory_limit_mb=8192,
        memory_reservation_mb=0,
        expandable_reservation=True,
    )
    values.update(overrides)
    return ResourcePool(**values)


# --- BA203 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "swapping", "expected"),
    [
        (65, False, None),
        (100, False, None),
        (None, False, None),  # not read: not judged
        (64, False, "info"),
        (30, True, "info"),
        (0, False, "warning"),
        (0, True, "critical"),
    ],
)
def test_ba203_host_balloon_cap(value, swapping, expected) -> None:
    host = make_host(ctl_max_pct=value)
    vm = make_vm(swapped_mb=10 if swapping else 0)
    outcome = run("BA203", snap=snap([host], [vm]))
    assert outcome.checked == (0 if value is None else 1)
    got = outcome.findings[0].severity.value if outcome.findings else None
    assert got == expected


def test_ba203_finding_content_and_commands() -> None:
    host = make_host(ctl_max_pct=0, name="esx'1 $(x)")
    [finding] = run("BA203", snap=snap([host], [make_vm(swapped_mb=12, name="db1")])).findings
    assert finding.entity.type == "HostSystem"
    assert "Mem.CtlMaxPercent = 0: ballooning is off for all 1 running VM(s)" in finding.message
    assert "db1" in finding.message
    assert finding.evidence['config.option["Mem.CtlMaxPercent"]'] == 0
    rem = finding.remediation
    assert shlex.split(rem.govc) == [
        "govc", "host.option.set", "-host", "HostSystem:host-1", "Mem.CtlMaxPercent", "65",
    ]  # fmt: skip
    assert "Set-AdvancedSetting -Value 65 -Confirm:$false" in rem.powercli
    assert "-ceq 'esx''1 $(x)'" in rem.powercli


def test_ba301_uses_the_host_cap() -> None:
    """Mem.CtlMaxPercent = 0 on the host: the effective cap is 0, any ballooning is past it."""
    vm = make_vm(ballooned_mb=100, memory_mb=8192)
    assert run("BA301", snap=snap([make_host()], [vm])).findings[0].severity.value == "info"
    [finding] = run("BA301", snap=snap([make_host(ctl_max_pct=0)], [vm])).findings
    assert finding.severity.value == "critical"
    assert "balloon disabled on the VM or host" in finding.message
    assert finding.evidence["host_ctl_max_pct_source"] == "host"
    assert finding.evidence["effective_balloon_cap_mb"] == 0
    # a host cap of 10 %: 800 MB is 98 % of 819.2 MB
    vm = make_vm(ballooned_mb=800, memory_mb=8192)
    assert run("BA301", snap=snap([make_host(ctl_max_pct=10)], [vm])).findings[
        0
    ].severity.value == ("critical")


def test_ba301_zero_cap_reason_is_not_a_limit() -> None:
    from balloon_audit.rules.registry import get_rule

    rationale = get_rule("BA301").meta.rationale
    assert "or a limit" not in rationale and "Mem.CtlMaxPercent" in rationale


# --- BA403 ----------------------------------------------------------------------------------


def _pool_vm(name: str, memory_mb: int, pool_moid: str, **kw: Any):
    return make_vm(name=name, memory_mb=memory_mb, resource_pool_moid=pool_moid, **kw)


def test_ba403_limit_below_configured_is_info() -> None:
    p = pool(memory_limit_mb=8192)
    vms = [_pool_vm("a", 6144, p.moid), _pool_vm("b", 4096, p.moid)]
    [finding] = run("BA403", snap=snap([make_host()], vms, [p])).findings
    assert finding.severity.value == "info"
    assert finding.entity.type == "ResourcePool" and finding.entity.moid == "resgroup-10"
    assert "8,192 MB" in finding.message and "10,240 MB configured" in finding.message
    assert finding.evidence["config.memoryAllocation.limit"] == 8192
    assert shlex.split(finding.remediation.govc) == [
        "govc", "pool.change", "-mem.limit", "-1", "ResourcePool:resgroup-10",
    ]  # fmt: skip
    assert "Set-ResourcePool -MemLimitGB $null" in finding.remediation.powercli


def test_ba403_not_flagged_when_the_limit_fits() -> None:
    p = pool(memory_limit_mb=8192)
    vms = [
        _pool_vm("a", 8192, p.moid),
        powered_off(name="off", memory_mb=8192, resource_pool_moid=p.moid),
        template(name="tpl", memory_mb=8192, resource_pool_moid=p.moid),
    ]
    outcome = run(
        "BA403", snap=snap([make_host()], vms, [p, pool(moid="rp-2", memory_limit_mb=None)])
    )
    assert outcome.checked == 1 and outcome.findings == ()


def test_ba403_critical_when_reclaimed_on_idle_hosts_warning_under_pressure() -> None:
    p = pool(memory_limit_mb=4096)
    vm = _pool_vm("a", 8192, p.moid, ballooned_mb=1024)
    idle = make_host(memory_size_mb=65536.0, memory_usage_mb=20000)
    [finding] = run("BA403", snap=snap([idle], [vm], [p])).findings
    assert finding.severity.value == "critical"
    assert "the limit is the cause" in finding.message
    busy = make_host(memory_size_mb=65536.0, memory_usage_mb=20000, mem_state=2)  # soft
    [finding] = run("BA403", snap=snap([busy], [vm], [p])).findings
    assert finding.severity.value == "warning"
    assert finding.evidence["hosts_under_pressure"] == ["esx1.example.test"]


def test_ba403_parent_limit_caps_child_pools() -> None:
    parent = pool(moid="rp-parent", name="namespace", memory_limit_mb=8192)
    child = pool(moid="rp-child", name="child", parent_moid="rp-parent", memory_limit_mb=None)
    limited_child = pool(moid="rp-c2", name="child2", parent_moid="rp-parent", memory_limit_mb=2048)
    vms = [_pool_vm("a", 6144, "rp-child"), _pool_vm("b", 4096, "rp-c2")]
    outcome = run("BA403", snap=snap([make_host()], vms, [parent, child, limited_child]))
    found = {f.entity.name: f for f in outcome.findings}
    assert set(found) == {"namespace", "child2"}
    assert found["namespace"].evidence["sum(config.hardware.memoryMB)"] == 10240
    assert found["child2"].evidence["limited_parent_pools"] == ["namespace (8,192 MB)"]
    assert outcome.checked == 2


def test_ba403_vapp_entity_and_no_govc() -> None:
    p = pool(is_vapp=True, memory_limit_mb=1024)
    [finding] = run("BA403", snap=snap([], [_pool_vm("a", 4096, p.moid)], [p])).findings
    assert finding.entity.type == "VirtualApp"
    assert finding.remediation.govc is None and "Set-VApp" in finding.remediation.powercli


# --- BA404 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "reservation", "locked", "expected"),
    [
        ("high", 0, False, "warning"),
        ("high", 4095, False, "warning"),
        ("high", 4096, False, None),
        ("high", 0, True, None),
        ("normal", 0, False, None),
        (None, 0, False, None),
    ],
)
def test_ba404(level, reservation, locked, expected) -> None:
    vm = make_vm(
        latency_sensitivity=level,
        memory_mb=4096,
        memory_reservation_mb=reservation,
        reservation_locked_to_max=locked,
    )
    outcome = run("BA404", vm)
    got = outcome.findings[0].severity.value if outcome.findings else None
    assert got == expected


def test_ba404_checks_templates_and_uses_the_memory_lock() -> None:
    tpl = template(latency_sensitivity="high", host="esx1")
    [finding] = run("BA404", tpl).findings
    assert "MemoryReservationLockedToMax = $true" in finding.remediation.powercli
    assert "-memory-pin=true" in finding.remediation.govc
    assert finding.evidence["config.latencySensitivity.level"] == "high"


# --- BA501 with the mem.state counter ---------------------------------------------------------


@pytest.mark.parametrize(
    ("mem_state", "version", "expected_state", "severity"),
    [
        (0, "8.0.3", "high", None),
        (1, "8.0.3", "clear", "info"),
        (2, "8.0.3", "soft", "warning"),
        (3, "8.0.3", "hard", "critical"),
        (4, "8.0.3", "low", "critical"),
        (1, "5.5.0", "soft", "warning"),  # ESXi 5.x had no clear state
        (3, "5.5.0", "low", "critical"),
    ],
)
def test_ba501_counter_beats_the_estimate(mem_state, version, expected_state, severity) -> None:
    # quickStats say "low" (10 MB free): the counter wins
    host = make_host(mem_state=mem_state, product_version=version, memory_usage_mb=9990)
    outcome = run("BA501", snap=snap([host]))
    assert outcome.checked == 1
    got = outcome.findings[0] if outcome.findings else None
    assert (got.severity.value if got else None) == severity
    if got:
        assert got.evidence["state"] == expected_state
        assert got.evidence["state_source"] == "mem.state counter"
        assert got.evidence["estimated_state"] == "low"
        assert f"mem.state counter = {mem_state}" in got.message


def test_ba501_estimate_is_labelled_and_hard_state_hedged() -> None:
    # 10,000 MB host: minFree 245.76 + 4 % of 5904 = 481.92 MB; 200 MB free = 41 %: hard
    host = make_host(memory_usage_mb=9800)
    [finding] = run("BA501", snap=snap([host])).findings
    assert finding.evidence["state"] == "hard"
    assert finding.evidence["state_source"].startswith("estimate from quickStats")
    assert "(estimated)" in finding.message
    assert "sources differ on whether ballooning continues" in finding.message
    assert "ballooning stops" not in finding.message


def test_ba501_counter_without_quickstats_numbers() -> None:
    host = make_host(mem_state=2, memory_usage_mb=None)
    [finding] = run("BA501", snap=snap([host])).findings
    assert finding.severity.value == "warning" and finding.evidence["estimated_state"] is None


def test_ba501_host_min_free_pct_wins_over_the_sliding_scale() -> None:
    # 10,000 MB, 1,500 MB free. Sliding scale: minFree 481.92 → 311 % (clear).
    # Mem.MemMinFreePct = 20: minFree 2,000 MB → 75 % (soft).
    assert run("BA501", snap=snap([make_host(memory_usage_mb=8500)])).findings[0].evidence[
        "state"
    ] == ("clear")
    [finding] = run("BA501", snap=snap([make_host(memory_usage_mb=8500, min_free_pct=20)])).findings
    assert finding.evidence["state"] == "soft"
    assert finding.evidence["min_free_rule"] == "flat 20 % (the host's Mem.MemMinFreePct)"
    assert finding.evidence['config.option["Mem.MemMinFreePct"]'] == 20


# --- BA503: N−1 and overhead ---------------------------------------------------------------


def _cluster_hosts(*sizes: float):
    return [
        make_host(moid=f"host-{i}", name=f"esx{i}", memory_size_mb=size, memory_usage_mb=1)
        for i, size in enumerate(sizes)
    ]


def test_ba503_cluster_n_minus_1_and_overhead() -> None:
    hosts = _cluster_hosts(10000.0, 10000.0, 20000.0)
    vms = [
        make_vm(host_moid="host-0", memory_mb=22000, overhead_mb=100),
        make_vm(host_moid="host-1", memory_mb=22000, overhead_mb=100),
        make_vm(host_moid="host-2", memory_mb=20000),
    ]
    outcome = run("BA503", snap=snap(hosts, vms))
    cluster = next(f for f in outcome.findings if f.entity.type == "ClusterComputeResource")
    ev = cluster.evidence
    # (64,000 + 200 overhead) / 40,000 = 1.605 → info; N−1: 64,200 / 20,000 = 3.21
    assert ev["overcommit_ratio"] == pytest.approx(1.605)
    assert ev["overcommit_ratio_n_minus_1"] == pytest.approx(3.21)
    assert ev["largest_host_mb"] == 20000
    assert ev["sum(summary.quickStats.consumedOverheadMemory)"] == 200
    assert cluster.severity.value == "info"
    assert "+ 200 MB VM overhead" in cluster.message
    # a host's ratio counts its VMs' overhead too: (22,000 + 100) / 10,000
    host0 = next(f for f in outcome.findings if f.entity.name == "esx0")
    assert host0.evidence["overcommit_ratio"] == pytest.approx(2.21)


def test_ba503_no_ha_finding_when_n_minus_1_fits() -> None:
    hosts = _cluster_hosts(10000.0, 10000.0)
    vms = [make_vm(host_moid="host-0", memory_mb=7000), make_vm(host_moid="host-1", memory_mb=7000)]
    outcome = run("BA503", snap=snap(hosts, vms))
    # 0.7 overall, 1.4 after losing one host: nothing to report
    assert outcome.findings == () and outcome.checked == 3


def test_ba503_ha_headroom_info_when_n_minus_1_above_warning() -> None:
    hosts = _cluster_hosts(10000.0, 10000.0)
    vms = [
        make_vm(host_moid="host-0", memory_mb=14000),
        make_vm(host_moid="host-1", memory_mb=14000),
    ]
    outcome = run("BA503", snap=snap(hosts, vms))
    [cluster] = [f for f in outcome.findings if f.entity.type == "ClusterComputeResource"]
    # 1.4 overall (below info 1.5), 2.8 with one host down → info
    assert cluster.severity.value == "info"
    assert "2.80:1 with its largest host" in cluster.message
    off = run("BA503", snap=snap(hosts, vms), params={"ha_headroom": False})
    assert all(f.entity.type != "ClusterComputeResource" for f in off.findings)
