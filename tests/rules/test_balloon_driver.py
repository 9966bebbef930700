"""BA201, BA202: sched.mem.maxmemctl."""

from __future__ import annotations

import pytest

from tests.factories import make_vm, only_severity, powered_off, run, template


@pytest.mark.parametrize("raw", ["0", " 0", "0 ", "00"])
def test_ba201_zero_disables_balloon(raw):
    assert only_severity("BA201", make_vm(maxmemctl=raw)) == "warning"


@pytest.mark.parametrize("raw", [None, "1330", "-1", "abc", "", "0.5"])
def test_ba201_other_values_are_not_disabled(raw):
    assert only_severity("BA201", make_vm(maxmemctl=raw)) is None


def test_ba201_critical_when_swapping():
    vm = make_vm(maxmemctl="0", swapped_mb=1)
    [finding] = run("BA201", vm).findings
    assert finding.severity.value == "critical"
    assert finding.evidence['config.extraConfig["sched.mem.maxmemctl"]'] == "0"
    assert finding.evidence["summary.quickStats.swappedMemory"] == 1
    assert "1 MB swapped" in finding.message


def test_ba201_swapped_none_on_running_vm_reads_as_zero():
    [finding] = run("BA201", make_vm(maxmemctl="0", swapped_mb=None)).findings
    assert finding.severity.value == "warning"
    assert "not swapping now" in finding.message


def test_ba201_checks_templates_and_powered_off_vms():
    tpl = template(maxmemctl="0")
    off = powered_off(maxmemctl="0", swapped_mb=500)  # stale counter on a powered-off VM
    outcome = run("BA201", tpl, off, make_vm())
    assert outcome.checked == 3
    assert [f.severity.value for f in outcome.findings] == ["warning", "warning"]
    assert "swapping unknown" in outcome.findings[0].message
    rem = outcome.findings[0].remediation
    assert "convert template" in rem.steps[0]


def test_ba201_swap_on_disconnected_host_does_not_escalate():
    vm = make_vm(maxmemctl="0", swapped_mb=100, host_connection_state="disconnected")
    assert only_severity("BA201", vm) == "warning"


def test_ba201_remediation_removes_the_key():
    vm = make_vm(name="db01", maxmemctl="0")
    rem = run("BA201", vm).findings[0].remediation
    assert rem.govc == "govc vm.change -dc DC1 -vm db01 -e sched.mem.maxmemctl="
    assert rem.powercli.endswith(
        "| Get-AdvancedSetting -Name 'sched.mem.maxmemctl' | Remove-AdvancedSetting -Confirm:$false"
    )
    assert any("KB 1002586" in r for r in rem.references)
    assert "reservation" in rem.summary


# 65 % of 4096 MB = 2662.4 MB
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", "info"),
        ("1330", "info"),
        ("2662", "info"),  # just below 65 %
        ("2663", None),  # above 65 %
        ("4096", None),
        ("0", None),  # BA201
        ("-1", None),
        (None, None),
    ],
)
def test_ba202_cap_below_host_default(raw, expected):
    assert only_severity("BA202", make_vm(maxmemctl=raw, memory_mb=4096)) == expected


def test_ba202_exactly_at_host_default_is_not_flagged():
    # 65 % of 2000 MB = 1300 MB exactly
    assert only_severity("BA202", make_vm(maxmemctl="1300", memory_mb=2000)) is None
    assert only_severity("BA202", make_vm(maxmemctl="1299", memory_mb=2000)) == "info"


def test_ba202_threshold_is_a_parameter():
    vm = make_vm(maxmemctl="2663", memory_mb=4096)
    assert only_severity("BA202", vm, ctl_max_pct=70) == "info"


def test_ba202_non_numeric_value_is_reported_not_crashed():
    [finding] = run("BA202", make_vm(maxmemctl="lots")).findings
    assert finding.severity.value == "info"
    assert "'lots' is not a whole number" in finding.message
    assert finding.evidence['config.extraConfig["sched.mem.maxmemctl"]'] == "lots"


def test_ba202_message_has_the_numbers():
    [finding] = run("BA202", make_vm(maxmemctl="1330", memory_mb=4096)).findings
    assert finding.message == (
        "sched.mem.maxmemctl = 1,330 caps the balloon at 32.5 % of 4,096 MB configured "
        "(host default 65 % = 2,662.4 MB)"
    )


def test_ba202_unknown_memory_size_not_judged_and_templates_checked():
    outcome = run("BA202", make_vm(maxmemctl="100", memory_mb=None), template(maxmemctl="100"))
    assert outcome.checked == 2
    assert len(outcome.findings) == 1
    assert outcome.findings[0].evidence["config.template"] is True
