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
from balloon_audit.model import VM, Entity, Finding, Remediation, Severity, Snapshot
from balloon_audit.rules.registry import RuleMeta

# Host connection states under which quickStats cannot be trusted.
UNREACHABLE_HOST_STATES = frozenset({"disconnected", "notResponding"})

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
    "(e.g. driverquery /v | findstr /i vmmemctl)"
)


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
    number ≥ 0, configured memory − reservation). ``None`` when configured
    memory is unknown.
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
