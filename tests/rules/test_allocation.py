"""BA401, BA402: limits and reservations."""

from __future__ import annotations

import pytest

from balloon_audit.rules.registry import get_rule
from tests.factories import make_vm, only_severity, powered_off, run, template


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, None),
        (4096, None),
        (8192, None),
        (4095, "warning"),
        (1024, "warning"),
        (0, "warning"),
    ],
)
def test_ba401_limit_vs_configured(limit, expected):
    assert only_severity("BA401", make_vm(memory_mb=4096, memory_limit_mb=limit)) == expected


@pytest.mark.parametrize(
    ("ballooned", "swapped", "expected"),
    [(None, None, "warning"), (0, 0, "warning"), (1, 0, "critical"), (0, 1, "critical")],
)
def test_ba401_critical_when_reclaiming(ballooned, swapped, expected):
    vm = make_vm(memory_mb=4096, memory_limit_mb=2048, ballooned_mb=ballooned, swapped_mb=swapped)
    assert only_severity("BA401", vm) == expected


def test_ba401_templates_and_powered_off_are_checked_without_escalation():
    tpl = template(memory_limit_mb=1024)
    off = powered_off(memory_limit_mb=1024, ballooned_mb=600)
    outcome = run("BA401", tpl, off, make_vm())
    assert outcome.checked == 3
    assert [f.severity.value for f in outcome.findings] == ["warning", "warning"]
    assert "convert template" in outcome.findings[0].remediation.steps[0]


def test_ba401_message_evidence_and_commands():
    vm = make_vm(name="app 1", memory_mb=4096, memory_limit_mb=1024, ballooned_mb=2048)
    [finding] = run("BA401", vm).findings
    assert finding.message == (
        "memory limit 1,024 MB is 25.0 % of 4,096 MB configured; the VM has 2,048 MB ballooned"
    )
    assert finding.evidence["config.memoryAllocation.limit"] == 1024
    assert finding.remediation.govc == "govc vm.change -dc DC1 -vm 'app 1' -mem.limit -1"
    assert "Set-VMResourceConfiguration -MemLimitGB $null" in finding.remediation.powercli
    assert any("1033115" in r for r in finding.remediation.references)


def test_ba401_unknown_configured_memory_not_judged():
    assert only_severity("BA401", make_vm(memory_mb=None, memory_limit_mb=10)) is None


@pytest.mark.parametrize(
    ("reservation", "locked", "ballooned", "swapped", "expected"),
    [
        (4096, False, 100, 0, "warning"),
        (8192, None, 0, 5, "warning"),
        (4095, False, 100, 0, None),  # not fully reserved
        (None, True, 100, 0, "warning"),  # reserve all guest memory
        (4096, False, 0, 0, None),
        (4096, False, None, None, None),
        (None, None, 100, 100, None),
    ],
)
def test_ba402(reservation, locked, ballooned, swapped, expected):
    vm = make_vm(
        memory_mb=4096,
        memory_reservation_mb=reservation,
        reservation_locked_to_max=locked,
        ballooned_mb=ballooned,
        swapped_mb=swapped,
    )
    assert only_severity("BA402", vm) == expected


def test_ba402_scope_and_message():
    vm = make_vm(memory_mb=4096, memory_reservation_mb=4096, memory_limit_mb=2048, swapped_mb=7)
    outcome = run(
        "BA402",
        vm,
        powered_off(memory_reservation_mb=4096, swapped_mb=7),
        make_vm(memory_reservation_mb=4096, swapped_mb=7, quickstats_available=False),
    )
    assert outcome.checked == 1
    [finding] = outcome.findings
    assert finding.message == (
        "reservation 4,096 MB of 4,096 MB configured, yet 7 MB swapped: most likely reclaimed "
        "before the reservation was raised (a power cycle clears it); rising figures are an anomaly"
    )
    # vSphere requires limit ≥ reservation: the advice must not blame a limit
    assert "limit ≥ reservation" in finding.remediation.summary
    assert "most often a memory limit" not in get_rule("BA402").meta.rationale
    assert finding.evidence["config.memoryAllocation.reservation"] == 4096
    assert "BA401" not in finding.remediation.summary
