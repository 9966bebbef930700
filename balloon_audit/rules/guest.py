"""Guest specifics (BA6xx): guests without a balloon driver; Kubernetes nodes being reclaimed."""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Mapping, Sequence
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
from balloon_audit.rules.shell import (
    govc_reconfigure,
    govc_vm_json,
    powercli_pipeline,
    powercli_reserve_all,
)

TOOLS_VERSION_UNMANAGED = 0x7FFFFFFF
"""guest.toolsVersion reported for Tools whose lifecycle vSphere does not manage."""


PARAM_HELP = {
    "BA601": {
        "guest_id_prefixes": "config.guestId prefixes of guests without a balloon driver",
        "min_tools_major": "Tools major version from which the driver is missing",
    },
    "BA602": {
        "name_patterns": (
            "whole word (token) of the name, or glob over the whole name when it has * ? [ "
            "(case-insensitive)"
        ),
        "match_annotation": "also match the patterns against the VM's annotation (notes)",
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
        powercli=powercli_reserve_all(vm),
        govc=govc_reconfigure(vm, "-memory-pin=true"),
        references=references,
    )


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

DEFAULT_K8S_PATTERNS = ("k8s", "kube", "kubernetes", "ocp", "openshift", "tkg", "tkc")
"""Strong signals only: words like ``worker`` or ``master`` alone also name Jenkins agents and
database primaries."""
CONTROL_PLANE_WORDS = frozenset({"master", "cp", "controlplane", "control-plane"})
REF_K8S_SWAP = "Kubernetes documentation: Swap memory management (kubelet and swap)"
REF_TANZU_VM_CLASSES = (
    "VMware vSphere with Tanzu: Virtual Machine Classes (guaranteed classes reserve all memory)"
)

BA602 = RuleMeta(
    id="BA602",
    name="kubernetes-node-reclaimed",
    severity=Severity.WARNING,
    checks="Kubernetes node (by name or annotation) that is ballooned or host-swapped",
    rationale=(
        "The kubelet expects no swap, and the scheduler places pods on the assumption that a "
        "node's memory is really there. A balloon or host swap takes that memory away behind "
        "Kubernetes' back: pods get OOM-killed or slow down without any sign in the cluster. "
        "Only nodes actually reclaimed (ballooned or swapped > 0 MB) are flagged, warning. "
        "Nodes are recognised by strong signals only: a word of the VM's name or annotation "
        "that says k8s, kube, kubernetes, ocp, openshift, tkg or tkc (parameter name_patterns; "
        "a pattern matches a whole word, optionally followed by digits such as ocp4; a pattern "
        "with *, ? or [ is a shell glob over the whole text). Words such as worker or master "
        "alone also name Jenkins agents and database primaries, so they are not used. Advice: "
        "all memory reserved for control-plane nodes, as VMware's guaranteed VM classes for "
        "Tanzu do; for workers a reservation that covers the pods' requests plus the system "
        "reserve; never disable the balloon driver (the host would compress and swap instead)."
    ),
    remediation=(
        "Reserve all memory of control-plane nodes and give worker nodes a reservation that "
        "covers their pods' requests; keep the balloon driver enabled. Fix the host's memory "
        "pressure as well (BA501, BA502)."
    ),
    scope=(
        "powered-on VMs with quickStats on connected hosts whose name (or annotation) matches a "
        "pattern. Checked = matching VMs"
    ),
    references=(REF_K8S_SWAP, REF_TANZU_VM_CLASSES, REF_RM_BALLOON, REF_API_ALLOCATION),
    defaults={"name_patterns": DEFAULT_K8S_PATTERNS, "match_annotation": True},
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

_WORD_RE = re.compile(r"[a-z0-9]+")


def pattern_matches(text: str, pattern: str) -> bool:
    """Case-insensitive: a glob over the whole text when ``pattern`` has ``*``, ``?`` or ``[``;
    else a whole word of the text, optionally followed by digits (``ocp`` matches ``ocp4``)."""
    return _matcher(pattern.lower())(text.lower())


@functools.lru_cache(maxsize=256)
def _matcher(pattern: str) -> Callable[[str], bool]:
    """A test of lower-case text for ``pattern`` (lower case), built once per pattern."""
    if any(ch in pattern for ch in "*?["):
        return functools.partial(_glob, pattern)
    if not _WORD_RE.fullmatch(pattern):  # e.g. "control-plane": a run of whole words
        found = re.compile(rf"(?<![a-z0-9]){re.escape(pattern)}(?![a-z0-9])").search
    else:  # a whole word (a maximal run of [a-z0-9]): the pattern, then digits only
        found = re.compile(rf"(?<![a-z0-9]){pattern}[0-9]*(?![a-z0-9])").search
    return lambda text: found(text) is not None


def _glob(pattern: str, text: str) -> bool:
    return fnmatch.fnmatchcase(text, pattern)


def k8s_match(vm: VM, patterns: Sequence[str], match_annotation: bool) -> tuple[str, str] | None:
    """(where, pattern) of the first pattern that matches the VM's name, then its annotation."""
    matchers = [(pattern, _matcher(pattern.lower())) for pattern in patterns]
    name = vm.name.lower()
    for pattern, matches in matchers:
        if matches(name):
            return vs.VM_NAME.key, pattern
    if match_annotation and vm.annotation:
        annotation = vm.annotation.lower()
        for pattern, matches in matchers:
            if matches(annotation):
                return vs.VM_ANNOTATION.key, pattern
    return None


def _is_control_plane(vm: VM) -> bool:
    text = f"{vm.name} {vm.annotation or ''}"
    return any(pattern_matches(text, word) for word in CONTROL_PLANE_WORDS)


def _ba602_remediation(vm: VM, control_plane: bool) -> Remediation:
    if control_plane:
        base = _reserve_all_remediation(
            vm,
            f"Reserve all guest memory of control-plane node {vm_label(vm)}, as VMware's "
            "guaranteed VM classes for Tanzu do; never disable its balloon driver. Then relieve "
            "the host (BA501, BA502).",
            BA602.references,
        )
        powercli, govc = base.powercli, base.govc
        steps = base.steps
    else:
        base = _reserve_all_remediation(
            vm,
            f"Give worker node {vm_label(vm)} a memory reservation that covers its pods' "
            "memory requests plus the node's system reserve (or all its memory, if that is "
            "simpler); never disable its balloon driver. Then relieve the host (BA501, BA502).",
            BA602.references,
        )
        steps = (
            edit_settings_step(vm),
            "Virtual Hardware › Memory › Reservation: at least the sum of the pods' memory "
            "requests (kubectl describe node NODE, Allocated resources) plus system-reserved",
            base.steps[-1],
        )
        # Read-only: the size of a worker's reservation is the owner's decision.
        powercli = powercli_pipeline(
            vm, "Get-VMResourceConfiguration", "Select-Object VM, MemReservationGB, MemLimitGB"
        )
        govc = govc_vm_json(
            vm,
            " | {memoryMB: .config.hardware.memoryMB, memoryAllocation: "
            ".config.memoryAllocation, memoryReservationLockedToMax: "
            ".config.memoryReservationLockedToMax}",
        )
    return Remediation(
        summary=base.summary,
        steps=(
            *steps,
            "Do not set sched.mem.maxmemctl = 0 or remove the balloon driver: the host would "
            "compress and swap the node instead (see BA201)",
            "In Kubernetes, check the node's memory pressure: kubectl describe node NODE "
            "(Conditions: MemoryPressure; Allocatable vs Allocated resources)",
        ),
        confirm=(*base.confirm, CONFIRM_MCTL, CONFIRM_GUEST_BALLOON),
        powercli=powercli,
        govc=govc,
        references=base.references,
    )


@rule(BA602)
def check_kubernetes_node_reclaimed(snapshot: Snapshot, params: Mapping[str, Any]) -> RuleOutcome:
    """Kubernetes-looking VMs that are ballooned or host-swapped → warning."""
    patterns = [p for p in params["name_patterns"] if p]
    match_annotation = bool(params["match_annotation"])
    checked = 0
    findings: list[Finding] = []
    for vm in runtime_vms(snapshot):
        matched = k8s_match(vm, patterns, match_annotation)
        if matched is None:
            continue
        checked += 1
        ballooned = vm.runtime_value(vm.ballooned_mb) or 0
        swapped = vm.runtime_value(vm.swapped_mb) or 0
        if ballooned <= 0 and swapped <= 0:
            continue
        where, pattern = matched
        control_plane = _is_control_plane(vm)
        role = "control-plane node" if control_plane else "node"
        reserved = vm.memory_mb if vm.reservation_locked_to_max else vm.memory_reservation_mb or 0
        message = (
            f"{vm_label(vm)} looks like a Kubernetes {role} ({where} matches {pattern!r}): it "
            f"is being reclaimed ({fmt_mb(ballooned)} ballooned, {fmt_mb(swapped)} swapped; "
            f"{fmt_mb(reserved)} of {fmt_mb(vm.memory_mb)} reserved); the kubelet expects its "
            "memory to be really there"
        )
        evidence = vm_evidence(
            vm,
            **{
                vs.VM_NAME.key: vm.name,
                vs.VM_ANNOTATION.key: vm.annotation,
                "matched_pattern": pattern,
                "matched_in": where,
                "control_plane": control_plane,
                vs.VM_BALLOONED.key: vm.ballooned_mb,
                vs.VM_SWAPPED.key: vm.swapped_mb,
                vs.VM_MEMORY.key: vm.memory_mb,
                vs.VM_RESERVATION.key: vm.memory_reservation_mb,
                vs.VM_LOCKED_TO_MAX.key: vm.reservation_locked_to_max,
            },
        )
        findings.append(
            vm_finding(
                BA602,
                vm,
                Severity.WARNING,
                message,
                evidence,
                _ba602_remediation(vm, control_plane),
            )
        )
    return RuleOutcome(checked=checked, findings=tuple(findings))
