"""BA101–BA104: VMware Tools, and what they mean for the balloon driver.

The balloon driver is how a host asks a guest to give memory back: the guest
picks the pages it can spare. Without it the host can only compress and swap
the VM's memory blindly. On Windows (and other guests without an in-kernel
driver) the driver, vmmemctl.sys, ships with VMware Tools. On Linux it is the
kernel module vmw_balloon (upstream since 2.6.34), which loads on VMware
hardware with or without open-vm-tools. The Tools status comes from guest
info, not quickStats, so these rules also judge VMs without quickStats.
"""

from __future__ import annotations

from balloon_audit import vsphere as vs
from balloon_audit.formatting import tools_status_text
from balloon_audit.model import VM, Finding, Remediation, RuleOutcome, Severity, Snapshot
from balloon_audit.rules.common import (
    CONFIRM_LINUX_DRIVER,
    CONFIRM_MCTL,
    CONFIRM_WINDOWS_DRIVER,
    ESXTOP_MEMORY_VIEW,
    LINUX,
    LINUX_OLD_KERNEL,
    MACOS,
    REF_API_TOOLS_RUNNING,
    REF_API_TOOLS_VERSION,
    REF_LINUX_VMW_BALLOON,
    REF_POWERCLI,
    REF_RM_BALLOON,
    REF_RM_SWAP,
    WINDOWS,
    guest_info_vms,
    guest_os_family,
    vm_evidence,
    vm_finding,
    vm_label,
)
from balloon_audit.rules.registry import Params, RuleMeta, rule
from balloon_audit.rules.shell import govc_positional, govc_vm_json, powercli_pipeline

_NOT_INSTALLED_2 = "guestToolsNotInstalled"
_NOT_INSTALLED_1 = "toolsNotInstalled"
_UNMANAGED = "guestToolsUnmanaged"

_TOOLS_JQ = (
    " | .guest | {toolsVersionStatus2, toolsVersionStatus, toolsRunningStatus, toolsVersion}"
)
_TOOLS_SELECT = (
    "Select-Object Name,"
    " @{N='ToolsVersionStatus2';E={$_.ExtensionData.Guest.ToolsVersionStatus2}},"
    " @{N='ToolsRunningStatus';E={$_.ExtensionData.Guest.ToolsRunningStatus}},"
    " @{N='ToolsVersion';E={$_.ExtensionData.Guest.ToolsVersion}}"
)


_TOOLS_READS = (
    vs.VM_TOOLS_STATUS2,
    vs.VM_TOOLS_VERSION_STATUS,
    vs.VM_TOOLS_STATUS,
    vs.VM_TOOLS_VERSION,
    vs.VM_GUEST_ID,
    vs.VM_GUEST_FAMILY,
)
"""What every Tools rule shows as evidence (see _tools_evidence)."""


def tools_version_status(vm: VM) -> str | None:
    """The status BA103 judges: :func:`~balloon_audit.formatting.tools_status_text`, or None."""
    return tools_status_text(vm) or None


def _status_field(vm: VM) -> str:
    """``toolsVersionStatus2 = X`` or, on the fallback, ``toolsVersionStatus = X``."""
    if vm.tools_version_status2:
        return f"toolsVersionStatus2 = {vm.tools_version_status2}"
    return f"toolsVersionStatus = {vm.tools_version_status}"


def tools_not_installed(vm: VM) -> bool:
    """Tools are not installed, by toolsVersionStatus2 or (when it is unset) toolsStatus."""
    if vm.tools_version_status2 is not None:
        return vm.tools_version_status2 == _NOT_INSTALLED_2
    if vm.tools_version_status is not None:
        return vm.tools_version_status == _NOT_INSTALLED_2
    return vm.tools_status == _NOT_INSTALLED_1


def _tools_evidence(vm: VM, *, running: bool = False) -> dict:
    values = {
        vs.VM_TOOLS_STATUS2.key: vm.tools_version_status2,
        vs.VM_TOOLS_VERSION_STATUS.key: vm.tools_version_status,
        vs.VM_TOOLS_STATUS.key: vm.tools_status,
        vs.VM_TOOLS_VERSION.key: vm.tools_version,
        vs.VM_GUEST_ID.key: vm.guest_id,
        vs.VM_GUEST_FAMILY.key: vm.guest_family,
        "guest_os_family": guest_os_family(vm),
    }
    if running:
        values[vs.VM_TOOLS_RUNNING.key] = vm.tools_running_status
    return vm_evidence(vm, **values)


def _driver_check(vm: VM) -> tuple[str, ...]:
    """The guest-side driver check for the VM's OS family (both when unknown)."""
    family = guest_os_family(vm)
    if family == WINDOWS:
        return (CONFIRM_WINDOWS_DRIVER,)
    if family in (LINUX, LINUX_OLD_KERNEL):
        return (CONFIRM_LINUX_DRIVER,)
    return (CONFIRM_LINUX_DRIVER, CONFIRM_WINDOWS_DRIVER)


def _is_debian_like(vm: VM) -> bool:
    return (vm.guest_id or "").lower().startswith(("ubuntu", "debian"))


def _tools_service(vm: VM) -> str:
    """The systemd unit of open-vm-tools: ``open-vm-tools`` on Debian/Ubuntu, else vmtoolsd."""
    return "open-vm-tools" if _is_debian_like(vm) else "vmtoolsd"


# --------------------------------------------------------------------------- BA101

BA101 = RuleMeta(
    id="BA101",
    name="tools-not-installed",
    severity=Severity.CRITICAL,
    checks="Powered-on VM without VMware Tools: no balloon driver (Windows), or unknown (Linux)",
    rationale=(
        "On Windows and other guests without an in-kernel driver the balloon driver (vmmemctl) "
        "ships with VMware Tools: without Tools the host cannot ask the guest to free memory "
        "and falls back to compression and host swapping, which hurt far more (critical). On "
        "Linux the balloon driver is the kernel module vmw_balloon, upstream since 2.6.34, "
        "which loads on VMware hardware with or without open-vm-tools: without Tools the "
        "balloon most likely still works, but nothing confirms it (warning; confirm with lsmod "
        "or esxtop MCTL?). Linux guest ids whose kernels predate 2.6.34 (RHEL/CentOS 5 and "
        "older, SLES 11 and older, Debian 5 and older) are treated like Windows. The guest "
        "family is read from config.guestId (guest.guestFamily as a fallback: vCenter reports "
        "it only while Tools run). Tools status comes from guest info, so VMs without "
        "quickStats are judged too."
    ),
    remediation=(
        "Install VMware Tools (Windows) or the distribution's open-vm-tools package (Linux), "
        "then confirm the balloon driver is loaded."
    ),
    scope="powered-on VMs on reachable hosts, with or without quickStats (templates excluded)",
    references=(REF_RM_BALLOON, REF_RM_SWAP, REF_LINUX_VMW_BALLOON, REF_API_TOOLS_VERSION),
    reads=(*_TOOLS_READS, vs.VM_POWER_STATE),
)


def _ba101_remediation(vm: VM, family: str) -> Remediation:
    if family == WINDOWS:
        summary = (
            f"Install VMware Tools in {vm_label(vm)}: on Windows the balloon driver ships with "
            "Tools, so without them the host can only compress and swap its memory under "
            "pressure."
        )
        install = (
            "Windows guest: vSphere Client › Actions › Guest OS › Install VMware Tools, then run "
            "setup from the mounted CD inside the guest (Typical install includes the Memory "
            "Control Driver) and reboot when asked."
        )
    elif family == LINUX:
        summary = (
            f"Install open-vm-tools in {vm_label(vm)} for heartbeat, guest info and quiesced "
            "backups. The Linux balloon driver (vmw_balloon) is part of the kernel and most "
            "likely works without Tools, but nothing reports it: confirm it is loaded."
        )
        install = (
            "Linux guest: install open-vm-tools from the distribution's repositories "
            "(dnf install open-vm-tools / apt install open-vm-tools) and enable its service "
            f"(systemctl enable --now {_tools_service(vm)})."
        )
    else:
        summary = (
            f"Install VMware Tools in {vm_label(vm)}: this guest has no in-kernel balloon "
            "driver, so without Tools the host can only compress and swap its memory."
        )
        install = (
            "vSphere Client › Actions › Guest OS › Install VMware Tools (for Linux kernels "
            "older than 2.6.34 the Tools bring the vmmemctl module)."
        )
    return Remediation(
        summary=summary,
        steps=(
            install,
            "Never blacklist the vmw_balloon kernel module (Linux) or leave out the Memory "
            "Control Driver (Windows custom install).",
            "Check afterwards that vCenter reports the Tools as running (Summary tab › VMware "
            "Tools).",
        ),
        confirm=(
            f"{ESXTOP_MEMORY_VIEW}: MCTL? = N means no balloon driver is running in this VM.",
            CONFIRM_MCTL,
            *_driver_check(vm),
        ),
        # Mount-Tools offers the vCenter ISO: only for guests that need it (not Linux).
        powercli=None if family == LINUX else powercli_pipeline(vm, "Mount-Tools"),
        govc=None if family == LINUX else govc_positional("vm.guest.tools", vm, "-mount"),
        references=BA101.references,
    )


def _ba101_field(vm: VM) -> str:
    if vm.tools_version_status2:
        return f"toolsVersionStatus2 = {vm.tools_version_status2}"
    if vm.tools_version_status:
        return f"toolsVersionStatus = {vm.tools_version_status}"
    return f"toolsStatus = {vm.tools_status}"


@rule(BA101)
def check_tools_not_installed(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = guest_info_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        if not tools_not_installed(vm):
            continue
        family = guest_os_family(vm)
        guest = f"guest {vm.guest_id or 'unknown'}"
        if family == LINUX:
            severity = Severity.WARNING
            message = (
                f"VMware Tools not installed ({_ba101_field(vm)}, {guest}, Linux): balloon state "
                "unknown; the in-kernel vmw_balloon driver works without Tools, confirm with "
                "lsmod | grep vmw_balloon or esxtop MCTL?"
            )
        else:
            severity = Severity.CRITICAL
            why = {
                WINDOWS: "Windows gets its balloon driver from VMware Tools",
                LINUX_OLD_KERNEL: "a Linux kernel before 2.6.34 gets its balloon driver from Tools",
                MACOS: "macOS gets its balloon driver (if any) from VMware Tools",
            }.get(family, "no in-kernel balloon driver is known for this guest")
            message = (
                f"VMware Tools not installed ({_ba101_field(vm)}, {guest}): no balloon driver "
                f"({why})"
            )
        findings.append(
            vm_finding(
                BA101, vm, severity, message, _tools_evidence(vm), _ba101_remediation(vm, family)
            )
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))


# --------------------------------------------------------------------------- BA102

BA102 = RuleMeta(
    id="BA102",
    name="tools-not-running",
    severity=Severity.INFO,
    checks="Powered-on VM with VMware Tools installed but the Tools service not running",
    rationale=(
        "Tools hygiene, not a balloon failure. A stopped Tools service (vmtoolsd) costs the "
        "heartbeat (vSphere HA VM monitoring), guest information (IP addresses, guest family), "
        "quiesced snapshots for backups and clean guest shutdown. It does not stop the balloon "
        "driver: that is a kernel driver (vmw_balloon on Linux, vmmemctl.sys on Windows) and "
        "keeps working. The Resource Management guide's 'balloon driver not running' means the "
        "driver, not the service: confirm the driver with esxtop MCTL?."
    ),
    remediation=(
        "Start the Tools service in the guest (vmtoolsd, or open-vm-tools on Debian/Ubuntu; "
        "VMTools on Windows), set it to start automatically, and find out why it stopped."
    ),
    scope="powered-on VMs on reachable hosts with Tools installed, with or without quickStats",
    references=(REF_API_TOOLS_RUNNING, REF_RM_BALLOON),
    reads=(*_TOOLS_READS, vs.VM_TOOLS_RUNNING, vs.VM_POWER_STATE),
)


def _ba102_remediation(vm: VM) -> Remediation:
    unit = _tools_service(vm)
    return Remediation(
        summary=(
            f"Start the VMware Tools service in {vm_label(vm)} and make it start at boot: "
            "without it vCenter has no heartbeat, guest info or quiesced backups. The balloon "
            "driver is a kernel driver and is not stopped with the service: confirm it with "
            "esxtop MCTL?."
        ),
        steps=(
            f"Linux guest: systemctl enable --now {unit} (the unit is open-vm-tools on "
            f"Debian/Ubuntu, vmtoolsd elsewhere); check journalctl -u {unit} for why it stopped.",
            "Windows guest: Start-Service VMTools; Set-Service VMTools -StartupType Automatic; "
            "check the Application event log.",
            "If the service will not stay up, reinstall or upgrade VMware Tools (see BA103).",
        ),
        confirm=(
            "vSphere Client › VM › Summary: VMware Tools shows Running.",
            f"{ESXTOP_MEMORY_VIEW}: MCTL? = Y means the balloon driver runs regardless of the "
            "service.",
            *_driver_check(vm),
        ),
        powercli=powercli_pipeline(vm, _TOOLS_SELECT),
        govc=govc_vm_json(vm, _TOOLS_JQ),
        references=BA102.references,
    )


@rule(BA102)
def check_tools_not_running(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = [vm for vm in guest_info_vms(snapshot) if not tools_not_installed(vm)]
    findings: list[Finding] = []
    for vm in vms:
        if vm.tools_running_status != "guestToolsNotRunning":
            continue
        message = (
            f"VMware Tools installed but the service is not running (toolsRunningStatus = "
            f"{vm.tools_running_status}, version status {tools_version_status(vm) or 'unknown'}):"
            " no heartbeat, guest info or quiescing; the balloon driver is not affected"
        )
        findings.append(
            vm_finding(
                BA102,
                vm,
                Severity.INFO,
                message,
                _tools_evidence(vm, running=True),
                _ba102_remediation(vm),
            )
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))


# --------------------------------------------------------------------------- BA103

# toolsVersionStatus2 (or, when unset, the deprecated toolsVersionStatus) -> severity.
_BA103_SEVERITY = {
    "guestToolsBlacklisted": Severity.CRITICAL,
    "guestToolsTooOld": Severity.WARNING,
    "guestToolsNeedUpgrade": Severity.WARNING,
    "guestToolsTooNew": Severity.WARNING,
    "guestToolsSupportedOld": Severity.INFO,
}
_BA103_MEANING = {
    "guestToolsBlacklisted": "blacklisted: a version with known problems that must be replaced",
    "guestToolsTooOld": "too old for this host: not supported",
    "guestToolsNeedUpgrade": "older than the version the host ships",
    "guestToolsTooNew": "newer than this host supports",
    "guestToolsSupportedOld": "supported but older than the version the host ships",
}

BA103 = RuleMeta(
    id="BA103",
    name="tools-outdated",
    severity=Severity.CRITICAL,
    checks="VMware Tools blacklisted, too old, too new or in need of an upgrade",
    rationale=(
        "Old, unsupported or blacklisted Tools can carry a balloon driver with known bugs; "
        "too-new Tools are untested with the host. toolsVersionStatus2 is read; when a server "
        "does not send it, the deprecated toolsVersionStatus (the only field with "
        "guestToolsNeedUpgrade) is used instead."
    ),
    remediation=(
        "Upgrade VMware Tools (vCenter-managed Tools) or update open-vm-tools through the "
        "guest's package manager; for too-new Tools, upgrade the host or install a supported "
        "Tools release."
    ),
    scope="powered-on VMs on reachable hosts, with or without quickStats",
    references=(REF_RM_BALLOON, REF_API_TOOLS_VERSION, REF_POWERCLI),
    defaults={"report_supported_old": True},
    reads=(*_TOOLS_READS, vs.VM_POWER_STATE),
)


def _ba103_remediation(vm: VM, status: str) -> Remediation:
    too_new = status == "guestToolsTooNew"
    # PowerCLI documents Update-Tools for Windows guests; Linux guests get open-vm-tools
    # from their package manager.
    windows = guest_os_family(vm) == WINDOWS
    upgrade = not too_new and windows
    if too_new:
        steps: tuple[str, ...] = (
            "Check the host's ESXi version against the VMware product interoperability matrix "
            "for this Tools version.",
            "Either upgrade the host or install a Tools release the host supports.",
        )
    elif windows:
        steps = (
            "vSphere Client: select the VM › Actions › Guest OS › Upgrade VMware Tools "
            "(automatic upgrade may reboot a Windows guest: plan a window).",
        )
    else:
        steps = (
            "Linux guest: update open-vm-tools with the package manager (dnf upgrade "
            "open-vm-tools / apt install --only-upgrade open-vm-tools); vCenter's Upgrade "
            "VMware Tools applies only to Tools it installed.",
            "Other guests: vSphere Client › VM › Actions › Guest OS › Upgrade VMware Tools.",
        )
    return Remediation(
        summary=(
            f"VMware Tools in {vm_label(vm)} are {_BA103_MEANING[status]} ({status}): "
            "bring them to a supported, current version so the balloon driver is one the host "
            "expects."
        ),
        steps=steps,
        confirm=(
            "vSphere Client › VM › Summary: VMware Tools version status is Current.",
            CONFIRM_MCTL,
        ),
        # Upgrading cannot fix too-new Tools, and Update-Tools is for Windows guests: otherwise
        # the commands only show the versions.
        powercli=powercli_pipeline(vm, "Update-Tools -NoReboot")
        if upgrade
        else powercli_pipeline(vm, _TOOLS_SELECT),
        govc=govc_positional("vm.guest.tools", vm, "-upgrade")
        if upgrade
        else govc_vm_json(vm, _TOOLS_JQ),
        references=BA103.references,
    )


@rule(BA103)
def check_tools_outdated(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = guest_info_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        status = tools_version_status(vm)
        severity = _BA103_SEVERITY.get(status or "")
        if severity is None or status is None:
            continue
        if status == "guestToolsSupportedOld" and not params["report_supported_old"]:
            continue
        message = (
            f"VMware Tools {_BA103_MEANING[status]} ({_status_field(vm)}, "
            f"version {vm.tools_version or 'unknown'})"
        )
        findings.append(
            vm_finding(
                BA103, vm, severity, message, _tools_evidence(vm), _ba103_remediation(vm, status)
            )
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))


# --------------------------------------------------------------------------- BA104

BA104 = RuleMeta(
    id="BA104",
    name="tools-unmanaged",
    severity=Severity.INFO,
    checks="VMware Tools managed by the guest (open-vm-tools or OS packages)",
    rationale=(
        "vCenter cannot upgrade guest-managed Tools, so their currency depends on the guest's "
        "patching. On Linux the balloon driver itself is the in-kernel vmw_balloon module and "
        "does not depend on the open-vm-tools version."
    ),
    remediation=(
        "Keep open-vm-tools current through the guest's package manager and patch cycle; make "
        "sure the vmw_balloon module is loaded and not blacklisted."
    ),
    scope="powered-on VMs on reachable hosts, with or without quickStats",
    references=(REF_RM_BALLOON, REF_LINUX_VMW_BALLOON, REF_API_TOOLS_VERSION),
    reads=(*_TOOLS_READS, vs.VM_POWER_STATE),
)


def _ba104_remediation(vm: VM) -> Remediation:
    return Remediation(
        summary=(
            f"VMware Tools in {vm_label(vm)} are managed by the guest: vCenter will not upgrade "
            "them, so keep them current with the guest's package manager."
        ),
        steps=(
            "Include open-vm-tools in the guest's regular patching (e.g. dnf upgrade "
            "open-vm-tools / apt install --only-upgrade open-vm-tools; the service is "
            "open-vm-tools on Debian/Ubuntu, vmtoolsd elsewhere).",
            "Do not install the vCenter-bundled Tools on top of open-vm-tools.",
        ),
        confirm=(CONFIRM_LINUX_DRIVER, CONFIRM_MCTL),
        powercli=powercli_pipeline(vm, _TOOLS_SELECT),
        govc=govc_vm_json(vm, _TOOLS_JQ),
        references=BA104.references,
    )


@rule(BA104)
def check_tools_unmanaged(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = guest_info_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        if tools_version_status(vm) != _UNMANAGED:
            continue
        message = (
            f"VMware Tools managed by the guest ({_status_field(vm)}, "
            f"version {vm.tools_version or 'unknown'}): update them with the guest's packages"
        )
        findings.append(
            vm_finding(
                BA104, vm, Severity.INFO, message, _tools_evidence(vm), _ba104_remediation(vm)
            )
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))
