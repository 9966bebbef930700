"""BA201, BA202: the per-VM balloon setting ``sched.mem.maxmemctl``.

``sched.mem.maxmemctl`` caps (in MB) how much the balloon may reclaim from one
VM; ``0`` disables ballooning for that VM. These are configuration rules: a
template with the setting passes it on to every clone, so templates and
powered-off VMs are checked too.
"""

from __future__ import annotations

from balloon_audit import vsphere as vs
from balloon_audit.formatting import fmt_mb, fmt_num, fmt_pct, fmt_threshold_pct
from balloon_audit.model import VM, Finding, Remediation, RuleOutcome, Severity, Snapshot
from balloon_audit.rules.common import (
    CONFIRM_MCTL,
    CONFIRM_SWAP,
    ESXTOP_MEMORY_VIEW,
    REF_KB_DISABLE_BALLOON,
    REF_KB_PINNED,
    REF_RM_BALLOON,
    REF_RM_SWAP,
    at_least_pct,
    config_vms,
    edit_settings_step,
    in_runtime_scope,
    parse_int,
    pct,
    vm_evidence,
    vm_finding,
    vm_label,
)
from balloon_audit.rules.registry import Params, RuleMeta, rule
from balloon_audit.rules.shell import govc_reconfigure, powercli_reconfigure, powershell_quote

_KEY = "sched.mem.maxmemctl"
_ADVANCED_STEP = "VM Options › Advanced › Edit Configuration Parameters: find sched.mem.maxmemctl"
_TAKES_EFFECT = "The change takes effect at the VM's next power cycle (power off, then on)."


def _remove_setting_powercli(vm: VM) -> str:
    return powercli_reconfigure(
        vm,
        f"Get-AdvancedSetting -Name {powershell_quote(_KEY)}",
        "Remove-AdvancedSetting -Confirm:$false",
    )


def _remove_setting_govc(vm: VM) -> str | None:
    return govc_reconfigure(vm, "-e", f"{_KEY}=")


def swapped_now_mb(vm: VM) -> int | float | None:
    """Swapped MB when the VM's runtime data can be trusted, else ``None``."""
    if not in_runtime_scope(vm):
        return None
    return vm.runtime_value(vm.swapped_mb)


# --------------------------------------------------------------------------- BA201

BA201 = RuleMeta(
    id="BA201",
    name="balloon-driver-disabled",
    severity=Severity.CRITICAL,
    checks="sched.mem.maxmemctl = 0 turns the balloon off for the VM",
    rationale=(
        "Setting sched.mem.maxmemctl to 0 is the documented way to disable ballooning for one "
        "VM (KB 1002586). It does not stop reclamation: it removes the cheapest, guest-aware "
        "method, so under contention the host compresses and swaps this VM instead. Critical "
        "when the VM is swapping already."
    ),
    remediation=(
        "Remove the sched.mem.maxmemctl parameter (the default lets the balloon reclaim up to "
        "the host's Mem.CtlMaxPercent, 65 %). To shield a VM from reclamation give it a memory "
        "reservation instead. Takes effect at the next power cycle."
    ),
    scope="all VMs and templates (configuration); swapping is read for powered-on VMs",
    references=(REF_KB_DISABLE_BALLOON, REF_RM_BALLOON, REF_RM_SWAP),
    reads=(
        vs.VM_MAXMEMCTL,
        vs.VM_SWAPPED,
        vs.VM_POWER_STATE,
        vs.VM_TEMPLATE,
    ),
)


def _ba201_remediation(vm: VM) -> Remediation:
    return Remediation(
        summary=(
            f"Remove sched.mem.maxmemctl from {vm_label(vm)}: with the balloon disabled the host "
            "still reclaims memory under pressure, only by compressing and swapping, which is "
            "far slower. If the VM must keep its memory, give it a memory reservation instead."
        ),
        steps=(
            edit_settings_step(vm),
            f"{_ADVANCED_STEP} and delete it (or clear its value).",
            "If the workload needs protection from reclamation (e.g. a database that locks pages "
            "in memory), set Memory › Reservation instead (or tick 'Reserve all guest memory').",
            _TAKES_EFFECT,
        ),
        confirm=(
            f"{ESXTOP_MEMORY_VIEW}: after the power cycle MCTL? = Y and MCTLMAX > 0 for this VM.",
            CONFIRM_MCTL,
            CONFIRM_SWAP,
        ),
        powercli=_remove_setting_powercli(vm),
        govc=_remove_setting_govc(vm),
        references=BA201.references,
    )


@rule(BA201)
def check_balloon_disabled(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = config_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        if parse_int(vm.maxmemctl) != 0:
            continue
        swapped = swapped_now_mb(vm)
        if swapped:
            severity = Severity.CRITICAL
            tail = f"and the VM is swapping: {fmt_mb(swapped)} swapped"
        else:
            severity = Severity.WARNING
            tail = (
                "swapping unknown (VM not running or no runtime data)"
                if swapped is None
                else "not swapping now"
            )
        message = f"balloon driver disabled ({_KEY} = {vm.maxmemctl!r}); {tail}"
        evidence = vm_evidence(
            vm, **{vs.VM_MAXMEMCTL.key: vm.maxmemctl, vs.VM_SWAPPED.key: vm.swapped_mb}
        )
        findings.append(vm_finding(BA201, vm, severity, message, evidence, _ba201_remediation(vm)))
    return RuleOutcome(checked=len(vms), findings=tuple(findings))


# --------------------------------------------------------------------------- BA202

BA202 = RuleMeta(
    id="BA202",
    name="balloon-capped",
    severity=Severity.INFO,
    checks="sched.mem.maxmemctl caps the balloon below the host default (65 % of memory)",
    rationale=(
        "A cap below the host default leaves less room for cooperative reclamation, so the host "
        "turns to compression and swapping sooner. A cap can be legitimate when the guest pins "
        "memory the driver cannot see (KB 1003586: a 4 GB VM with 2 GB pinned uses 1330), but "
        "then it should be documented. A value that is not a whole number is reported too."
    ),
    remediation=(
        "Ask the VM owner why the cap is set; document a legitimate reason (pinned memory) or "
        "remove the parameter (takes effect at the next power cycle)."
    ),
    scope="all VMs and templates (configuration)",
    references=(REF_KB_PINNED, REF_KB_DISABLE_BALLOON, REF_RM_BALLOON),
    defaults={"ctl_max_pct": 65},
    reads=(
        vs.VM_MAXMEMCTL,
        vs.VM_MEMORY,
        vs.VM_POWER_STATE,
        vs.VM_TEMPLATE,
    ),
)


def _ba202_remediation(vm: VM, parsed: int | None) -> Remediation:
    if parsed is None:
        summary = (
            f"sched.mem.maxmemctl on {vm_label(vm)} is not a whole number of MB: correct it "
            "(a number of MB, or remove it for the default) so the balloon limit is what was "
            "intended."
        )
    else:
        summary = (
            f"Ask the owner of {vm_label(vm)} why the balloon is capped at {fmt_mb(parsed)}: a "
            "documented reason such as memory pinned inside the guest (KB 1003586) is fine; "
            "otherwise remove the parameter so the host default applies."
        )
    return Remediation(
        summary=summary,
        steps=(
            edit_settings_step(vm),
            f"{_ADVANCED_STEP}; record the reason in the VM's Notes, or delete the parameter.",
            _TAKES_EFFECT,
        ),
        confirm=(
            f"{ESXTOP_MEMORY_VIEW}: MCTLMAX shows the cap in force for this VM.",
            CONFIRM_MCTL,
        ),
        powercli=_remove_setting_powercli(vm),
        govc=_remove_setting_govc(vm),
        references=BA202.references,
    )


@rule(BA202)
def check_balloon_capped(snapshot: Snapshot, params: Params) -> RuleOutcome:
    ctl_max_pct = params["ctl_max_pct"]
    vms = config_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        if vm.maxmemctl is None:
            continue
        parsed = parse_int(vm.maxmemctl)
        evidence = vm_evidence(
            vm, **{vs.VM_MAXMEMCTL.key: vm.maxmemctl, vs.VM_MEMORY.key: vm.memory_mb}
        )
        if parsed is None:
            message = f"{_KEY} = {vm.maxmemctl!r} is not a whole number of MB"
        elif parsed <= 0 or vm.memory_mb is None:
            continue  # 0 is BA201; negative means no cap; unknown size cannot be judged
        elif at_least_pct(parsed, vm.memory_mb, ctl_max_pct):
            continue
        else:
            default_cap = vm.memory_mb * ctl_max_pct / 100
            message = (
                f"{_KEY} = {fmt_num(parsed)} caps the balloon at "
                f"{fmt_pct(pct(parsed, vm.memory_mb))} of {fmt_mb(vm.memory_mb)} configured "
                f"(host default {fmt_threshold_pct(ctl_max_pct)} = {fmt_mb(default_cap)})"
            )
        findings.append(
            vm_finding(BA202, vm, Severity.INFO, message, evidence, _ba202_remediation(vm, parsed))
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))
