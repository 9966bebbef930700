"""BA301–BA303: memory being reclaimed from a running VM right now.

The order of reclamation on ESXi is balloon (guest-aware, cheap), then
compression, then host swapping (blind, slow). quickStats counters are MB,
except compressedMemory, which the API reports in KB; the model already holds
it in MB.
"""

from __future__ import annotations

from balloon_audit import vsphere as vs
from balloon_audit.formatting import fmt_mb, fmt_num, fmt_pct, fmt_threshold_pct
from balloon_audit.model import VM, Finding, Remediation, RuleOutcome, Severity, Snapshot
from balloon_audit.rules.common import (
    CONFIRM_GUEST_BALLOON,
    CONFIRM_LINUX_DRIVER,
    CONFIRM_MCTL,
    CONFIRM_SWAP,
    CONFIRM_WINDOWS_DRIVER,
    CONFIRM_ZIP,
    DEFAULT_CTL_MAX_PCT,
    ESXTOP_MEMORY_VIEW,
    REF_API_QUICKSTATS,
    REF_BEST_PRACTICES,
    REF_MON_HOST_MEMORY,
    REF_RM_ADVANCED,
    REF_RM_BALLOON,
    REF_RM_OVERCOMMIT,
    REF_RM_SWAP,
    at_least_pct,
    effective_balloon_cap_mb,
    host_ctl_max_pct,
    host_index,
    host_of,
    pct,
    runtime_vms,
    vm_evidence,
    vm_finding,
    vm_label,
)
from balloon_audit.rules.registry import Params, RuleMeta, rule
from balloon_audit.rules.shell import govc_vm_metric, powercli_pipeline

_BALLOON_COUNTERS = ("mem.vmmemctl.average", "mem.vmmemctltarget.average")
_SWAP_COUNTERS = ("mem.swapinRate.average", "mem.swapoutRate.average")
_ZIP_COUNTERS = ("mem.compressionRate.average", "mem.decompressionRate.average")
CONFIRM_BALLOON_COUNTERS = (
    "Live counters (the command below, 15 realtime samples of 20 s): mem.vmmemctl = KB held by "
    "the balloon now, mem.vmmemctltarget = KB the host wants it to hold"
)
CONFIRM_SWAP_COUNTERS = (
    "Live counters (the command below, 15 realtime samples of 20 s): mem.swapinRate and "
    "mem.swapoutRate in KBps; non-zero means the host is swapping this VM now"
)
CONFIRM_ZIP_COUNTERS = (
    "Live counters (the command below, 15 realtime samples of 20 s): mem.compressionRate and "
    "mem.decompressionRate in KBps"
)
_CAUSES = (
    "Look for the cause first: a memory limit below configured memory (BA401) or on its "
    "resource pool (BA403), the host's memory state (BA501), a balloon disabled on the VM "
    "(BA201) or on the host (BA203), or missing VMware Tools (BA101)."
)


def _get_stat(vm: VM, *counters: str) -> str:
    stats = ",".join(counters)
    return powercli_pipeline(vm, f"Get-Stat -Stat {stats} -Realtime -MaxSamples 15")


def _limit_text(vm: VM) -> str:
    if vm.memory_limit_mb is None:
        return "no memory limit is set"
    return f"memory limit {fmt_mb(vm.memory_limit_mb)}"


# --------------------------------------------------------------------------- BA301

BA301 = RuleMeta(
    id="BA301",
    name="ballooning",
    severity=Severity.CRITICAL,
    checks="Memory held by the balloon driver, as a share of configured memory and of its cap",
    rationale=(
        "Ballooning means the host (or a memory limit on the VM or its resource pool) is "
        "reclaiming memory from the guest. Some is normal; sustained or large ballooning means "
        "the host or cluster is short of memory and the guest is pushed into its own paging. "
        "Near the balloon's effective cap (the smallest of the host's Mem.CtlMaxPercent of "
        "configured memory, 65 % by default and read from the host where possible, "
        "sched.mem.maxmemctl and unreserved memory) the next step is compression and host "
        "swapping. With a zero cap (balloon disabled on the VM or the host, or all memory "
        "reserved) any ballooning is past the cap: typically a setting changed since the pages "
        "were ballooned and not yet applied by a power cycle."
    ),
    remediation=(
        "Rule out a memory limit (BA401, BA403) and check the host's memory state (BA501); then "
        "relieve the host: rebalance with DRS/vMotion, add memory, reduce overcommitment. Make "
        "sure the guest has swap space for the balloon."
    ),
    scope="powered-on VMs on connected hosts with quickStats",
    references=(
        REF_RM_BALLOON,
        REF_RM_ADVANCED,
        REF_RM_OVERCOMMIT,
        REF_MON_HOST_MEMORY,
        REF_API_QUICKSTATS,
    ),
    defaults={
        "warning_pct": 10,
        "critical_pct": 50,
        "cap_critical_pct": 95,
        "ctl_max_pct": DEFAULT_CTL_MAX_PCT,
    },
    reads=(
        vs.VM_BALLOONED,
        vs.VM_MEMORY,
        vs.VM_RESERVATION,
        vs.VM_LIMIT,
        vs.VM_MAXMEMCTL,
        vs.VM_POWER_STATE,
        vs.HOST_CTL_MAX,
    ),
)


def _ba301_remediation(vm: VM, ballooned: float) -> Remediation:
    return Remediation(
        summary=(
            f"{vm_label(vm)} has {fmt_mb(ballooned)} taken by the balloon: its host is reclaiming "
            f"memory ({_limit_text(vm)}). {_CAUSES} If the host is short of memory, move load "
            "with DRS/vMotion, add memory or reduce overcommitment. Inside the guest the "
            "ballooned memory belongs to no process, so it looks like memory that vanished: a "
            "'memory leak' nobody can find in top or Task Manager is often the balloon."
        ),
        steps=(
            "vSphere Client: VM › Edit Settings › Virtual Hardware › Memory: check Limit; set it "
            "to Unlimited if it is below the configured size (BA401).",
            "Host › Monitor › Performance › Memory: check whether the host is ballooning, "
            "compressing or swapping overall (BA501/BA502).",
            "Cluster › Configure › vSphere DRS: enable or tune DRS, or vMotion the VM to a host "
            "with free memory; add host memory or lower overcommitment if it persists.",
            "Make sure the guest has enough swap/page file for the memory the balloon takes.",
        ),
        confirm=(
            CONFIRM_BALLOON_COUNTERS,
            f"{ESXTOP_MEMORY_VIEW}.",
            CONFIRM_MCTL,
            CONFIRM_GUEST_BALLOON,
            "Windows guest: the balloon shows as driver-locked memory and Memory\\Available "
            "Bytes drops; " + CONFIRM_WINDOWS_DRIVER,
            CONFIRM_LINUX_DRIVER,
        ),
        powercli=_get_stat(vm, *_BALLOON_COUNTERS),
        govc=govc_vm_metric(vm, *_BALLOON_COUNTERS),
        references=BA301.references,
    )


def _ba301_severity(
    ballooned: float, configured: int | None, cap: float | None, params: Params
) -> Severity:
    if not configured:
        return Severity.INFO
    # A zero cap (balloon disabled on the VM or host, or all memory reserved) means any
    # ballooning is past it: typically a setting changed since, not yet applied by a power
    # cycle.
    near_cap = cap is not None and (
        cap <= 0 or at_least_pct(ballooned, cap, params["cap_critical_pct"])
    )
    if at_least_pct(ballooned, configured, params["critical_pct"]) or near_cap:
        return Severity.CRITICAL
    if at_least_pct(ballooned, configured, params["warning_pct"]):
        return Severity.WARNING
    return Severity.INFO


def _ba301_message(
    ballooned: float, configured: int | None, cap: float | None, params: Params
) -> str:
    if not configured:
        return f"{fmt_mb(ballooned)} ballooned; configured memory unknown"
    warning_pct, critical_pct = params["warning_pct"], params["critical_pct"]
    message = (
        f"{fmt_mb(ballooned)} ballooned = {fmt_pct(pct(ballooned, configured))} of "
        f"{fmt_mb(configured)} configured (warning at {fmt_threshold_pct(warning_pct)}, "
        f"critical at {fmt_threshold_pct(critical_pct)})"
    )
    if cap is not None and cap <= 0:
        message += (
            "; the effective balloon cap is 0 MB (balloon disabled on the VM or host, or "
            "memory fully reserved), so any ballooning is beyond it"
        )
    elif cap:
        message += (
            f"; {fmt_pct(pct(ballooned, cap))} of the {fmt_mb(cap)} effective balloon "
            f"cap (critical at {fmt_threshold_pct(params['cap_critical_pct'])})"
        )
    return message


@rule(BA301)
def check_ballooning(snapshot: Snapshot, params: Params) -> RuleOutcome:
    hosts = host_index(snapshot)
    vms = runtime_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        ballooned = vm.runtime_value(vm.ballooned_mb) or 0
        if ballooned <= 0:
            continue
        configured = vm.memory_mb
        ctl_max_pct, ctl_read = host_ctl_max_pct(host_of(vm, hosts), params["ctl_max_pct"])
        cap, cap_terms = effective_balloon_cap_mb(vm, ctl_max_pct)
        severity = _ba301_severity(ballooned, configured, cap, params)
        message = _ba301_message(ballooned, configured, cap, params)
        evidence = vm_evidence(
            vm,
            **{
                vs.VM_BALLOONED.key: vm.ballooned_mb,
                vs.VM_MEMORY.key: configured,
                vs.VM_RESERVATION.key: vm.memory_reservation_mb,
                vs.VM_LIMIT.key: vm.memory_limit_mb,
                vs.VM_MAXMEMCTL.key: vm.maxmemctl,
                vs.HOST_CTL_MAX.key: ctl_max_pct if ctl_read else None,
                "host_ctl_max_pct_in_force": ctl_max_pct,
                "host_ctl_max_pct_source": "host" if ctl_read else "default (not read)",
                "effective_balloon_cap_mb": cap,
                **{f"effective_balloon_cap.{k}": v for k, v in cap_terms.items()},
            },
        )
        findings.append(
            vm_finding(BA301, vm, severity, message, evidence, _ba301_remediation(vm, ballooned))
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))


# --------------------------------------------------------------------------- BA302

BA302 = RuleMeta(
    id="BA302",
    name="host-swapping",
    severity=Severity.CRITICAL,
    checks="Memory of the VM swapped out to disk by the host, and whether it is swapping now",
    rationale=(
        "Host swapping is ESXi's last resort and far worse than ballooning: the host pages out "
        "without knowing which guest pages are in use, and every touch of a swapped page waits "
        "for disk. Swapped pages stay in the VM's .vswp until the guest touches them: a guest "
        "reboot does not clear them and vMotion keeps (or copies) them; a power cycle recreates "
        "the swap file. So swappedMemory can be stale history. The audit reads the live "
        "mem.swapinRate / mem.swapoutRate counters of swapping VMs: with live traffic the "
        "finding is critical; without (stale pages) it is a warning at or above critical_pct "
        "(1 %) of configured memory and info below; when the rates could not be read, "
        "critical at or above critical_pct and a warning below, and the message says that live "
        "swapping was not checked. Swap to the host cache (ssdSwappedMemory, KB) is shown "
        "beside it: far cheaper than swap to a datastore, still a sign of pressure."
    ),
    remediation=(
        "Find the cause (BA201/BA203 balloon disabled, BA101 no Tools, BA401/BA403 limits, "
        "BA501 host memory state) and relieve the host; confirm live activity with esxtop "
        "SWR/s and SWW/s or the mem.swapinRate / mem.swapoutRate counters (KBps)."
    ),
    scope="powered-on VMs on connected hosts with quickStats",
    references=(REF_RM_SWAP, REF_MON_HOST_MEMORY, REF_BEST_PRACTICES, REF_API_QUICKSTATS),
    defaults={"critical_pct": 1},
    reads=(
        vs.VM_SWAPPED,
        vs.VM_SSD_SWAPPED,
        vs.VM_SWAPIN_RATE,
        vs.VM_SWAPOUT_RATE,
        vs.VM_MEMORY,
        vs.VM_LIMIT,
        vs.VM_MAXMEMCTL,
        vs.VM_POWER_STATE,
    ),
)


def swap_activity(vm: VM) -> str | None:
    """``now`` (swap traffic > 0), ``stale`` (both rates 0) or ``None`` (rates not read)."""
    rates = [r for r in (vm.swapin_rate_kbps, vm.swapout_rate_kbps) if r is not None]
    if not rates:
        return None
    return "now" if any(r > 0 for r in rates) else "stale"


def _rate(value: float | None) -> str:
    return "not read" if value is None else f"{fmt_num(value)} KBps"


def _activity_text(vm: VM) -> str:
    activity = swap_activity(vm)
    rates = f"swap-in {_rate(vm.swapin_rate_kbps)}, swap-out {_rate(vm.swapout_rate_kbps)}"
    if activity == "now":
        return f"live swapping checked: swapping NOW ({rates})"
    if activity == "stale":
        return (
            f"live swapping checked: no swap traffic ({rates}), stale pages from earlier "
            "pressure that are read back when touched"
        )
    return "live swapping NOT checked (rates unavailable): confirm with esxtop SWR/s, SWW/s"


def _ssd_text(vm: VM) -> str:
    if not vm.ssd_swapped_mb:
        return ""
    return f"; {fmt_mb(round(vm.ssd_swapped_mb, 1))} of it swapped to the host cache (SSD)"


def _ba302_remediation(vm: VM, swapped: float) -> Remediation:
    activity = swap_activity(vm)
    if activity == "now":
        lead = (
            f"{vm_label(vm)} is being swapped by its host right now ({fmt_mb(swapped)} in its "
            "swap file; live swap rates checked): every access to a swapped page waits for "
            "storage. Act now."
        )
    elif activity == "stale":
        lead = (
            f"{vm_label(vm)} has {fmt_mb(swapped)} in the host swap file but the live swap "
            "rates were zero: pages left from earlier memory pressure. Not an emergency, but "
            "they are slow to read back and show the host ran out of memory before."
        )
    else:
        lead = (
            f"{vm_label(vm)} has {fmt_mb(swapped)} swapped out by its host. Live swapping was "
            "not checked (the rates could not be read): the counter may be stale, so confirm "
            "with esxtop SWR/s and SWW/s or the mem.swapinRate / mem.swapoutRate counters."
        )
    ssd = (
        " Part of it is in the host cache on SSD, which is far cheaper to read back than a "
        "datastore swap file."
        if vm.ssd_swapped_mb
        else ""
    )
    return Remediation(
        summary=(
            f"{lead}{ssd} Host swapping is the last resort and far worse than ballooning. "
            "Causes to rule out: balloon disabled (BA201, BA203), VMware Tools missing (BA101), "
            "a memory limit on the VM or its pool (BA401, BA403), the host's memory state "
            "(BA501)."
        ),
        steps=(
            "Check the VM's findings for BA201, BA101 and BA401, and its host's and pool's for "
            "BA203 and BA403; fix those first.",
            "Host › Monitor › Performance › Memory: is the host in the hard or low state "
            "(BA501)? Relieve it: DRS/vMotion, add memory, reduce overcommitment.",
            "Swapped pages stay in the VM's .vswp until the guest touches them: a guest reboot "
            "does not clear them and vMotion keeps (or copies) them. Only a power cycle (power "
            "off, then on) recreates the swap file; without live swap traffic that is rarely "
            "worth a downtime.",
            "Put VM swap files on fast storage, or configure host cache on SSD, if swapping "
            "cannot be avoided.",
        ),
        confirm=(
            CONFIRM_SWAP_COUNTERS,
            f"{ESXTOP_MEMORY_VIEW}.",
            CONFIRM_SWAP,
            CONFIRM_MCTL,
        ),
        powercli=_get_stat(vm, *_SWAP_COUNTERS),
        govc=govc_vm_metric(vm, *_SWAP_COUNTERS),
        references=BA302.references,
    )


def _ba302_severity(vm: VM, swapped: float, critical_pct: float | int) -> Severity:
    large = bool(vm.memory_mb) and at_least_pct(swapped, vm.memory_mb or 0, critical_pct)
    activity = swap_activity(vm)
    if activity == "now":
        return Severity.CRITICAL
    if activity == "stale":
        return Severity.WARNING if large else Severity.INFO
    return Severity.CRITICAL if large else Severity.WARNING


@rule(BA302)
def check_host_swapping(snapshot: Snapshot, params: Params) -> RuleOutcome:
    critical_pct = params["critical_pct"]
    vms = runtime_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        swapped = vm.runtime_value(vm.swapped_mb) or 0
        if swapped <= 0:
            continue
        configured = vm.memory_mb
        severity = _ba302_severity(vm, swapped, critical_pct)
        share = (
            f" = {fmt_pct(pct(swapped, configured))} of {fmt_mb(configured)} configured"
            if configured
            else " (configured memory unknown)"
        )
        message = (
            f"{fmt_mb(swapped)} swapped by the host{share} (critical at "
            f"{fmt_threshold_pct(critical_pct)}){_ssd_text(vm)}; {_activity_text(vm)}"
        )
        ssd_kb = None if vm.ssd_swapped_mb is None else round(vm.ssd_swapped_mb * 1024)
        evidence = vm_evidence(
            vm,
            **{
                vs.VM_SWAPPED.key: vm.swapped_mb,
                vs.VM_SSD_SWAPPED.key: ssd_kb,
                vs.VM_MEMORY.key: configured,
                "live_swap_checked": swap_activity(vm) is not None,
                vs.VM_SWAPIN_RATE.key: vm.swapin_rate_kbps,
                vs.VM_SWAPOUT_RATE.key: vm.swapout_rate_kbps,
                vs.VM_MAXMEMCTL.key: vm.maxmemctl,
                vs.VM_LIMIT.key: vm.memory_limit_mb,
            },
        )
        findings.append(
            vm_finding(BA302, vm, severity, message, evidence, _ba302_remediation(vm, swapped))
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))


# --------------------------------------------------------------------------- BA303

BA303 = RuleMeta(
    id="BA303",
    name="memory-compression",
    severity=Severity.WARNING,
    checks="Memory of the VM held compressed by the host",
    rationale=(
        "The host compresses memory when it reaches the hard state, at the same time as it "
        "starts swapping: compression is a sign the balloon could not free enough."
    ),
    remediation=(
        "Treat as host memory pressure: find the cause (BA401 limit, BA201 balloon disabled, "
        "BA501 host state) and relieve the host."
    ),
    scope="powered-on VMs on connected hosts with quickStats",
    references=(REF_RM_OVERCOMMIT, REF_MON_HOST_MEMORY, REF_API_QUICKSTATS),
    defaults={"warning_above_mb": 0},
    reads=(
        vs.VM_COMPRESSED,
        vs.VM_MEMORY,
        vs.VM_POWER_STATE,
    ),
)


def _ba303_remediation(vm: VM, compressed: float) -> Remediation:
    return Remediation(
        summary=(
            f"{vm_label(vm)} has {fmt_mb(compressed)} compressed by its host: the host reached "
            "the state where it compresses and swaps because ballooning was not enough. "
            f"{_CAUSES}"
        ),
        steps=(
            "Check the VM's findings for BA401, BA201 and BA101 and fix those first.",
            "Host › Monitor › Performance › Memory: confirm the host state (BA501) and relieve "
            "it with DRS/vMotion, more memory or less overcommitment.",
        ),
        confirm=(CONFIRM_ZIP_COUNTERS, f"{ESXTOP_MEMORY_VIEW}.", CONFIRM_ZIP, CONFIRM_SWAP),
        powercli=_get_stat(vm, "mem.compressed.average", *_ZIP_COUNTERS),
        govc=govc_vm_metric(vm, "mem.compressed.average", *_ZIP_COUNTERS),
        references=BA303.references,
    )


@rule(BA303)
def check_memory_compression(snapshot: Snapshot, params: Params) -> RuleOutcome:
    warning_above_mb = params["warning_above_mb"]
    vms = runtime_vms(snapshot)
    findings: list[Finding] = []
    for vm in vms:
        compressed = vm.runtime_value(vm.compressed_mb) or 0
        if compressed <= warning_above_mb or compressed <= 0:
            continue
        configured = vm.memory_mb
        share = (
            f" = {fmt_pct(pct(compressed, configured))} of {fmt_mb(configured)} configured"
            if configured
            else ""
        )
        message = f"{fmt_mb(compressed)} compressed by the host{share}"
        raw_kb = None if vm.compressed_mb is None else vm.compressed_mb * 1024
        if raw_kb is not None and float(raw_kb).is_integer():
            raw_kb = int(raw_kb)
        evidence = vm_evidence(
            vm,
            **{
                vs.VM_COMPRESSED.key: raw_kb,
                "compressed_mb": vm.compressed_mb,
                vs.VM_MEMORY.key: configured,
            },
        )
        findings.append(
            vm_finding(
                BA303, vm, Severity.WARNING, message, evidence, _ba303_remediation(vm, compressed)
            )
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))
