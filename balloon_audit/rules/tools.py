"""BA101–BA104: VMware Tools. No Tools, no balloon driver.

The balloon driver (vmmemctl) is how a host asks a guest to give memory back:
the guest picks the pages it can spare. Without it the host can only compress
and swap the VM's memory blindly.
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
    REF_API_TOOLS_RUNNING,
    REF_API_TOOLS_VERSION,
    REF_RM_BALLOON,
    REF_RM_SWAP,
    runtime_vms,
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
    }
    if running:
        values[vs.VM_TOOLS_RUNNING.key] = vm.tools_running_status
    return vm_evidence(vm, **values)


def _is_windows(vm: VM) -> bool:
    return (vm.guest_id or "").lower().startswith("win")


def _driver_check(vm: VM) -> tuple[str, ...]:
    """The guest-side driver check for the VM's OS family (both when unknown)."""
    guest = (vm.guest_id or "").lower()
    if guest.startswith("win"):
        return (CONFIRM_WINDOWS_DRIVER,)
    if guest and not guest.startswith(("other", "darwin")):
        return (CONFIRM_LINUX_DRIVER,)
    return (CONFIRM_LINUX_DRIVER, CONFIRM_WINDOWS_DRIVER)


# --------------------------------------------------------------------------- BA101

BA101 = RuleMeta(
    id="BA101",
    name="tools-not-installed",
    severity=Severity.CRITICAL,
    checks="Powered-on VM without VMware Tools, so without a balloon driver",
    rationale=(
        "The balloon driver ships with VMware Tools (on Linux it is the in-kernel vmw_balloon "
        "module that open-vm-tools relies on). Without it the host cannot ask the guest to free "
        "memory and falls back to compression and host swapping, which hurt far more. The "
        "Resource Management guide names Tools never installed, not running or disabled as "
        "the reasons a host swaps a VM."
    ),
    remediation=(
        "Install VMware Tools (Windows) or the distribution's open-vm-tools package (Linux), "
        "then confirm the balloon driver is loaded."
    ),
    scope="powered-on VMs on connected hosts with quickStats (templates excluded)",
    references=(REF_RM_BALLOON, REF_RM_SWAP, REF_API_TOOLS_VERSION),
    reads=(*_TOOLS_READS, vs.VM_POWER_STATE),
)


def _ba101_remediation(vm: VM) -> Remediation:
    if _is_windows(vm):
        install = (
            "Windows guest: vSphere Client › Actions › Guest OS › Install VMware Tools, then run "
            "setup from the mounted CD inside the guest (Typical install includes the Memory "
            "Control Driver) and reboot when asked."
        )
    else:
        install = (
            "Linux guest: install open-vm-tools from the distribution's repositories "
            "(e.g. dnf install open-vm-tools / apt install open-vm-tools) and enable vmtoolsd; "
            "other guests: vSphere Client › Actions › Guest OS › Install VMware Tools."
        )
    return Remediation(
        summary=(
            f"Install VMware Tools in {vm_label(vm)}: without Tools it has no balloon driver, "
            "so under memory pressure the host can only compress and swap its memory."
        ),
        steps=(
            install,
            "Never blacklist the vmw_balloon kernel module (Linux) or leave out the Memory "
            "Control Driver (Windows custom install).",
            "Check afterwards that vCenter reports the Tools as running (Summary tab › VMware "
            "Tools).",
        ),
        confirm=(
            f"{ESXTOP_MEMORY_VIEW}: MCTL? = N for this VM while Tools are missing.",
            CONFIRM_MCTL,
            *_driver_check(vm),
        ),
        powercli=powercli_pipeline(vm, "Mount-Tools"),
        govc=govc_positional("vm.guest.tools", vm, "-mount"),
        references=BA101.references,
    )


@rule(BA101)
def check_tools_not_installed(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = runtime_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        if not tools_not_installed(vm):
            continue
        field = (
            f"toolsVersionStatus2 = {vm.tools_version_status2}"
            if vm.tools_version_status2
            else f"toolsVersionStatus = {vm.tools_version_status}"
            if vm.tools_version_status
            else f"toolsStatus = {vm.tools_status}"
        )
        message = (
            f"VMware Tools not installed ({field}, guest {vm.guest_id or 'unknown'}): "
            "no balloon driver"
        )
        findings.append(
            vm_finding(
                BA101, vm, Severity.CRITICAL, message, _tools_evidence(vm), _ba101_remediation(vm)
            )
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))


# --------------------------------------------------------------------------- BA102

BA102 = RuleMeta(
    id="BA102",
    name="tools-not-running",
    severity=Severity.WARNING,
    checks="Powered-on VM with VMware Tools installed but not running",
    rationale=(
        "When the Tools service is not running the balloon cannot be driven reliably and vCenter "
        "loses sight of the guest; the Resource Management guide lists Tools not running among "
        "the reasons a host swaps a VM."
    ),
    remediation=(
        "Start the Tools service in the guest (vmtoolsd / open-vm-tools on Linux, VMTools on "
        "Windows), set it to start automatically, and find out why it stopped."
    ),
    scope="powered-on VMs on connected hosts with quickStats and Tools installed",
    references=(REF_RM_BALLOON, REF_RM_SWAP, REF_API_TOOLS_RUNNING),
    reads=(*_TOOLS_READS, vs.VM_TOOLS_RUNNING, vs.VM_POWER_STATE),
)


def _ba102_remediation(vm: VM) -> Remediation:
    return Remediation(
        summary=(
            f"Start the VMware Tools service in {vm_label(vm)} and make it start at boot; while it "
            "is stopped the host may fall back to compressing and swapping the VM's memory."
        ),
        steps=(
            "Linux guest: systemctl enable --now vmtoolsd (the unit is open-vm-tools on "
            "Debian/Ubuntu); check journalctl -u vmtoolsd for why it stopped.",
            "Windows guest: Start-Service VMTools; Set-Service VMTools -StartupType Automatic; "
            "check the Application event log.",
            "If the service will not stay up, reinstall or upgrade VMware Tools (see BA103).",
        ),
        confirm=(
            "vSphere Client › VM › Summary: VMware Tools shows Running.",
            f"{ESXTOP_MEMORY_VIEW}: MCTL? should be Y once Tools and the driver run.",
            *_driver_check(vm),
        ),
        powercli=powercli_pipeline(vm, _TOOLS_SELECT),
        govc=govc_vm_json(vm, _TOOLS_JQ),
        references=BA102.references,
    )


@rule(BA102)
def check_tools_not_running(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = [vm for vm in runtime_vms(snapshot) if not tools_not_installed(vm)]
    findings: list[Finding] = []
    for vm in vms:
        if vm.tools_running_status != "guestToolsNotRunning":
            continue
        message = (
            f"VMware Tools installed but not running (toolsRunningStatus = "
            f"{vm.tools_running_status}, version status {tools_version_status(vm) or 'unknown'})"
        )
        findings.append(
            vm_finding(
                BA102,
                vm,
                Severity.WARNING,
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
    scope="powered-on VMs on connected hosts with quickStats",
    references=(REF_RM_BALLOON, REF_API_TOOLS_VERSION),
    defaults={"report_supported_old": True},
    reads=(*_TOOLS_READS, vs.VM_POWER_STATE),
)


def _ba103_remediation(vm: VM, status: str) -> Remediation:
    too_new = status == "guestToolsTooNew"
    if too_new:
        steps: tuple[str, ...] = (
            "Check the host's ESXi version against the VMware product interoperability matrix "
            "for this Tools version.",
            "Either upgrade the host or install a Tools release the host supports.",
        )
    else:
        steps = (
            "vSphere Client: select the VM › Actions › Guest OS › Upgrade VMware Tools "
            "(automatic upgrade may reboot a Windows guest: plan a window).",
            "Tools managed by the guest (open-vm-tools, status guestToolsUnmanaged) are updated "
            "with the guest's package manager instead.",
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
        # Upgrading cannot fix too-new Tools: then the commands only show the versions.
        powercli=powercli_pipeline(vm, _TOOLS_SELECT)
        if too_new
        else powercli_pipeline(vm, "Update-Tools -NoReboot"),
        govc=govc_vm_json(vm, _TOOLS_JQ)
        if too_new
        else govc_positional("vm.guest.tools", vm, "-upgrade"),
        references=BA103.references,
    )


@rule(BA103)
def check_tools_outdated(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = runtime_vms(snapshot)
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
    scope="powered-on VMs on connected hosts with quickStats",
    references=(REF_RM_BALLOON, REF_API_TOOLS_VERSION),
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
            "open-vm-tools / apt upgrade open-vm-tools).",
            "Do not install the vCenter-bundled Tools on top of open-vm-tools.",
        ),
        confirm=(CONFIRM_LINUX_DRIVER, CONFIRM_MCTL),
        powercli=powercli_pipeline(vm, _TOOLS_SELECT),
        govc=govc_vm_json(vm, _TOOLS_JQ),
        references=BA104.references,
    )


@rule(BA104)
def check_tools_unmanaged(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = runtime_vms(snapshot)
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
