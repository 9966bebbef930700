"""What the reports show, computed from a result: grouping, shared advice, provenance."""

from __future__ import annotations

import time

from balloon_audit import vsphere as vs
from balloon_audit.report import presentation as p
from tests.report.sample import HOSTILE_NAMES, hostile_result


def test_groups_worst_first_with_counts():
    groups = p.group_findings(hostile_result())
    assert [g.rule for g in groups] == ["BA301", "BA777"]
    ba301 = groups[0]
    assert ba301.counts == {"critical": 6, "warning": 5, "info": 0}
    assert ba301.checked == 12
    assert [f.severity.rank for f in ba301.findings] == sorted(
        (f.severity.rank for f in ba301.findings), reverse=True
    )
    assert ba301.info.known and not groups[1].info.known


def test_advice_shared_once_and_name_placeholder():
    ba301 = p.group_findings(hostile_result())[0]
    # Every finding's summary differs only by name: none is repeated on its row.
    assert not any(ba301.own_summary)
    assert not any(ba301.own_steps)
    assert ba301.summary == ba301.info.remediation
    unknown = p.group_findings(hostile_result())[1]
    assert unknown.summary == "" and all(unknown.own_summary)


def test_common_evidence_and_short_keys():
    ba301 = p.group_findings(hostile_result())[0]
    assert ba301.common_evidence == {"config.hardware.memoryMB": 4096}
    shown = dict(ba301.row_evidence(ba301.findings[0]))
    # Rows name evidence by the property's label; the legend maps it to the API path.
    assert vs.VM_MEMORY.label not in shown and vs.VM_BALLOONED.label in shown
    assert (vs.VM_BALLOONED.label, vs.VM_BALLOONED.key) in ba301.key_legend


def test_short_keys_keep_colliding_keys_whole():
    keys = p.short_keys(["a.limit", "b.limit", 'config.extraConfig["sched.mem.maxmemctl"]', "x.y"])
    assert keys == {
        "a.limit": "a.limit",
        "b.limit": "b.limit",
        vs.VM_MAXMEMCTL.key: vs.VM_MAXMEMCTL.label,
        "x.y": "y",
    }


def test_redact_command():
    for given, hidden in (
        ("scan --password hunter2 -s vc", "hunter2"),
        ("scan --password=hunter2", "hunter2"),
        ("scan -p 'hunter 2'", "hunter 2"),
        ("BALLOON_AUDIT_PASSWORD=hunter2 balloon-audit scan", "hunter2"),
        ("scan -s https://admin:hunter2@vc1/sdk", "hunter2"),
    ):
        redacted = p.redact_command(given)
        assert hidden not in redacted and "***" in redacted, redacted
    assert p.redact_command("scan --port 443 -s vm-p1") == "scan --port 443 -s vm-p1"


def test_pressure_rankings():
    result = hostile_result()
    top = p.top_vms(result.snapshot, limit=3)
    assert [vm.name for vm in top] == [HOSTILE_NAMES[10], HOSTILE_NAMES[9], HOSTILE_NAMES[8]]
    loads = {h.host.moid: h for h in p.host_loads(result.snapshot)}
    assert loads["host-1"].vms_on == 12
    assert loads["host-2"].usage_pct is None and loads["host-2"].overcommit is None
    assert round(loads["host-1"].usage_pct) == 92


def test_provenance_times_utc_and_local(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        prov = p.provenance(hostile_result())
    finally:
        monkeypatch.undo()
        time.tzset()
    assert prov.generated_utc == "2025-03-04 05:06:07 UTC"
    assert prov.generated_local == "2025-03-04 10:36:07 IST (UTC+05:30)"
