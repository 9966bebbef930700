"""Small in-memory audit results for the report tests: hostile names, a failed vCenter,
a waived finding, a rule ID the registry does not know, and a clean fleet."""

from __future__ import annotations

from datetime import datetime, timezone

from balloon_audit.engine import rule_doc
from balloon_audit.model import (
    VM,
    AuditResult,
    Cluster,
    Entity,
    Finding,
    Remediation,
    RuleDoc,
    RuleStat,
    Severity,
    Snapshot,
    SourceInfo,
    WaivedFinding,
    Waiver,
)
from balloon_audit.rules.registry import all_rules
from tests.factories import make_host, make_vm

# Names an attacker (or an unlucky admin) can give a VM in vCenter.
HOSTILE_NAMES = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{7*7}}",
    '=HYPERLINK("http://evil.example/x","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\tleading-tab",
    "#N/A",
    "naïve-数据库-🎈",
    'O\'Brien & "Sons" </style></script>',
)
ILLEGAL_XML_NAME = "bell\x07vm"
"""Contains a control character XML 1.0 forbids."""

GENERATED_AT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
SERVER = "vc1.example.test"
FAILED = "vc2.example.test"


def rule_docs() -> tuple[RuleDoc, ...]:
    """What evaluate() puts in a result about the rules (BA777 stays unknown)."""
    return tuple(rule_doc(rule.meta) for rule in all_rules())


def _vm(i: int, name: str, **kw) -> VM:
    """A ballooning-ready VM in "Cluster <A>" whose Tools report only toolsVersionStatus2."""
    base = dict(
        moid=f"vm-{100 + i}",
        name=name,
        datacenter="DC0",
        cluster="Cluster <A>",
        host="esx-01.example.test",
        tools_version_status=None,
        tools_status=None,
        tools_version=None,
        ballooned_mb=0,
        swapped_mb=0,
        compressed_mb=0.0,
        host_memory_usage_mb=4000,
        guest_memory_usage_mb=800,
    )
    base.update(kw)
    return make_vm(**base)


def _snapshot(vms: list[VM]) -> Snapshot:
    return Snapshot(
        sources=(
            SourceInfo(
                SERVER,
                "ok",
                api_version="8.0.3.0",
                api_type="VirtualCenter",
                product="VMware vCenter Server 8.0.3",
                vm_count=len(vms),
                host_count=2,
                duration_s=1.25,
            ),
            SourceInfo(
                FAILED,
                "failed",
                error="connection refused <port 443>",
                hint="check that the vCenter is reachable & the port is right",
            ),
        ),
        clusters=(Cluster("domain-c1", "Cluster <A>", SERVER, "DC0"),),
        hosts=(
            make_host(
                name="esx-01.example.test",
                server=SERVER,
                datacenter="DC0",
                cluster="Cluster <A>",
                in_maintenance_mode=False,
                memory_size_mb=65536.0,
                memory_usage_mb=60000,
            ),
            make_host(
                moid="host-2",
                name="<b>esx-02</b>",
                server=SERVER,
                datacenter="DC0",
                cluster=None,
                connection_state="disconnected",
                power_state=None,
                memory_size_mb=None,
                memory_usage_mb=None,
                product_version=None,
            ),
        ),
        vms=tuple(vms),
    )


def _finding(rule: str, name: str, sev: Severity, vm: VM, message: str, **evidence) -> Finding:
    return Finding(
        rule=rule,
        name=name,
        severity=sev,
        entity=Entity.of_vm(vm),
        message=message,
        evidence=evidence,
        remediation=Remediation(
            summary="Find the memory pressure on the host and relieve it.",
            steps=("Check BA401 first: a limit causes ballooning.", "Rebalance with DRS."),
            confirm=("esxtop, memory view: MCTLSZ > 0",),
            powercli=f"Get-VM -Name '{vm.name}' | Get-AdvancedSetting -Name sched.mem.maxmemctl",
            govc=f"govc vm.info -e '{vm.name}'",
            references=("KB 1002586",),
        ),
    )


def hostile_snapshot() -> Snapshot:
    """The hostile fleet alone, for the real rules (balloon_audit.engine.evaluate)."""
    vms = [
        _vm(
            i,
            name,
            ballooned_mb=700 * (i + 1),
            swapped_mb=i * 3,
            compressed_mb=i * 1.5,
            maxmemctl="0" if i % 3 == 0 else None,
            memory_limit_mb=2048 if i % 4 == 0 else None,
            tools_version_status2="guestToolsNotInstalled" if i == 5 else "guestToolsCurrent",
        )
        for i, name in enumerate(HOSTILE_NAMES)
    ]
    vms.append(_vm(50, ILLEGAL_XML_NAME, ballooned_mb=7))
    return _snapshot(vms)


def hostile_result() -> AuditResult:
    """Every hostile name is a ballooning VM with one finding; one more finding is waived."""
    vms = [
        _vm(i, name, ballooned_mb=100 * (i + 1), swapped_mb=i * 3, compressed_mb=i * 1.5)
        for i, name in enumerate(HOSTILE_NAMES)
    ]
    vms.append(_vm(50, ILLEGAL_XML_NAME, ballooned_mb=7))
    vms.append(
        _vm(
            51,
            "powered-off-template",
            power_state="poweredOff",
            is_template=True,
            host=None,
            host_moid=None,
            quickstats_available=False,
            ballooned_mb=None,
            swapped_mb=None,
            compressed_mb=None,
            host_memory_usage_mb=None,
            guest_memory_usage_mb=None,
            memory_limit_mb=1024,
        )
    )
    findings = [
        _finding(
            "BA301",
            "ballooning",
            Severity.WARNING if i % 2 else Severity.CRITICAL,
            vm,
            f"{vm.ballooned_mb} MB of {vm.memory_mb} MB ballooned",
            **{
                "summary.quickStats.balloonedMemory": vm.ballooned_mb,
                "config.hardware.memoryMB": vm.memory_mb,
                "summary.quickStats.compressedMemory": vm.compressed_mb,
                "note": vm.name,
            },
        )
        for i, vm in enumerate(vms[: len(HOSTILE_NAMES)])
    ]
    findings.append(
        _finding(
            "BA777",
            "from-the-future",
            Severity.INFO,
            vms[-2],
            "a rule this version lacks",
            **{"config.extraConfig": {"k": "<v>"}},
        )
    )
    waived_vm = vms[0]
    waived = WaivedFinding(
        _finding(
            "BA201",
            "balloon-driver-disabled",
            Severity.WARNING,
            waived_vm,
            "sched.mem.maxmemctl = 0",
            **{"config.extraConfig[sched.mem.maxmemctl]": "0"},
        ),
        Waiver(
            "BA201",
            waived_vm.name,
            reason="DB pins memory <by design>",
            owner="dba@team",
            expires="2099-01-01",
        ),
    )
    return AuditResult(
        generated_at=GENERATED_AT,
        tool_version="0.1.0",
        snapshot=_snapshot(vms),
        findings=tuple(findings),
        rule_stats=(
            RuleStat("BA301", "ballooning", len(vms) - 1, len(findings) - 1),
            RuleStat("BA777", "from-the-future", 3, 1),
        ),
        thresholds={"BA301": {"warning_pct": 10, "critical_pct": 50}, "BA777": {}},
        rules=rule_docs(),
        waived=(waived,),
        waiver_problems=("waiver BA102 <old-vm> expired on 2024-01-01",),
        run_by={
            "user": "ops<admin>",
            "host": "jump-01",
            "command": "balloon-audit scan -s vc1 --password hunter2 --html out.html",
        },
    )


def clean_result() -> AuditResult:
    """A healthy fleet: nothing flagged."""
    vms = [_vm(i, f"app-{i:02d}") for i in range(3)]
    snap = _snapshot(vms)
    snap = Snapshot(
        sources=snap.sources[:1], clusters=snap.clusters, hosts=snap.hosts[:1], vms=snap.vms
    )
    return AuditResult(
        generated_at=GENERATED_AT,
        tool_version="0.1.0",
        snapshot=snap,
        findings=(),
        rule_stats=(RuleStat("BA301", "ballooning", 3, 0),),
        thresholds={"BA301": {"warning_pct": 10}},
        rules=rule_docs(),
        run_by={"user": "cron", "host": "jump-01", "command": "balloon-audit scan"},
    )
