"""BA101–BA104: VMware Tools status, with the deprecated-field fallbacks."""

from __future__ import annotations

import pytest

from tests.factories import make_vm, only_severity, powered_off, run, template


def test_ba101_not_installed_is_critical():
    vm = make_vm(tools_version_status2="guestToolsNotInstalled", tools_status="toolsNotInstalled")
    outcome = run("BA101", vm, make_vm())
    assert outcome.checked == 2
    [finding] = outcome.findings
    assert finding.severity.value == "critical"
    assert finding.entity.moid == vm.moid
    assert finding.evidence["guest.toolsVersionStatus2"] == "guestToolsNotInstalled"
    assert "config.guestId" in finding.evidence


def test_ba101_falls_back_to_tools_status_when_status2_missing():
    vm = make_vm(
        tools_version_status2=None, tools_version_status=None, tools_status="toolsNotInstalled"
    )
    assert only_severity("BA101", vm) == "critical"
    assert "toolsStatus" in run("BA101", vm).findings[0].message


def test_ba101_status2_wins_over_stale_tools_status():
    vm = make_vm(tools_version_status2="guestToolsCurrent", tools_status="toolsNotInstalled")
    assert only_severity("BA101", vm) is None


def test_ba101_all_unknown_is_not_flagged():
    vm = make_vm(tools_version_status2=None, tools_version_status=None, tools_status=None)
    assert only_severity("BA101", vm) is None


@pytest.mark.parametrize(
    "vm",
    [
        powered_off(tools_version_status2="guestToolsNotInstalled"),
        template(tools_version_status2="guestToolsNotInstalled"),
        make_vm(tools_version_status2="guestToolsNotInstalled", quickstats_available=False),
        make_vm(
            tools_version_status2="guestToolsNotInstalled", host_connection_state="disconnected"
        ),
        make_vm(
            tools_version_status2="guestToolsNotInstalled", host_connection_state="notResponding"
        ),
    ],
    ids=["powered-off", "template", "no-quickstats", "host-disconnected", "host-not-responding"],
)
def test_runtime_rules_ignore_out_of_scope_vms(vm):
    outcome = run("BA101", vm)
    assert outcome.checked == 0
    assert outcome.findings == ()


def test_ba101_windows_advice_mentions_memory_control_driver():
    vm = make_vm(guest_id="windows2019srv_64Guest", tools_version_status2="guestToolsNotInstalled")
    rem = run("BA101", vm).findings[0].remediation
    assert any("vmmemctl.sys" in c for c in rem.confirm)
    assert "Mount-Tools" in rem.powercli
    assert rem.govc.startswith("govc vm.guest.tools -dc DC1 -mount -- ")


def test_ba102_not_running_is_warning_only_when_installed():
    running = make_vm()
    stopped = make_vm(tools_running_status="guestToolsNotRunning")
    missing = make_vm(
        tools_version_status2="guestToolsNotInstalled", tools_running_status="guestToolsNotRunning"
    )
    outcome = run("BA102", running, stopped, missing)
    assert outcome.checked == 2  # Tools not installed is BA101's business
    assert [f.entity.moid for f in outcome.findings] == [stopped.moid]
    assert outcome.findings[0].severity.value == "warning"
    assert outcome.findings[0].evidence["guest.toolsRunningStatus"] == "guestToolsNotRunning"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("guestToolsBlacklisted", "critical"),
        ("guestToolsTooOld", "warning"),
        ("guestToolsTooNew", "warning"),
        ("guestToolsSupportedOld", "info"),
        ("guestToolsCurrent", None),
        ("guestToolsUnmanaged", None),
        ("guestToolsNotInstalled", None),
    ],
)
def test_ba103_severity_by_status2(status, expected):
    assert only_severity("BA103", make_vm(tools_version_status2=status)) == expected


def test_ba103_need_upgrade_from_deprecated_field():
    vm = make_vm(tools_version_status2=None, tools_version_status="guestToolsNeedUpgrade")
    outcome = run("BA103", vm)
    [finding] = outcome.findings
    assert finding.severity.value == "warning"
    assert "toolsVersionStatus = guestToolsNeedUpgrade" in finding.message
    assert finding.evidence["guest.toolsVersionStatus"] == "guestToolsNeedUpgrade"


def test_ba103_status2_wins_over_deprecated_need_upgrade():
    # vCenter reports NeedUpgrade in the old field for every not-current version.
    vm = make_vm(
        tools_version_status2="guestToolsSupportedOld", tools_version_status="guestToolsNeedUpgrade"
    )
    assert only_severity("BA103", vm) == "info"


def test_ba103_supported_old_can_be_silenced():
    vm = make_vm(tools_version_status2="guestToolsSupportedOld")
    assert only_severity("BA103", vm, report_supported_old=False) is None


def test_ba103_upgrade_commands():
    vm = make_vm(tools_version_status2="guestToolsTooOld")
    rem = run("BA103", vm).findings[0].remediation
    assert "Update-Tools" in rem.powercli
    assert "-upgrade" in rem.govc


def test_ba103_too_new_tools_get_no_upgrade_command():
    """Upgrading cannot fix Tools newer than the host supports: the commands only read."""
    vm = make_vm(tools_version_status2="guestToolsTooNew")
    rem = run("BA103", vm).findings[0].remediation
    assert "Update-Tools" not in rem.powercli and "ToolsVersionStatus2" in rem.powercli
    assert "-upgrade" not in rem.govc and "toolsVersionStatus2" in rem.govc


def test_ba104_unmanaged_is_info():
    vm = make_vm(tools_version_status2="guestToolsUnmanaged")
    old_field = make_vm(tools_version_status2=None, tools_version_status="guestToolsUnmanaged")
    outcome = run("BA104", vm, old_field, make_vm())
    assert outcome.checked == 3
    assert [f.severity.value for f in outcome.findings] == ["info", "info"]
    assert "toolsVersionStatus = guestToolsUnmanaged" in outcome.findings[1].message
    assert "package manager" in outcome.findings[0].remediation.summary
