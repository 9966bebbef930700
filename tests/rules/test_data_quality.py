"""BA901, BA902, BA903: VMs without runtime data, unreadable vCenters, unknown API values."""

from __future__ import annotations

import shlex

from balloon_audit.model import Snapshot, SourceInfo
from tests.factories import make_vm, powered_off, run, template


def test_ba901_flags_missing_quickstats_and_unreachable_hosts():
    no_stats = make_vm(quickstats_available=False, ballooned_mb=None)
    disconnected = make_vm(host_connection_state="disconnected", host="esx 9", host_moid="host-9")
    not_responding = make_vm(host_connection_state="notResponding")
    healthy = make_vm()
    outcome = run(
        "BA901",
        no_stats,
        disconnected,
        not_responding,
        healthy,
        powered_off(),
        template(),
    )
    assert outcome.checked == 4  # powered-on VMs
    assert [f.entity.moid for f in outcome.findings] == [
        no_stats.moid,
        disconnected.moid,
        not_responding.moid,
    ]
    assert {f.severity.value for f in outcome.findings} == {"info"}
    assert "no quickStats" in outcome.findings[0].message
    assert "disconnected" in outcome.findings[1].message
    rem = outcome.findings[1].remediation
    assert shlex.split(rem.govc) == ["govc", "host.reconnect", "-dc", "DC1", "--", "esx 9"]
    assert "'HostSystem-host-9'" in rem.powercli


def test_ba901_and_runtime_rules_partition_powered_on_vms():
    vms = [
        make_vm(),
        make_vm(quickstats_available=False),
        make_vm(host_connection_state="notResponding"),
        make_vm(host_connection_state=None),  # unknown state: still audited
    ]
    ba901 = run("BA901", *vms)
    ba301 = run("BA301", *vms)
    assert len(ba901.findings) + ba301.checked == len(vms)


def test_ba902_failed_sources_are_critical():
    snap = Snapshot(
        sources=(
            SourceInfo(server="vc-ok", status="ok"),
            SourceInfo(
                server="vc-bad:8443",
                status="failed",
                error="connection refused",
                hint="check that the server is reachable on port 8443.",
            ),
        )
    )
    outcome = run("BA902", snap=snap)
    assert outcome.checked == 2
    [finding] = outcome.findings
    assert finding.severity.value == "critical"
    assert (finding.entity.type, finding.entity.name, finding.entity.moid) == (
        "vCenter",
        "vc-bad:8443",
        None,
    )
    assert "connection refused" in finding.message
    assert "port 8443" in finding.message
    assert finding.evidence["error"] == "connection refused"
    assert finding.evidence["hint"].startswith("check that")
    assert ".." not in finding.remediation.summary
    assert finding.remediation.powercli == "Connect-VIServer -Server 'vc-bad' -Port 8443"
    assert shlex.split(finding.remediation.govc) == [
        "govc",
        "about",
        "-u",
        "https://vc-bad:8443/sdk",
    ]


def test_ba902_nothing_failed():
    outcome = run("BA902", snap=Snapshot(sources=(SourceInfo(server="vc", status="ok"),)))
    assert (outcome.checked, outcome.findings) == (1, ())


def test_ba902_govc_url_for_ipv6_and_ports():
    for server, url in [
        ("fd00::10", "https://[fd00::10]/sdk"),
        ("[fd00::10]:8443", "https://[fd00::10]:8443/sdk"),
        ("vc.example.test", "https://vc.example.test/sdk"),
    ]:
        snap = Snapshot(sources=(SourceInfo(server=server, status="failed", error="x"),))
        [finding] = run("BA902", snap=snap).findings
        assert shlex.split(finding.remediation.govc) == ["govc", "about", "-u", url]


def test_ba903_lists_values_a_newer_vcenter_sent():
    newer = SourceInfo(
        server="vc-new",
        status="ok",
        api_version="9.1.0.0",
        unknown_values=("VirtualMachinePowerState=poweredHibernating (3)",),
    )
    plain = SourceInfo(server="vc-old", status="ok")
    failed = SourceInfo(server="vc-down", status="failed", error="x")
    outcome = run("BA903", snap=Snapshot(sources=(newer, plain, failed)))
    assert outcome.checked == 2
    [finding] = outcome.findings
    assert finding.entity.name == "vc-new" and finding.severity.value == "info"
    assert "poweredHibernating (3)" in finding.message
    assert finding.evidence["unknown_values"] == list(newer.unknown_values)
    assert shlex.split(finding.remediation.govc) == ["govc", "about", "-u", "https://vc-new/sdk"]
