"""BA101–BA104: VMware Tools status, with the deprecated-field fallbacks."""

from __future__ import annotations

import pytest

from balloon_audit.rules.registry import get_rule
from tests.factories import make_vm, only_severity, powered_off, run, template


def test_ba101_not_installed_is_critical():
    vm = make_vm(
        guest_id="windows2019srv_64Guest",
        tools_version_status2="guestToolsNotInstalled",
        tools_status="toolsNotInstalled",
    )
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
    assert only_severity("BA101", vm) == "warning"  # rhel9: in-kernel vmw_balloon
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
        make_vm(
            tools_version_status2="guestToolsNotInstalled", host_connection_state="disconnected"
        ),
        make_vm(
            tools_version_status2="guestToolsNotInstalled", host_connection_state="notResponding"
        ),
    ],
    ids=["powered-off", "template", "host-disconnected", "host-not-responding"],
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
    assert outcome.findings[0].severity.value == "info"  # hygiene: the driver still runs
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
    vm = make_vm(guest_id="windows2019srv_64Guest", tools_version_status2="guestToolsTooOld")
    rem = run("BA103", vm).findings[0].remediation
    assert "Update-Tools" in rem.powercli
    assert "-upgrade" in rem.govc


def test_ba103_linux_gets_package_manager_not_update_tools():
    """PowerCLI documents Update-Tools for Windows guests; Linux gets open-vm-tools packages."""
    vm = make_vm(guest_id="ubuntu64Guest", tools_version_status2="guestToolsTooOld")
    rem = run("BA103", vm).findings[0].remediation
    assert "Update-Tools" not in rem.powercli and "-upgrade" not in rem.govc
    assert any("open-vm-tools" in step for step in rem.steps)


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


# --- wave 2: guest family, quickStats independence ---------------------------------------


@pytest.mark.parametrize(
    ("guest_id", "guest_family", "severity"),
    [
        ("windows2019srv_64Guest", None, "critical"),
        ("rhel9_64Guest", None, "warning"),  # in-kernel vmw_balloon
        ("ubuntu64Guest", "linuxGuest", "warning"),
        ("other5xLinux64Guest", None, "warning"),
        ("rhel5_64Guest", None, "critical"),  # kernel 2.6.18: the driver comes with Tools
        ("sles11_64Guest", None, "critical"),
        ("darwin21_64Guest", None, "critical"),
        ("freebsd13_64Guest", None, "critical"),
        (None, "linuxGuest", "warning"),  # no guestId: guestFamily decides
        (None, "windowsGuest", "critical"),
        (None, None, "critical"),
    ],
)
def test_ba101_severity_follows_the_guest_family(guest_id, guest_family, severity):
    vm = make_vm(
        guest_id=guest_id,
        guest_family=guest_family,
        tools_version_status2="guestToolsNotInstalled",
    )
    assert only_severity("BA101", vm) == severity


def test_ba101_linux_says_state_unknown_and_how_to_confirm():
    vm = make_vm(guest_id="rhel9_64Guest", tools_version_status2="guestToolsNotInstalled")
    [finding] = run("BA101", vm).findings
    assert "balloon state unknown" in finding.message
    assert "lsmod | grep vmw_balloon" in finding.message and "MCTL?" in finding.message
    assert "open-vm-tools" in finding.remediation.summary
    assert finding.remediation.powercli is None  # Mount-Tools is not how Linux gets Tools
    assert finding.evidence["guest_os_family"] == "linux"


def test_tools_rules_decide_without_quickstats():
    """Tools status comes from guest info: a VM just powered on (no quickStats) is judged."""
    missing = make_vm(
        guest_id="windows2019srv_64Guest",
        tools_version_status2="guestToolsNotInstalled",
        quickstats_available=False,
    )
    stopped = make_vm(tools_running_status="guestToolsNotRunning", quickstats_available=False)
    old = make_vm(tools_version_status2="guestToolsTooOld", quickstats_available=False)
    unmanaged = make_vm(tools_version_status2="guestToolsUnmanaged", quickstats_available=False)
    assert only_severity("BA101", missing) == "critical"
    assert only_severity("BA102", stopped) == "info"
    assert only_severity("BA103", old) == "warning"
    assert only_severity("BA104", unmanaged) == "info"


def test_ba102_is_hygiene_and_debian_unit_is_open_vm_tools():
    vm = make_vm(guest_id="debian11_64Guest", tools_running_status="guestToolsNotRunning")
    [finding] = run("BA102", vm).findings
    assert "balloon driver is not affected" in finding.message
    assert "systemctl enable --now open-vm-tools" in finding.remediation.steps[0]
    assert get_rule("BA102").meta.severity.value == "info"
