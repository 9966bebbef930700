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
    REF_LATENCY,
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
    govc_vm_metric,
    powercli_pipeline,
    powercli_reconfigure,
    powercli_reserve_all,
)

CONFIRM_BALLOON_AND_SWAP_COUNTERS = (
    "Live counters (the command below, 15 realtime samples of 20 s): mem.vmmemctl and "
    "mem.swapped in KB"
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
        "its memory reserved should not be ballooned or swapped. A memory limit cannot be the "
        "cause: vSphere requires limit ≥ reservation. The usual explanation is history: the "
        "reservation was raised after pages had already been ballooned or swapped, and the "
        "counters only fall as the guest touches those pages again (a power cycle clears them). "
        "Figures that keep rising are the real anomaly."
    ),
    remediation=(
        "Watch the counters: if they only fall, they are left from before the reservation and "
        "a power cycle clears them; if they rise, check that the reservation is in force "
        "('Reserve all guest memory', the resource pool's reservation) and open a case."
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
            f"{vm_label(vm)} has all its memory reserved yet reports reclaimed memory. A limit "
            "cannot cause this (vSphere requires limit ≥ reservation): most likely the "
            "reservation was raised after the pages were ballooned or swapped, and the counters "
            "fall as the guest touches them again. Watch whether they fall or rise."
        ),
        steps=(
            "Sample the VM's ballooned and swapped memory a few times (commands below): "
            "falling figures are left from before the reservation; a power cycle (power off, "
            "then on) clears them at once.",
            "Rising figures are a real anomaly: check Edit Settings › Virtual Hardware › "
            "Memory › Reservation ('Reserve all guest memory (All locked)') and the resource "
            "pool's reservation, then open a support case with the evidence.",
        ),
        confirm=(
            CONFIRM_BALLOON_AND_SWAP_COUNTERS,
            f"{ESXTOP_MEMORY_VIEW}: MCTLSZ and SWCUR should fall towards 0 for a fully "
            "reserved VM.",
            CONFIRM_MCTL,
            CONFIRM_SWAP,
        ),
        powercli=powercli_pipeline(
            vm,
            "Get-Stat -Stat mem.vmmemctl.average,mem.swapped.average -Realtime -MaxSamples 15",
        ),
        govc=govc_vm_metric(vm, "mem.vmmemctl.average", "mem.swapped.average"),
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
        message = (
            f"{reserved}, yet {_reclaim_text(ballooned, swapped)}: most likely reclaimed before "
            "the reservation was raised (a power cycle clears it); rising figures are an anomaly"
        )
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


# --------------------------------------------------------------------------- BA404

BA404 = RuleMeta(
    id="BA404",
    name="latency-sensitive-not-reserved",
    severity=Severity.WARNING,
    checks="Latency sensitivity High without all guest memory reserved",
    rationale=(
        "Latency sensitivity High asks ESXi for exclusive physical CPUs and memory so the VM "
        "never waits on the hypervisor, and VMware's latency-sensitivity guidance requires all "
        "guest memory to be reserved with it. Without it the VM's memory can be ballooned, "
        "compressed and swapped like any other, which defeats the setting. Configuration rule: "
        "templates and powered-off VMs are checked too."
    ),
    remediation=(
        "Reserve all guest memory (Edit Settings › Memory › 'Reserve all guest memory (All "
        "locked)'), or set latency sensitivity back to Normal if the VM does not need it."
    ),
    scope="all VMs and templates with config.latencySensitivity.level = high",
    references=(REF_LATENCY, REF_RM_BALLOON, REF_API_ALLOCATION),
    reads=(
        vs.VM_LATENCY,
        vs.VM_MEMORY,
        vs.VM_RESERVATION,
        vs.VM_LOCKED_TO_MAX,
        vs.VM_POWER_STATE,
    ),
)


@rule(BA404)
def check_latency_sensitive_not_reserved(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = [vm for vm in config_vms(snapshot) if (vm.latency_sensitivity or "").lower() == "high"]
    findings: list[Finding] = []
    for vm in vms:
        if fully_reserved(vm):
            continue
        reserved = vm.memory_reservation_mb or 0
        message = (
            f"latency sensitivity High, but only {fmt_mb(reserved)} of {fmt_mb(vm.memory_mb)} "
            "reserved: its memory can still be ballooned, compressed and swapped"
        )
        evidence = vm_evidence(
            vm,
            **{
                vs.VM_LATENCY.key: vm.latency_sensitivity,
                vs.VM_MEMORY.key: vm.memory_mb,
                vs.VM_RESERVATION.key: vm.memory_reservation_mb,
                vs.VM_LOCKED_TO_MAX.key: vm.reservation_locked_to_max,
            },
        )
        remediation = Remediation(
            summary=(
                f"Reserve all guest memory of {vm_label(vm)}: latency sensitivity High needs "
                "exclusive physical memory, or set it back to Normal if the VM does not need it."
            ),
            steps=(
                edit_settings_step(vm),
                "Virtual Hardware › Memory › Reservation: tick 'Reserve all guest memory (All "
                "locked)', then OK",
                "Check that the host or cluster has the unreserved memory (admission control)",
            ),
            confirm=(f"{ESXTOP_MEMORY_VIEW}; MCTLSZ and SWCUR of this VM stay at 0", CONFIRM_SWAP),
            powercli=powercli_reserve_all(vm),
            govc=govc_reconfigure(vm, "-memory-pin=true"),
            references=BA404.references,
        )
        findings.append(vm_finding(BA404, vm, Severity.WARNING, message, evidence, remediation))
    return RuleOutcome(checked=len(vms), findings=tuple(findings))
