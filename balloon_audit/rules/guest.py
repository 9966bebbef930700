"""Guest specifics (BA6xx): guests without a balloon driver; Kubernetes nodes being reclaimed."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from balloon_audit import vsphere as vs
from balloon_audit.formatting import fmt_mb
from balloon_audit.model import VM, Finding, Remediation, RuleOutcome, Severity, Snapshot
from balloon_audit.rules.common import (
    CONFIRM_GUEST_BALLOON,
    CONFIRM_MCTL,
    CONFIRM_SWAP,
    ESXTOP_MEMORY_VIEW,
    REF_API_ALLOCATION,
    REF_BEST_PRACTICES,
    REF_RM_BALLOON,
    config_vms,
    edit_settings_step,
    fully_reserved,
    runtime_vms,
    vm_evidence,
    vm_finding,
    vm_label,
)
from balloon_audit.rules.registry import RuleMeta, rule
from balloon_audit.rules.shell import govc_reconfigure, powercli_reconfigure

TOOLS_VERSION_UNMANAGED = 0x7FFFFFFF
"""guest.toolsVersion reported for Tools whose lifecycle vSphere does not manage."""


PARAM_HELP = {
    "BA601": {
        "guest_id_prefixes": "config.guestId prefixes of guests without a balloon driver",
        "min_tools_major": "Tools major version from which the driver is missing",
    },
    "BA602": {
        "name_patterns": "substring, or glob when it has * ? [ (case-insensitive)",
        "match_annotation": "also match the patterns against the VM's annotation (notes)",
        "min_reservation_pct": "reservation below this % of configured memory → warning",
    },
}
"""One line per parameter, shown in docs/rules.md."""


def decode_tools_version(raw: str | None) -> tuple[int, int, int] | None:
    """``"11264"`` → ``(11, 0, 0)``.

    guest.toolsVersion is a build number packed as ``major << 10 | minor << 5 |
    patch`` (5 bits each, as in open-vm-tools' vm_tools_version.h). ``None`` for
    a missing, non-numeric, zero ("no Tools"), negative or unmanaged value.
    """
    if raw is None:
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        return None
    if value <= 0 or value >= TOOLS_VERSION_UNMANAGED:
        return None
    return (value >> 10) & 0x1F, (value >> 5) & 0x1F, value & 0x1F


def _reserve_all_remediation(vm: VM, summary: str, references: tuple[str, ...]) -> Remediation:
    return Remediation(
        summary=summary,
        steps=(
            edit_settings_step(vm),
            "Virtual Hardware › Memory › Reservation: tick 'Reserve all guest memory (All "
            "locked)' (or set the reservation to the configured memory), then OK",
            "Check that the host or cluster has enough unreserved memory: a reservation is "
            "admission-controlled, and with HA it also counts against failover capacity",
        ),
        confirm=(f"{ESXTOP_MEMORY_VIEW}; MCTLSZ and SWCUR of this VM stay at 0", CONFIRM_SWAP),
        powercli=powercli_reconfigure(
            vm,
            "Get-VMResourceConfiguration",
            f"Set-VMResourceConfiguration -MemReservationGB {_gb(vm.memory_mb)}",
        )
        if vm.memory_mb
        else None,
        govc=govc_reconfigure(vm, "-memory-pin=true"),
        references=references,
    )


def _gb(memory_mb: int | None) -> str:
    """MB as an exact decimal number of GB (1000 MB -> ``0.9765625``), so the reservation is
    neither short of nor above the configured memory."""
    gb = Decimal(memory_mb or 0) / 1024
    return f"{gb.normalize():f}"


# --- BA601 guest-without-balloon-driver ---------------------------------------------

BA601 = RuleMeta(
    id="BA601",
    name="guest-without-balloon-driver",
    severity=Severity.INFO,
    checks="macOS guest with VMware Tools 11 or later (no balloon driver), not fully reserved",
    rationale=(
        "VMware Tools for macOS dropped the balloon driver in version 11. Under memory pressure "
        "the host cannot reclaim memory from such a guest cooperatively and goes straight to "
        "compression and host swapping, which hurts far more. The only protection is a memory "
        "reservation, so a fully reserved VM is not flagged. guest.toolsVersion is a packed "
        "build number (major << 10 | minor << 5 | patch: 11264 is 11.0.0)."
    ),
    remediation=(
        "Reserve the macOS VM's memory (Edit Settings › Memory › Reserve all guest memory), so "
        "the host never has to swap it, and make sure the host has the capacity for it."
    ),
    scope=(
        "all VMs and templates (a template's reservation is copied into its clones); VMs whose "
        "Tools version is unknown or unmanaged are skipped. Checked = macOS guests"
    ),
    references=(REF_RM_BALLOON, REF_API_ALLOCATION, REF_BEST_PRACTICES),
    defaults={"guest_id_prefixes": ("darwin",), "min_tools_major": 11},
    reads=(
        vs.VM_TOOLS_VERSION,
        vs.VM_GUEST_ID,
        vs.VM_MEMORY,
        vs.VM_RESERVATION,
        vs.VM_LOCKED_TO_MAX,
        vs.VM_POWER_STATE,
        vs.VM_TEMPLATE,
    ),
)


@rule(BA601)
def check_guest_without_balloon_driver(
    snapshot: Snapshot, params: Mapping[str, Any]
) -> RuleOutcome:
    """macOS guests with Tools ≥ 11 have no balloon driver: info unless fully reserved."""
    prefixes = tuple(p.lower() for p in params["guest_id_prefixes"])
    min_major = int(params["min_tools_major"])
    checked = 0
    findings: list[Finding] = []
    for vm in config_vms(snapshot):
        guest_id = (vm.guest_id or "").lower()
        if not guest_id.startswith(prefixes):
            continue
        checked += 1
        version = decode_tools_version(vm.tools_version)
        if version is None or version[0] < min_major or fully_reserved(vm):
            continue
        dotted = ".".join(str(v) for v in version)
        reserved = vm.memory_reservation_mb or 0
        message = (
            f"{vm_label(vm)} is a macOS guest ({vm.guest_id}) with VMware Tools {dotted}, which "
            f"has no balloon driver: only {fmt_mb(reserved)} of {fmt_mb(vm.memory_mb)} reserved, "
            "so under pressure the host compresses and swaps it"
        )
        evidence = vm_evidence(
            vm,
            **{
                vs.VM_GUEST_ID.key: vm.guest_id,
                vs.VM_TOOLS_VERSION.key: vm.tools_version,
                "tools_version_decoded": dotted,
                vs.VM_MEMORY.key: vm.memory_mb,
                vs.VM_RESERVATION.key: vm.memory_reservation_mb,
                vs.VM_LOCKED_TO_MAX.key: vm.reservation_locked_to_max,
            },
        )
        remediation = _reserve_all_remediation(
            vm,
            f"Protect {vm_label(vm)} with a full memory reservation: the balloon cannot reclaim "
            "memory from a macOS guest with Tools 11+, so the host would compress and swap it.",
            BA601.references,
        )
        findings.append(vm_finding(BA601, vm, Severity.INFO, message, evidence, remediation))
    return RuleOutcome(checked=checked, findings=tuple(findings))


# --- BA602 kubernetes-node-reclaimed ------------------------------------------------

DEFAULT_K8S_PATTERNS = ("k8s", "kube", "ocp", "tkg", "worker", "master", "control-plane")
CONTROL_PLANE_HINTS = ("master", "control-plane", "controlplane", "-cp-")

BA602 = RuleMeta(
    id="BA602",
    name="kubernetes-node-reclaimed",
    severity=Severity.WARNING,
    checks="Kubernetes node (by name or annotation) ballooned, swapped or not fully reserved",
    rationale=(
        "The kubelet expects no swap, and the scheduler places pods on the assumption that a "
        "node's memory is really there. A balloon or host swap takes that memory away behind "
        "Kubernetes' back: pods get OOM-killed or slow down without any sign in the cluster. "
        "Red Hat advises against memory ballooning for OpenShift nodes, especially the control "
        "plane. The fix is a reservation, never disabling the balloon driver (which only makes "
        "the host compress and swap instead). Patterns (rule parameter name_patterns) are "
        "case-insensitive: a pattern with *, ? or [ is a shell glob over the whole name or "
        "annotation, any other pattern matches as a substring. Severity: warning when the "
        "node is ballooned or swapped (> 0 MB), or reserves less than min_reservation_pct "
        "(100 %) of its configured memory."
    ),
    remediation=(
        "Reserve all memory of control-plane nodes and a reservation for worker nodes (at least "
        "what their pods request); keep the balloon driver enabled. Fix the host's memory "
        "pressure as well (BA501, BA502)."
    ),
    scope=(
        "powered-on VMs with quickStats on connected hosts whose name (or annotation) matches a "
        "pattern. Checked = matching VMs"
    ),
    references=(REF_RM_BALLOON, REF_API_ALLOCATION, REF_BEST_PRACTICES),
    defaults={
        "name_patterns": DEFAULT_K8S_PATTERNS,
        "match_annotation": True,
        "min_reservation_pct": 100,
    },
    reads=(
        vs.VM_NAME,
        vs.VM_ANNOTATION,
        vs.VM_BALLOONED,
        vs.VM_SWAPPED,
        vs.VM_MEMORY,
        vs.VM_RESERVATION,
        vs.VM_LOCKED_TO_MAX,
        vs.VM_POWER_STATE,
    ),
)


def pattern_matches(text: str, pattern: str) -> bool:
    """Case-insensitive: a glob when ``pattern`` has ``*``, ``?`` or ``[``, else a substring."""
    text, pattern = text.lower(), pattern.lower()
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(text, pattern)
    return pattern in text


def k8s_match(vm: VM, patterns: Sequence[str], match_annotation: bool) -> tuple[str, str] | None:
    """(where, pattern) of the first pattern that matches the VM's name, then its annotation."""
    for pattern in patterns:
        if pattern_matches(vm.name, pattern):
            return vs.VM_NAME.key, pattern
    if match_annotation and vm.annotation:
        for pattern in patterns:
            if pattern_matches(vm.annotation, pattern):
                return vs.VM_ANNOTATION.key, pattern
    return None


def _is_control_plane(vm: VM) -> bool:
    text = f"{vm.name} {vm.annotation or ''}".lower()
    return any(hint in text for hint in CONTROL_PLANE_HINTS)


@dataclass(frozen=True)
class _NodeMemory:
    """What BA602 judges a Kubernetes-looking VM on."""

    ballooned: float
    swapped: float
    reserved: int | None
    configured: int | None
    short_reservation: bool

    @property
    def flagged(self) -> bool:
        return self.ballooned > 0 or self.swapped > 0 or self.short_reservation


def _node_memory(vm: VM, min_pct: float) -> _NodeMemory:
    ballooned = vm.runtime_value(vm.ballooned_mb) or 0
    swapped = vm.runtime_value(vm.swapped_mb) or 0
    reserved = vm.memory_mb if vm.reservation_locked_to_max else vm.memory_reservation_mb or 0
    configured = vm.memory_mb
    short_reservation = configured is not None and (reserved or 0) * 100 < min_pct * configured
    return _NodeMemory(ballooned, swapped, reserved, configured, short_reservation)


@rule(BA602)
def check_kubernetes_node_reclaimed(snapshot: Snapshot, params: Mapping[str, Any]) -> RuleOutcome:
    """Kubernetes-looking VMs that are ballooned/swapped or not fully reserved → warning."""
    patterns = [p for p in params["name_patterns"] if p]
    match_annotation = bool(params["match_annotation"])
    min_pct = params["min_reservation_pct"]
    checked = 0
    findings: list[Finding] = []
    for vm in runtime_vms(snapshot):
        matched = k8s_match(vm, patterns, match_annotation)
        if matched is None:
            continue
        checked += 1
        memory = _node_memory(vm, min_pct)
        if memory.flagged:
            findings.append(_kubernetes_finding(vm, matched, memory))
    return RuleOutcome(checked=checked, findings=tuple(findings))


def _kubernetes_finding(vm: VM, matched: tuple[str, str], memory: _NodeMemory) -> Finding:
    where, pattern = matched
    control_plane = _is_control_plane(vm)
    role = "control-plane node" if control_plane else "node"
    ballooned, swapped = memory.ballooned, memory.swapped
    problems = []
    if ballooned or swapped:
        problems.append(
            f"is being reclaimed ({fmt_mb(ballooned)} ballooned, {fmt_mb(swapped)} swapped)"
        )
    if memory.short_reservation:
        problems.append(
            f"has only {fmt_mb(memory.reserved)} of {fmt_mb(memory.configured)} reserved"
        )
    message = (
        f"{vm_label(vm)} looks like a Kubernetes {role} ({where} matches {pattern!r}): it "
        f"{' and '.join(problems)}; the kubelet expects its memory to be really there"
    )
    evidence = vm_evidence(
        vm,
        **{
            vs.VM_NAME.key: vm.name,
            vs.VM_ANNOTATION.key: vm.annotation,
            "matched_pattern": pattern,
            "matched_in": where,
            vs.VM_BALLOONED.key: vm.ballooned_mb,
            vs.VM_SWAPPED.key: vm.swapped_mb,
            vs.VM_MEMORY.key: memory.configured,
            vs.VM_RESERVATION.key: vm.memory_reservation_mb,
            vs.VM_LOCKED_TO_MAX.key: vm.reservation_locked_to_max,
        },
    )
    remediation = _kubernetes_remediation(vm, control_plane)
    return vm_finding(BA602, vm, Severity.WARNING, message, evidence, remediation)


def _kubernetes_remediation(vm: VM, control_plane: bool) -> Remediation:
    if control_plane:
        summary = (
            f"Reserve all guest memory of control-plane node {vm_label(vm)}; never disable "
            "its balloon driver. Then relieve the host (BA501, BA502)."
        )
    else:
        summary = (
            f"Give worker node {vm_label(vm)} a memory reservation (all of its memory, or at "
            "least what its pods request plus system reserve); never disable its balloon "
            "driver. Then relieve the host (BA501, BA502)."
        )
    base = _reserve_all_remediation(vm, summary, BA602.references)
    return Remediation(
        summary=base.summary,
        steps=(
            *base.steps,
            "Do not set sched.mem.maxmemctl = 0 or remove the balloon driver: the host would "
            "compress and swap the node instead (see BA201)",
            "In Kubernetes, check the node's memory pressure: kubectl describe node NODE "
            "(Conditions: MemoryPressure; Allocatable vs Allocated resources)",
        ),
        confirm=(*base.confirm, CONFIRM_MCTL, CONFIRM_GUEST_BALLOON),
        powercli=base.powercli,
        govc=base.govc,
        references=base.references,
    )
