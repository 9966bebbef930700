"""BA401, BA402: memory limits and reservations that work against the balloon.

A limit below configured memory is invisible to the guest: it sees all its
configured memory, but above the limit the VMkernel reclaims (balloon, then
compression, then swap) even on a host with free memory. A reservation keeps
memory from being reclaimed, so reclamation from a fully reserved VM is an
anomaly.
"""

from __future__ import annotations

from balloon_audit import vsphere as vs
from balloon_audit.formatting import fmt_mb, fmt_pct
from balloon_audit.model import VM, Finding, Remediation, RuleOutcome, Severity, Snapshot
from balloon_audit.rules.common import (
    CONFIRM_MCTL,
    CONFIRM_SWAP,
    ESXTOP_MEMORY_VIEW,
    REF_API_ALLOCATION,
    REF_BEST_PRACTICES,
    REF_KB_LIMITS,
    REF_RM_BALLOON,
    REF_RM_LIMITS,
    config_vms,
    edit_settings_step,
    fully_reserved,
    in_runtime_scope,
    pct,
    runtime_vms,
    vm_evidence,
    vm_finding,
    vm_label,
)
from balloon_audit.rules.registry import Params, RuleMeta, rule
from balloon_audit.rules.shell import (
    govc_reconfigure,
    govc_vm_json,
    powercli_pipeline,
    powercli_reconfigure,
)


def _reclaimed(vm: VM) -> tuple[int | float, int | float]:
    """(ballooned MB, swapped MB) when the runtime data can be trusted, else (0, 0)."""
    if not in_runtime_scope(vm):
        return 0, 0
    return vm.runtime_value(vm.ballooned_mb) or 0, vm.runtime_value(vm.swapped_mb) or 0


def _reclaim_text(ballooned: float, swapped: float) -> str:
    parts = []
    if ballooned > 0:
        parts.append(f"{fmt_mb(ballooned)} ballooned")
    if swapped > 0:
        parts.append(f"{fmt_mb(swapped)} swapped")
    return " and ".join(parts)


# --------------------------------------------------------------------------- BA401

BA401 = RuleMeta(
    id="BA401",
    name="memory-limit-below-configured",
    severity=Severity.CRITICAL,
    checks="Memory limit set below the VM's configured memory",
    rationale=(
        "The guest does not see a memory limit: it uses all its configured memory, and above "
        "the limit the VMkernel reclaims it by ballooning, compressing and swapping even when "
        "the host has free memory (KB 1033115). Limits are often inherited from templates. "
        "Critical when the VM is ballooning or swapping already."
    ),
    remediation=(
        "Set the memory limit to Unlimited (on templates too); size the VM's configured memory "
        "instead if it should use less."
    ),
    scope="all VMs and templates (configuration); reclamation is read for powered-on VMs",
    references=(REF_KB_LIMITS, REF_RM_LIMITS, REF_RM_BALLOON, REF_API_ALLOCATION),
    reads=(
        vs.VM_LIMIT,
        vs.VM_MEMORY,
        vs.VM_BALLOONED,
        vs.VM_SWAPPED,
        vs.VM_POWER_STATE,
        vs.VM_TEMPLATE,
    ),
)


def _ba401_remediation(vm: VM) -> Remediation:
    return Remediation(
        summary=(
            f"Remove the memory limit of {vm_label(vm)} (set it to Unlimited): the guest "
            f"believes it has {fmt_mb(vm.memory_mb)}, but everything above "
            f"{fmt_mb(vm.memory_limit_mb)} is reclaimed by balloon, compression and swap even "
            "when the host has memory to spare. If the VM should use less, lower its "
            "configured memory instead."
        ),
        steps=(
            edit_settings_step(vm),
            "Virtual Hardware › Memory › Limit: tick Unlimited, then OK (applies without a "
            "reboot).",
            "Fix the template or content-library item the VM was cloned from as well, so new "
            "clones do not inherit the limit.",
        ),
        confirm=(
            f"{ESXTOP_MEMORY_VIEW}: MCTLTGT and SWTGT fall to 0 once the limit is gone (when "
            "the host itself is not under pressure).",
            CONFIRM_MCTL,
            CONFIRM_SWAP,
        ),
        powercli=powercli_reconfigure(
            vm, "Get-VMResourceConfiguration", "Set-VMResourceConfiguration -MemLimitGB $null"
        ),
        govc=govc_reconfigure(vm, "-mem.limit", "-1"),
        references=BA401.references,
    )


@rule(BA401)
def check_limit_below_configured(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = config_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        limit, configured = vm.memory_limit_mb, vm.memory_mb
        if limit is None or configured is None or limit >= configured:
            continue
        ballooned, swapped = _reclaimed(vm)
        reclaiming = ballooned > 0 or swapped > 0
        severity = Severity.CRITICAL if reclaiming else Severity.WARNING
        message = (
            f"memory limit {fmt_mb(limit)} is {fmt_pct(pct(limit, configured))} of "
            f"{fmt_mb(configured)} configured"
        )
        if reclaiming:
            message += f"; the VM has {_reclaim_text(ballooned, swapped)}"
        evidence = vm_evidence(
            vm,
            **{
                vs.VM_LIMIT.key: limit,
                vs.VM_MEMORY.key: configured,
                vs.VM_BALLOONED.key: vm.ballooned_mb,
                vs.VM_SWAPPED.key: vm.swapped_mb,
            },
        )
        findings.append(vm_finding(BA401, vm, severity, message, evidence, _ba401_remediation(vm)))
    return RuleOutcome(checked=len(vms), findings=tuple(findings))


# --------------------------------------------------------------------------- BA402

BA402 = RuleMeta(
    id="BA402",
    name="reserved-but-reclaimed",
    severity=Severity.WARNING,
    checks="Fully reserved VM that is nevertheless ballooned or swapped",
    rationale=(
        "A reservation keeps the balloon from inflating into reserved memory, so a VM with all "
        "its memory reserved should never be ballooned or swapped. If it is, something else is "
        "at work: most often a memory limit, or the reservation was raised after the memory "
        "had already been reclaimed."
    ),
    remediation=(
        "Look for a memory limit (BA401) and remove it; check the reservation is really in "
        "force (admission control, 'Reserve all guest memory')."
    ),
    scope="powered-on VMs on connected hosts with quickStats (runtime counters needed)",
    references=(REF_RM_LIMITS, REF_RM_BALLOON, REF_BEST_PRACTICES, REF_API_ALLOCATION),
    reads=(
        vs.VM_RESERVATION,
        vs.VM_LOCKED_TO_MAX,
        vs.VM_MEMORY,
        vs.VM_LIMIT,
        vs.VM_BALLOONED,
        vs.VM_SWAPPED,
        vs.VM_POWER_STATE,
    ),
)


def _ba402_remediation(vm: VM) -> Remediation:
    return Remediation(
        summary=(
            f"{vm_label(vm)} has all its memory reserved yet is being reclaimed: that should not "
            "happen. Look for a memory limit below the reservation (BA401) and remove it; then "
            "check that the reservation is actually in force."
        ),
        steps=(
            edit_settings_step(vm),
            "Virtual Hardware › Memory: check Limit (set Unlimited) and Reservation ('Reserve "
            "all guest memory (All locked)').",
            "If the reservation was added while the VM was already reclaimed, the counters drop "
            "as the guest touches its pages again; a power cycle resets them.",
        ),
        confirm=(
            f"{ESXTOP_MEMORY_VIEW}: MCTLSZ and SWCUR should fall to 0 for a fully reserved VM.",
            CONFIRM_MCTL,
            CONFIRM_SWAP,
        ),
        powercli=powercli_pipeline(
            vm,
            "Get-VMResourceConfiguration",
            "Select-Object VM, MemReservationGB, MemLimitGB",
        ),
        govc=govc_vm_json(
            vm,
            " | {memoryMB: .config.hardware.memoryMB, memoryAllocation: "
            ".config.memoryAllocation, memoryReservationLockedToMax: "
            ".config.memoryReservationLockedToMax}",
        ),
        references=BA402.references,
    )


@rule(BA402)
def check_reserved_but_reclaimed(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = runtime_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        if not fully_reserved(vm):
            continue
        ballooned, swapped = _reclaimed(vm)
        if ballooned <= 0 and swapped <= 0:
            continue
        reserved = (
            "all guest memory reserved (locked to max)"
            if vm.reservation_locked_to_max
            else f"reservation {fmt_mb(vm.memory_reservation_mb)} of "
            f"{fmt_mb(vm.memory_mb)} configured"
        )
        limit = (
            f"memory limit {fmt_mb(vm.memory_limit_mb)}"
            if vm.memory_limit_mb is not None
            else "no limit"
        )
        message = f"{reserved}, yet {_reclaim_text(ballooned, swapped)} ({limit})"
        evidence = vm_evidence(
            vm,
            **{
                vs.VM_RESERVATION.key: vm.memory_reservation_mb,
                vs.VM_LOCKED_TO_MAX.key: vm.reservation_locked_to_max,
                vs.VM_MEMORY.key: vm.memory_mb,
                vs.VM_LIMIT.key: vm.memory_limit_mb,
                vs.VM_BALLOONED.key: vm.ballooned_mb,
                vs.VM_SWAPPED.key: vm.swapped_mb,
            },
        )
        findings.append(
            vm_finding(BA402, vm, Severity.WARNING, message, evidence, _ba402_remediation(vm))
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))
