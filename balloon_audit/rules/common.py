"""Helpers shared by the rule modules: scope, findings, advice text (numbers: formatting.py).

Scope (see the rule catalogue): runtime rules look only at powered-on VMs on
connected hosts whose quickStats arrived; configuration rules look at every VM,
powered off and templates included, because a template's settings are copied
into each clone. VMs that are powered on but lack runtime data belong to BA901
and are never counted as healthy by a runtime rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from balloon_audit import vsphere as vs
from balloon_audit.model import VM, Entity, Finding, Host, Remediation, Severity, Snapshot
from balloon_audit.rules.registry import RuleMeta

# Host connection states under which quickStats cannot be trusted.
UNREACHABLE_HOST_STATES = frozenset({"disconnected", "notResponding"})

DEFAULT_CTL_MAX_PCT = 65
"""ESXi's default Mem.CtlMaxPercent: the balloon may take at most 65 % of a VM's memory."""

# Reference titles shared by several rules.
REF_RM_BALLOON = "vSphere Resource Management: Memory Balloon Driver"
REF_RM_SWAP = "vSphere Resource Management: Using Swap Files"
REF_RM_OVERCOMMIT = "vSphere Resource Management: Memory Overcommitment"
REF_RM_LIMITS = "vSphere Resource Management: Limits"
REF_MON_HOST_MEMORY = "vSphere Monitoring and Performance: troubleshooting host memory"
REF_BEST_PRACTICES = "Performance Best Practices for vSphere: memory"
REF_KB_DISABLE_BALLOON = "VMware KB 1002586: disabling the balloon driver (sched.mem.maxmemctl)"
REF_KB_PINNED = "VMware KB 1003586: pinned guest memory and sched.mem.maxmemctl"
REF_KB_LIMITS = "VMware KB 1033115: memory limits below configured memory"
REF_KB_MINFREE = "VMware KB 1033687: MinFreePct and the host memory states"
REF_RM_POOLS = "vSphere Resource Management: Managing Resource Pools"
REF_RM_ADVANCED = "vSphere Resource Management: Advanced Memory Attributes (Mem.CtlMaxPercent)"
REF_LINUX_VMW_BALLOON = (
    "Linux kernel: drivers/misc/vmw_balloon.c (in-kernel since 2.6.34; loads on VMware "
    "hardware without open-vm-tools)"
)
REF_LATENCY = (
    "VMware: Deploying Extremely Latency-Sensitive Applications in vSphere "
    "(latency sensitivity High needs full memory reservation)"
)
REF_POWERCLI = "VMware PowerCLI cmdlet reference (Update-Tools, Remove-AdvancedSetting)"
REF_API_QUICKSTATS = "vSphere Web Services API: VirtualMachineQuickStats"
REF_API_ALLOCATION = "vSphere Web Services API: ResourceAllocationInfo"
REF_API_TOOLS_VERSION = "vSphere Web Services API: VirtualMachineToolsVersionStatus"
REF_API_TOOLS_RUNNING = "vSphere Web Services API: VirtualMachineToolsRunningStatus"

# How to look at the balloon from the host and from the guest.
ESXTOP_MEMORY_VIEW = (
    "On the VM's host run esxtop, press m for the memory view and f to add the MCTL and SWAP fields"
)
CONFIRM_MCTL = (
    "esxtop: MCTL? = Y means the balloon driver is loaded and running (N: not installed, "
    "not running or disabled); MCTLSZ = MB ballooned now, MCTLTGT = the balloon target, "
    "MCTLMAX = the most the balloon may reclaim"
)
CONFIRM_SWAP = (
    "esxtop: SWCUR = MB swapped now, SWTGT = swap target, SWR/s and SWW/s = MB/s read "
    "from / written to the swap file (non-zero means swapping now)"
)
CONFIRM_ZIP = (
    "esxtop (memory view, f to add the ZIP fields): CACHEUSD = MB held in the compression "
    "cache, ZIP/s and UNZIP/s = MB/s compressed / decompressed now"
)
CONFIRM_GUEST_BALLOON = "Inside the guest: vmware-toolbox-cmd stat balloon (MB held by the balloon)"
CONFIRM_LINUX_DRIVER = (
    "Linux guest: lsmod | grep vmw_balloon (the in-kernel balloon driver; "
    "statistics under /sys/kernel/debug/vmmemctl)"
)
CONFIRM_WINDOWS_DRIVER = (
    "Windows guest: the 'VMware Memory Control Driver' (vmmemctl.sys) is present and running "
    "(e.g. driverquery /v | findstr /i vmmemctl); Get-Counter '\\VM Memory\\Memory Ballooned "
    "in MB' shows the balloon (the counter set comes with VMware Tools)"
)

# Guest OS families, decided by config.guestId (guest.guestFamily as a fallback: vCenter
# reports it only while VMware Tools run).
WINDOWS, LINUX, LINUX_OLD_KERNEL, MACOS, OTHER = "windows", "linux", "linux-old", "macos", "other"
_LINUX_ID_PREFIXES = (
    "rhel", "centos", "ubuntu", "debian", "sles", "suse", "opensuse", "oracle", "fedora",
    "photon", "vmwarephoton", "amazon", "asianux", "coreos", "rocky", "alma", "mandrake",
    "mandriva", "turbolinux", "redhat", "miraclelinux", "pardus", "fusionos", "kylin", "uos",
    "prolinux", "crxpod", "crxsys",
)  # fmt: skip
# Linux guests whose kernels predate 2.6.34 have no in-kernel vmw_balloon: Tools bring it.
_LINUX_OLD_KERNEL_IDS = frozenset(
    g.lower()
    for g in (
        "rhel2Guest", "rhel3Guest", "rhel3_64Guest", "rhel4Guest", "rhel4_64Guest",
        "rhel5Guest", "rhel5_64Guest", "centosGuest", "centos64Guest", "oracleLinuxGuest",
        "oracleLinux64Guest", "slesGuest", "sles64Guest", "sles10Guest", "sles10_64Guest",
        "sles11Guest", "sles11_64Guest", "debian4Guest", "debian4_64Guest", "debian5Guest",
        "debian5_64Guest", "other24xLinuxGuest", "other24xLinux64Guest", "redhatGuest",
        "suseGuest", "suse64Guest", "mandrakeGuest", "turboLinuxGuest", "asianux3Guest",
        "asianux3_64Guest",
    )
)  # fmt: skip


def guest_os_family(vm: VM) -> str:
    """``windows``, ``linux``, ``linux-old`` (kernel before 2.6.34), ``macos`` or ``other``."""
    guest_id = (vm.guest_id or "").lower()
    if guest_id.startswith("win"):
        return WINDOWS
    if guest_id.startswith("darwin"):
        return MACOS
    if guest_id in _LINUX_OLD_KERNEL_IDS:
        return LINUX_OLD_KERNEL
    if "linux" in guest_id or guest_id.startswith(_LINUX_ID_PREFIXES):
        return LINUX
    family = (vm.guest_family or "").lower()
    if family == "windowsguest":
        return WINDOWS
    if family == "linuxguest" and not guest_id:
        return LINUX
    return OTHER


def host_unreachable(vm: VM) -> bool:
    """The VM's host is disconnected or not responding, so its runtime data is stale."""
    return vm.host_connection_state in UNREACHABLE_HOST_STATES


def lacks_runtime_data(vm: VM) -> bool:
    """Powered-on VM whose runtime data is missing or stale: BA901 reports it."""
    return (
        vm.powered_on
        and not vm.is_template
        and (not vm.quickstats_available or host_unreachable(vm))
    )


def in_runtime_scope(vm: VM) -> bool:
    """Powered on, not a template, on a connected host, quickStats present."""
    return (
        vm.powered_on
        and not vm.is_template
        and vm.quickstats_available
        and not host_unreachable(vm)
    )


def guest_info_vms(snapshot: Snapshot) -> list[VM]:
    """VMs the Tools rules (BA101–BA104) look at: powered on, not templates, host reachable.

    Tools status comes from guest info, not quickStats, so a VM without quickStats (just
    powered on, or on a host that reports none) is still judged.
    """
    return [
        vm
        for vm in snapshot.vms
        if vm.powered_on and not vm.is_template and not host_unreachable(vm)
    ]


def runtime_vms(snapshot: Snapshot) -> list[VM]:
    """VMs that runtime rules (BA1xx, BA3xx, BA5xx) look at."""
    return [vm for vm in snapshot.vms if in_runtime_scope(vm)]


def config_vms(snapshot: Snapshot) -> list[VM]:
    """VMs that configuration rules (BA2xx, BA4xx) look at: all, templates included."""
    return list(snapshot.vms)


def pct(part: float | int | None, whole: float | int | None) -> float | None:
    """``part`` as a percentage of ``whole``; ``None`` when either is unknown or whole ≤ 0."""
    if part is None or whole is None or whole <= 0:
        return None
    return 100.0 * part / whole


def at_least_pct(part: float | int, whole: float | int, threshold_pct: float | int) -> bool:
    """``part >= threshold_pct % of whole``, exact at the edge (no float rounding)."""
    return part * 100 >= threshold_pct * whole


def parse_int(raw: str | None) -> int | None:
    """An extraConfig value as an integer (surrounding blanks allowed); ``None`` if not one."""
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def fully_reserved(vm: VM) -> bool:
    """All configured memory is reserved, or "Reserve all guest memory" is ticked.

    An unset reservation or configured memory proves nothing: not fully reserved.
    """
    if vm.reservation_locked_to_max:
        return True
    return (
        vm.memory_reservation_mb is not None
        and vm.memory_mb is not None
        and vm.memory_reservation_mb >= vm.memory_mb
    )


def effective_balloon_cap_mb(
    vm: VM, ctl_max_pct: float | int
) -> tuple[float | None, dict[str, float | int | None]]:
    """The most the balloon can reclaim from ``vm``, and the terms it is the minimum of.

    min(ctl_max_pct % of configured memory, sched.mem.maxmemctl when it is a
    number ≥ 0, configured memory − reservation). ``ctl_max_pct`` is the host's
    Mem.CtlMaxPercent (65 by default, 0 = no ballooning on the host). ``None``
    when configured memory is unknown.
    """
    configured = vm.memory_mb
    terms: dict[str, float | int | None] = {
        "host_ctl_max_mb": None,
        "maxmemctl_mb": None,
        "unreserved_mb": None,
    }
    if configured is None:
        return None, terms
    terms["host_ctl_max_mb"] = configured * ctl_max_pct / 100
    maxmemctl = parse_int(vm.maxmemctl)
    if maxmemctl is not None and maxmemctl >= 0:
        terms["maxmemctl_mb"] = maxmemctl
    terms["unreserved_mb"] = max(configured - (vm.memory_reservation_mb or 0), 0)
    cap = min(v for v in terms.values() if v is not None)
    return cap, terms


def host_index(snapshot: Snapshot) -> dict[tuple[str, str], Host]:
    """(server, host moid) -> host, to join VMs to the host they run on."""
    return {(h.server, h.moid): h for h in snapshot.hosts}


def host_of(vm: VM, hosts: Mapping[tuple[str, str], Host]) -> Host | None:
    return hosts.get((vm.server, vm.host_moid)) if vm.host_moid else None


def host_ctl_max_pct(host: Host | None, default: float | int) -> tuple[float | int, bool]:
    """(Mem.CtlMaxPercent in force, True when read from the host; else ``default`` assumed)."""
    if host is not None and host.ctl_max_pct is not None:
        return host.ctl_max_pct, True
    return default, False


def vm_evidence(vm: VM, **values: Any) -> dict[str, Any]:
    """Evidence for a VM finding: power state plus the given property values.

    Pass values keyed by API property path with ``**{vs.VM_BALLOONED.key: 512}``.
    """
    evidence: dict[str, Any] = {vs.VM_POWER_STATE.key: vm.power_state}
    if vm.is_template:
        evidence[vs.VM_TEMPLATE.key] = True
    evidence.update(values)
    return evidence


def make_finding(
    meta: RuleMeta,
    entity: Entity,
    severity: Severity,
    message: str,
    evidence: Mapping[str, Any],
    remediation: Remediation,
) -> Finding:
    """A finding of rule ``meta`` about ``entity``."""
    return Finding(
        rule=meta.id,
        name=meta.name,
        severity=severity,
        entity=entity,
        message=message,
        evidence=dict(evidence),
        remediation=remediation,
    )


def vm_finding(
    meta: RuleMeta,
    vm: VM,
    severity: Severity,
    message: str,
    evidence: Mapping[str, Any],
    remediation: Remediation,
) -> Finding:
    """A finding about one VM."""
    return make_finding(meta, Entity.of_vm(vm), severity, message, evidence, remediation)


def vm_label(vm: VM) -> str:
    """How advice text names a VM (or template): ``VM "web01"``."""
    kind = "template" if vm.is_template else "VM"
    return f'{kind} "{vm.name}"'


def edit_settings_step(vm: VM) -> str:
    """The first vSphere Client step for a VM or a template."""
    if vm.is_template:
        return (
            f'vSphere Client: convert template "{vm.name}" to a virtual machine '
            "(Actions › Template › Convert to Virtual Machine), then Actions › Edit Settings"
        )
    return f'vSphere Client: select VM "{vm.name}", then Actions › Edit Settings'
