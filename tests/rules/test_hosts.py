"""BA501–BA503: host memory state, host reclaiming, overcommitment (host and cluster)."""

from __future__ import annotations

import pytest

from balloon_audit.model import Cluster, Host, Snapshot, SourceInfo
from tests.factories import SERVER, make_host, make_vm, powered_off, run, snapshot, template


def snap(hosts=(), vms=(), clusters=()) -> Snapshot:
    return snapshot(
        *vms, hosts=hosts, clusters=clusters, sources=(SourceInfo(server=SERVER, status="ok"),)
    )


# --- BA501 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "severity", "state"),
    [
        (6000, None, "high"),  # free 4000 = 400 % of minFree 1000
        (6001, "info", "clear"),
        (9000, "info", "clear"),  # exactly 100 %
        (9001, "warning", "soft"),
        (9360, "warning", "soft"),  # exactly 64 %
        (9361, "critical", "hard"),
        (9680, "critical", "hard"),  # exactly 32 %
        (9681, "critical", "low"),
        (10000, "critical", "low"),
        (12000, "critical", "low"),  # usage above size: free clamps at 0
    ],
)
def test_ba501_threshold_edges(usage: int, severity: str | None, state: str) -> None:
    host = make_host(memory_usage_mb=usage)
    outcome = run("BA501", params={"min_free_pct": 10}, snap=snap([host]))
    assert outcome.checked == 1
    if severity is None:
        assert outcome.findings == ()
        return
    [finding] = outcome.findings
    assert finding.severity.value == severity
    assert finding.evidence["estimated_state"] == state
    assert f"in the {state} memory state (estimated)" in finding.message


def test_ba501_default_scale_on_a_128_gb_host() -> None:
    # 400 % of minFree 1925.12 MB = 7700.48 MB free.
    high = make_host(memory_size_mb=131072.0, memory_usage_mb=131072 - 7701)
    clear = make_host(moid="host-2", memory_size_mb=131072.0, memory_usage_mb=131072 - 7700)
    outcome = run("BA501", snap=snap([high, clear]))
    assert outcome.checked == 2
    [finding] = outcome.findings
    assert finding.entity.moid == "host-2" and finding.severity.value == "info"
    evidence = finding.evidence
    assert evidence["hardware.memorySize"] == 137438953472  # bytes, as the API reports it
    assert evidence["summary.quickStats.overallMemoryUsage"] == 131072 - 7700
    assert evidence["min_free_mb"] == pytest.approx(1925.12)
    assert evidence["estimated_free_mb"] == 7700
    assert "estimate" in finding.message.lower() and "esxtop" in finding.message
    assert "VMKMEM/MB" in " ".join(finding.remediation.confirm)


def test_ba501_clear_state_can_be_silenced() -> None:
    host = make_host(memory_usage_mb=7000)
    outcome = run(
        "BA501", params={"min_free_pct": 10, "report_clear_state": False}, snap=snap([host])
    )
    assert outcome.checked == 1 and outcome.findings == ()


def test_ba501_older_esx() -> None:
    host = make_host(product_version="4.1.0", memory_usage_mb=9601)  # 3.99 % free
    [finding] = run("BA501", snap=snap([host])).findings
    assert finding.severity.value == "critical"
    assert finding.evidence["estimated_state"] == "hard"
    assert finding.evidence["min_free_rule"] == "flat 6 % (ESX before 5.0)"


@pytest.mark.parametrize(
    "host",
    [
        make_host(connection_state="disconnected", memory_usage_mb=9999),
        make_host(connection_state="notResponding", memory_usage_mb=9999),
        make_host(memory_usage_mb=None),
        make_host(memory_size_mb=None, memory_usage_mb=9999),
    ],
    ids=["disconnected", "not-responding", "usage-unknown", "size-unknown"],
)
def test_ba501_skips_hosts_without_current_numbers(host: Host) -> None:
    outcome = run("BA501", snap=snap([host]))
    assert outcome.checked == 0 and outcome.findings == ()


def test_ba501_commands_quote_hostile_host_names() -> None:
    host = make_host(name="esx'1 $(reboot)", memory_usage_mb=9990)
    [finding] = run("BA501", snap=snap([host])).findings
    assert "-Id 'HostSystem-host-1'" in finding.remediation.powercli
    assert "-ceq 'esx''1 $(reboot)'" in finding.remediation.powercli
    # the live counter, by managed object reference: exact whatever the name holds
    assert finding.remediation.govc == "govc metric.sample -n 15 HostSystem:host-1 mem.state.latest"
    assert finding.entity.type == "HostSystem"


# --- BA502 ------------------------------------------------------------------------------


def test_ba502_ballooning_is_warning_swapping_is_critical() -> None:
    h1, h2 = make_host(), make_host(moid="host-2", name="esx2")
    vms = [
        make_vm(name="a", host_moid="host-1", ballooned_mb=512),
        make_vm(name="b", host_moid="host-1", ballooned_mb=256),
        make_vm(name="c", host_moid="host-2", ballooned_mb=100, swapped_mb=1),
        make_vm(name="d", host_moid="host-2"),
    ]
    outcome = run("BA502", snap=snap([h1, h2], vms))
    assert outcome.checked == 2
    by_host = {f.entity.moid: f for f in outcome.findings}
    assert by_host["host-1"].severity.value == "warning"
    assert by_host["host-1"].evidence["sum(summary.quickStats.balloonedMemory)"] == 768
    assert by_host["host-1"].evidence["vms_ballooning"] == 2
    assert [v["name"] for v in by_host["host-1"].evidence["top_vms"]] == ["a", "b"]
    assert by_host["host-2"].severity.value == "critical"
    assert by_host["host-2"].evidence["sum(summary.quickStats.swappedMemory)"] == 1
    assert "1 VM(s) swapped 1 MB" in by_host["host-2"].message


def test_ba502_joins_vms_by_server_and_host_moid() -> None:
    host = make_host()
    other_vc = make_vm(server="vc2.example.test", host_moid="host-1", swapped_mb=900)
    no_stats = make_vm(host_moid="host-1", swapped_mb=900, quickstats_available=False)
    off = powered_off(host_moid="host-1", swapped_mb=900)
    outcome = run("BA502", snap=snap([host], [other_vc, no_stats, off]))
    assert outcome.checked == 1 and outcome.findings == ()


def test_ba502_quiet_host_and_disconnected_host() -> None:
    quiet = make_host()
    gone = make_host(moid="host-2", connection_state="disconnected")
    vms = [make_vm(host_moid="host-1"), make_vm(host_moid="host-2", swapped_mb=50)]
    outcome = run("BA502", snap=snap([quiet, gone], vms))
    assert outcome.checked == 1 and outcome.findings == ()


def test_ba502_thresholds_and_evidence_limit() -> None:
    host = make_host()
    vms = [make_vm(name=f"v{i}", host_moid="host-1", ballooned_mb=100 + i) for i in range(8)]
    outcome = run("BA502", params={"evidence_top_vms": 3}, snap=snap([host], vms))
    [finding] = outcome.findings
    assert [v["name"] for v in finding.evidence["top_vms"]] == ["v7", "v6", "v5"]
    # 828 MB ballooned in total: at the threshold is not above it.
    assert run("BA502", params={"ballooned_above_mb": 828}, snap=snap([host], vms)).findings == ()
    assert run("BA502", params={"ballooned_above_mb": 827}, snap=snap([host], vms)).findings


# --- BA503 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "severity"),
    [(15000, None), (15001, "info"), (20000, "info"), (20001, "warning")],
)
def test_ba503_host_ratio_edges(configured: int, severity: str | None) -> None:
    host = make_host(cluster=None)
    vms = [make_vm(host_moid="host-1", memory_mb=configured - 1000), make_vm(memory_mb=1000)]
    outcome = run("BA503", snap=snap([host], vms))
    assert outcome.checked == 1
    if severity is None:
        assert outcome.findings == ()
    else:
        [finding] = outcome.findings
        assert finding.severity.value == severity
        assert finding.evidence["sum(config.hardware.memoryMB)"] == configured
        assert finding.entity.type == "HostSystem"


def test_ba503_counts_only_powered_on_vms_on_the_host() -> None:
    host = make_host(cluster=None)
    vms = [
        make_vm(host_moid="host-1", memory_mb=10000),
        powered_off(host_moid="host-1", memory_mb=90000),
        template(host_moid="host-1", memory_mb=90000),
        make_vm(host_moid="host-9", memory_mb=90000),
        make_vm(server="vc2.example.test", host_moid="host-1", memory_mb=90000),
        make_vm(host_moid="host-1", memory_mb=None),
        # No quickStats, but it is powered on and holds its configured memory.
        make_vm(host_moid="host-1", memory_mb=6000, quickstats_available=False),
    ]
    [finding] = run("BA503", snap=snap([host], vms)).findings
    assert finding.evidence["sum(config.hardware.memoryMB)"] == 16000
    assert finding.evidence["vms_with_unknown_memory"] == 1
    assert finding.severity.value == "info"


def test_ba503_cluster_sums_its_connected_hosts() -> None:
    cluster = Cluster(moid="domain-c7", name="Cluster1", server=SERVER, datacenter="DC1")
    h1 = make_host()
    h2 = make_host(moid="host-2", name="esx2")
    down = make_host(moid="host-3", name="esx3", connection_state="notResponding")
    vms = [
        make_vm(host_moid="host-1", memory_mb=14000),  # host ratio 1.4
        make_vm(host_moid="host-2", memory_mb=17000),  # host ratio 1.7
        make_vm(host_moid="host-3", memory_mb=50000),  # not counted anywhere
    ]
    outcome = run("BA503", snap=snap([h1, h2, down], vms, [cluster]))
    assert outcome.checked == 3  # two connected hosts and one cluster
    findings = {f.entity.type: f for f in outcome.findings}
    assert set(findings) == {"HostSystem", "ClusterComputeResource"}
    assert findings["HostSystem"].entity.moid == "host-2"
    cluster_finding = findings["ClusterComputeResource"]
    assert cluster_finding.entity.moid == "domain-c7"
    assert cluster_finding.entity.name == "Cluster1"
    assert cluster_finding.severity.value == "info"  # 31000 / 20000 = 1.55
    assert cluster_finding.evidence["overcommit_ratio"] == 1.55
    assert cluster_finding.evidence["connected_hosts"] == 2
    assert "overcommitted 1.55:1" in cluster_finding.message
    assert "-Id 'ClusterComputeResource-domain-c7'" in cluster_finding.remediation.powercli
    assert cluster_finding.remediation.govc == "govc cluster.usage -dc DC1 Cluster1"


def test_ba503_thresholds_are_parameters() -> None:
    host = make_host(cluster=None)
    vms = [make_vm(host_moid="host-1", memory_mb=12000)]
    params = {"info_ratio": 1.0, "warning_ratio": 1.1}
    [finding] = run("BA503", params=params, snap=snap([host], vms)).findings
    assert finding.severity.value == "warning"


# --- live: a real vcsim, collected, evaluated with a TOML config and a waiver ------------------


@pytest.fixture(scope="module")
def live_result(tmp_path_factory: pytest.TempPathFactory):
    """Seed a private vcsim, collect it, and evaluate every rule with a config file."""
    from pyVim.task import WaitForTask

    from balloon_audit.collect import Target, collect_source
    from balloon_audit.config_file import load_config
    from balloon_audit.engine import evaluate
    from balloon_audit.lab.vcsim import start_vcsim, stop_vcsim
    from tests.live import inventory, reconfigure, require_vcsim, session

    require_vcsim()
    endpoint = start_vcsim()
    try:
        with session(endpoint.host, endpoint.port) as si:
            vms = {vm.name: vm for vm in inventory(si)}
            # Standalone host DC0_H0 (4 GB): two VMs ballooning, 12,000 MB configured.
            reconfigure(
                vms["DC0_H0_VM0"], {"SET.summary.quickStats.balloonedMemory": 512}, memoryMB=6000
            )
            reconfigure(
                vms["DC0_H0_VM1"], {"SET.summary.quickStats.balloonedMemory": 256}, memoryMB=6000
            )
            # Cluster DC0_C0: a Kubernetes worker being ballooned, a macOS guest.
            WaitForTask(vms["DC0_C0_RP0_VM0"].Rename_Task("k8s-worker-0"))
            reconfigure(
                vms["DC0_C0_RP0_VM0"],
                {"SET.summary.quickStats.balloonedMemory": 64},
                memoryMB=20000,
            )
            reconfigure(
                vms["DC0_C0_RP0_VM1"],
                {"SET.guest.toolsVersion": "11264"},
                guestId="darwin21_64Guest",
            )
        snapshot = collect_source(
            Target(endpoint.host, endpoint.port, "auditor", "pw", insecure=True)
        )
    finally:
        stop_vcsim(endpoint.pid)
    config_path = tmp_path_factory.mktemp("cfg") / "config.toml"
    config_path.write_text(
        "[rules.BA503]\nwarning_ratio = 2.5\n\n"
        '[[waivers]]\nrule = "BA601"\nentity = "DC0_C0_RP0_*"\n'
        'reason = "build agent, accepted"\nowner = "ci-team"\nexpires = 2099-12-31\n',
        encoding="utf-8",
    )
    return snapshot, evaluate(snapshot, load_config(config_path))


@pytest.mark.live
def test_live_host_and_guest_rules(live_result) -> None:
    snapshot, result = live_result
    found = {(f.rule, f.entity.name): f for f in result.findings}
    stats = {s.rule: s for s in result.rule_stats}

    # BA501: vcsim hosts are 4 GB with 1,404 MB used: high state, all four checked.
    assert stats["BA501"].checked == 4 and stats["BA501"].flagged == 0

    ba502 = found[("BA502", "DC0_H0")]
    assert ba502.severity.value == "warning"
    assert ba502.evidence["sum(summary.quickStats.balloonedMemory)"] == 768
    assert [v["name"] for v in ba502.evidence["top_vms"]] == ["DC0_H0_VM0", "DC0_H0_VM1"]

    # BA503 with warning_ratio raised to 2.5 by the config file: 12,000 / 4,095.5 = 2.93.
    assert found[("BA503", "DC0_H0")].severity.value == "warning"
    cluster = found[("BA503", "DC0_C0")]
    assert cluster.entity.type == "ClusterComputeResource"
    assert cluster.entity.moid == next(c.moid for c in snapshot.clusters if c.name == "DC0_C0")
    assert stats["BA503"].checked == 5  # four connected hosts and one cluster

    assert found[("BA602", "k8s-worker-0")].severity.value == "warning"

    # BA601 is waived by the config file: kept apart, never dropped.
    assert not [f for f in result.findings if f.rule == "BA601"]
    [waived] = result.waived
    assert (waived.finding.rule, waived.finding.entity.name) == ("BA601", "DC0_C0_RP0_VM1")
    assert waived.finding.evidence["tools_version_decoded"] == "11.0.0"
    assert result.waiver_problems == ()
    assert result.thresholds["BA503"]["warning_ratio"] == 2.5
