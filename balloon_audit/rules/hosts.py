"""Hosts and clusters (BA5xx): is the host short of memory, is it reclaiming, is it overcommitted.

Only connected hosts are looked at. A disconnected or not-responding host's
numbers are stale, so it is skipped and not counted as checked (never as
healthy); a connected host whose memory size or usage is unknown is skipped
the same way by the rules that need those numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from balloon_audit import vsphere as vs
from balloon_audit.formatting import fmt_mb, fmt_num
from balloon_audit.memstate import (
    CLEAR,
    HARD,
    HIGH,
    LOW,
    SOFT,
    STATE_EFFECT,
    HostMemory,
    estimate,
    min_free_rule,
    state_from_counter,
)
from balloon_audit.model import (
    VM,
    Cluster,
    Entity,
    Finding,
    Host,
    Remediation,
    RuleOutcome,
    Severity,
    Snapshot,
)
from balloon_audit.rules.common import (
    CONFIRM_MCTL,
    CONFIRM_SWAP,
    CONFIRM_ZIP,
    REF_BEST_PRACTICES,
    REF_MON_HOST_MEMORY,
    REF_RM_BALLOON,
    REF_RM_OVERCOMMIT,
    REF_RM_SWAP,
    make_finding,
    runtime_vms,
)
from balloon_audit.rules.registry import RuleMeta, rule
from balloon_audit.rules.shell import (
    govc_cluster_usage,
    govc_host_info,
    govc_host_metric,
    powercli_cluster,
    powercli_host,
)

REF_KB_MINFREE = "VMware KB 1033687: MinFreePct and the host memory states"

STATE_SEVERITY = {
    CLEAR: Severity.INFO,
    SOFT: Severity.WARNING,
    HARD: Severity.CRITICAL,
    LOW: Severity.CRITICAL,
}

CONFIRM_HOST_STATE = (
    "esxtop on the host, press m (memory view): the header lines show PMEM/MB free and, on the "
    "VMKMEM/MB line, minfree and the current state (high, clear, soft, hard, low)"
)
CONFIRM_HOST_STATE_COUNTER = (
    "Live counter (the command below): mem.state, a number: 0 high, 1 clear, 2 soft, 3 hard, "
    "4 low (ESXi 5.x: 0 high, 1 soft, 2 hard, 3 low)"
)
CONFIRM_OVERCOMMIT = (
    "esxtop on the host, press m: the first line, MEM overcommit avg, shows the 1, 5 and "
    "15 minute overcommitment averages (0.50 = 50 % more memory promised than present)"
)


PARAM_HELP = {
    "BA501": {
        "min_free_pct": (
            "0 = ESXi's sliding scale; else a flat % (the host's own Mem.MemMinFreePct, when "
            "read and set, wins)"
        ),
        "report_clear_state": "false: no info finding for hosts in the clear state",
    },
    "BA502": {
        "ballooned_above_mb": "host total ballooned MB above this → warning",
        "swapped_above_mb": "host total swapped MB above this → critical",
        "evidence_top_vms": "how many of the most affected VMs the evidence lists",
    },
    "BA503": {
        "info_ratio": "configured ÷ physical above this → info",
        "warning_ratio": "configured ÷ physical above this → warning",
        "ha_headroom": "true: clusters also report the ratio with the largest host removed (N−1)",
    },
}
"""One line per parameter, shown in docs/rules.md."""


# --- shared helpers --------------------------------------------------------------


def connected_hosts(snapshot: Snapshot) -> list[Host]:
    """Hosts whose numbers are current: connection state ``connected``."""
    return [h for h in snapshot.hosts if h.connected]


def host_evidence(host: Host, **values: Any) -> dict[str, Any]:
    """Evidence for a host finding, raw API values first (memorySize in bytes)."""
    evidence: dict[str, Any] = {vs.HOST_CONNECTION.key: host.connection_state}
    if host.memory_size_mb is not None:
        evidence[vs.HOST_MEMORY_SIZE.key] = round(host.memory_size_mb * 1024 * 1024)
    evidence[vs.HOST_MEMORY_USAGE.key] = host.memory_usage_mb
    evidence[vs.HOST_VERSION.key] = host.product_version
    evidence.update(values)
    return evidence


def _host_finding(
    meta: RuleMeta,
    host: Host,
    severity: Severity,
    message: str,
    evidence: Mapping[str, Any],
    remediation: Remediation,
) -> Finding:
    return make_finding(meta, Entity.of_host(host), severity, message, evidence, remediation)


def _vms_by_host(vms: Iterable[VM]) -> dict[tuple[str, str], list[VM]]:
    index: dict[tuple[str, str], list[VM]] = defaultdict(list)
    for vm in vms:
        if vm.host_moid is not None:
            index[(vm.server, vm.host_moid)].append(vm)
    return index


# --- BA501 host-memory-state -----------------------------------------------------

BA501 = RuleMeta(
    id="BA501",
    name="host-memory-state",
    severity=Severity.CRITICAL,
    checks="The ESXi host memory state: the realtime mem.state counter, else an estimate",
    rationale=(
        "ESXi picks its reclamation method from the host's free memory measured against minFree "
        "(6 % of the first 4 GB, 4 % of the next 8 GB, 2 % of the next 16 GB, 1 % of the rest: "
        "about 1.9 GB on a 128 GB host; a flat percentage when the host's Mem.MemMinFreePct is "
        "set). At 400 % of minFree and above the host is in the high state; below that it is "
        "clear (large pages are broken up for page sharing), below 100 % soft (ballooning), "
        "below 64 % hard (compression and host swapping; sources differ on whether ballooning "
        "continues), below 32 % low (allocations are also blocked). ESXi 5.x had no clear "
        "state; ESX before 5.0 used fixed 6 / 4 / 2 / 1 % of memory free. The audit reads the "
        "VMkernel's own state from the realtime counter mem.state (one QueryPerf for all "
        "hosts) and Mem.MemMinFreePct from the host; only where mem.state has no sample does it "
        "estimate the state from quickStats (memory size − overallMemoryUsage), and every "
        "finding says which one it used. Severity: clear → info (no VM is reclaimed yet, but "
        "headroom is gone), soft → warning (VMs are being ballooned), hard and low → critical "
        "(VMs are being compressed and swapped)."
    ),
    remediation=(
        "Give the host headroom: let DRS (fully automated) or vMotion move VMs to hosts with free "
        "memory, power off or right-size idle VMs, remove memory limits that force reclamation, "
        "or add memory / hosts. Confirm the state first on the VMKMEM/MB line of esxtop's memory "
        "view."
    ),
    scope=(
        "connected hosts with a mem.state sample, or else with known memory size and usage; "
        "disconnected or not-responding hosts and hosts without either are skipped and not "
        "counted as checked"
    ),
    references=(REF_MON_HOST_MEMORY, REF_RM_OVERCOMMIT, REF_KB_MINFREE, REF_BEST_PRACTICES),
    defaults={"min_free_pct": 0.0, "report_clear_state": True},
    reads=(
        vs.HOST_MEM_STATE,
        vs.HOST_MIN_FREE,
        vs.HOST_CONNECTION,
        vs.HOST_MEMORY_SIZE,
        vs.HOST_MEMORY_USAGE,
        vs.HOST_VERSION,
    ),
)


def _ba501_remediation(host: Host, state: str, measured: bool) -> Remediation:
    where = f'cluster "{host.cluster}"' if host.cluster else "another host"
    how = "mem.state counter" if measured else "estimated from quickStats"
    return Remediation(
        summary=(
            f'Host "{host.name}" is short of free memory ({state} state, {how}): move VMs to '
            f"{where} with free memory, right-size or power off idle VMs, or add memory."
        ),
        steps=(
            f'vSphere Client: select host "{host.name}" › Monitor › Performance › Overview '
            "(Memory) to see consumed, ballooned, swapped and compressed memory over time",
            "If the host is in a cluster: cluster › Configure › vSphere DRS: set automation to "
            "Fully Automated so DRS balances memory, or migrate VMs by hand (right-click VM › "
            "Migrate › Change compute resource only)",
            "Check the VMs on the host for memory limits below configured memory (BA401, BA403):"
            " a limit forces reclamation even when the host has free memory",
            "Right-size VMs whose active memory (quickStats.guestMemoryUsage) stays far below "
            "their configured memory; add memory or hosts if the cluster as a whole is short",
        ),
        confirm=(CONFIRM_HOST_STATE_COUNTER, CONFIRM_HOST_STATE, CONFIRM_MCTL, CONFIRM_SWAP),
        powercli=(
            f"{powercli_host(host)} | Get-Stat -Stat mem.state.latest -Realtime -MaxSamples 15"
            " | Select-Object Timestamp, Value  # 0 high, 1 clear, 2 soft, 3 hard, 4 low"
        ),
        govc=govc_host_metric(host, "mem.state.latest"),
        references=BA501.references,
    )


def counter_state(host: Host) -> str | None:
    """The state the realtime mem.state counter reports, ``None`` when it was not read."""
    return state_from_counter(host.mem_state, host.product_version)


def estimated_memory(host: Host, min_free_pct: float = 0) -> HostMemory | None:
    """The quickStats estimate; the host's own Mem.MemMinFreePct, when set, beats the
    parameter. ``None`` when memory size or usage is unknown."""
    size, usage = host.memory_size_mb, host.memory_usage_mb
    if size is None or usage is None or size <= 0:
        return None
    flat = float(host.min_free_pct or min_free_pct)
    return estimate(size, usage, host.product_version, flat)


def host_memory_state(host: Host, min_free_pct: float = 0) -> tuple[str | None, bool]:
    """(state, measured): the mem.state counter when read, else the quickStats estimate."""
    measured = counter_state(host)
    if measured is not None:
        return measured, True
    est = estimated_memory(host, min_free_pct) if host.connected else None
    return (est.state if est is not None else None), False


@rule(BA501)
def check_host_memory_state(snapshot: Snapshot, params: Mapping[str, Any]) -> RuleOutcome:
    """Memory state per host (counter, else estimate): clear → info, soft → warning,
    hard/low → critical."""
    report_clear = bool(params["report_clear_state"])
    checked = 0
    findings: list[Finding] = []
    for host in connected_hosts(snapshot):
        measured = counter_state(host)
        est = estimated_memory(host, float(params["min_free_pct"]))
        if measured is None and est is None:
            continue
        checked += 1
        state = measured or (est.state if est is not None else HIGH)
        severity = STATE_SEVERITY.get(state)
        if severity is None or (state == CLEAR and not report_clear):
            continue
        flat = float(host.min_free_pct or params["min_free_pct"])
        findings.append(
            _host_finding(
                BA501,
                host,
                severity,
                _ba501_message(host, state, measured is not None, est),
                _ba501_evidence(host, state, measured is not None, est, flat),
                _ba501_remediation(host, state, measured is not None),
            )
        )
    return RuleOutcome(checked=checked, findings=tuple(findings))


def _ba501_evidence(
    host: Host, state: str, measured: bool, est: HostMemory | None, flat_pct: float
) -> dict[str, Any]:
    pct = est.free_pct_of_min_free if est is not None else None
    rule_text = min_free_rule(host.product_version, flat_pct)
    if flat_pct > 0:
        source = "the host's Mem.MemMinFreePct" if host.min_free_pct else "rule parameter"
        rule_text = f"flat {fmt_num(flat_pct)} % ({source})"
    return host_evidence(
        host,
        **{
            vs.HOST_MEM_STATE.key: host.mem_state,
            vs.HOST_MIN_FREE.key: host.min_free_pct,
            "state": state,
            "state_source": (
                "mem.state counter"
                if measured
                else "estimate from quickStats (mem.state not available)"
            ),
            "estimated_state": est.state if est is not None else None,
            "estimated_free_mb": round(est.free_mb, 1) if est is not None else None,
            "min_free_mb": round(est.min_free_mb, 2) if est is not None else None,
            "free_pct_of_min_free": None if pct is None else round(pct, 1),
            "min_free_rule": rule_text,
        },
    )


def _ba501_message(host: Host, state: str, measured: bool, est: HostMemory | None) -> str:
    if measured:
        head = (
            f'Host "{host.name}" is in the {state} memory state '
            f"(mem.state counter = {host.mem_state})"
        )
    else:
        head = f'Host "{host.name}" is in the {state} memory state (estimated)'
    numbers = ""
    if est is not None:
        pct = est.free_pct_of_min_free
        pct_text = f"{pct:.0f} % of" if pct is not None else "vs"
        numbers = (
            f": {fmt_mb(round(est.free_mb))} free of {fmt_mb(round(est.memory_mb))}, "
            f"{pct_text} minFree {fmt_mb(round(est.min_free_mb))}"
        )
        if measured:
            numbers = f"; quickStats estimate{numbers}"
    tail = (
        ""
        if measured
        else ". Estimate from quickStats (mem.state not available): confirm on the VMKMEM/MB "
        "line of esxtop's memory view"
    )
    return f"{head}{numbers}; {STATE_EFFECT[state]}{tail}"


# --- BA502 host-reclaiming -------------------------------------------------------

BA502 = RuleMeta(
    id="BA502",
    name="host-reclaiming",
    severity=Severity.CRITICAL,
    checks="Ballooned and swapped memory summed over the VMs on each host",
    rationale=(
        "Per-VM findings (BA301, BA302) show who is being reclaimed; this rule shows where. When "
        "many VMs on one host are ballooned or swapped, the cause is the host (memory pressure, "
        "poor balance, overcommitment), not the VMs, and the fix is to give that host headroom. "
        "Host swapping is far worse than ballooning: ESXi pages out guest memory without "
        "knowing which pages are in use. Severity: any VM swapping → critical; VMs "
        "ballooning (none swapping) → warning."
    ),
    remediation=(
        "Treat the host, not the VMs: check its memory state (BA501) and overcommitment (BA503), "
        "rebalance with DRS or vMotion, and look for memory limits (BA401) and disabled balloon "
        "drivers (BA201) on the VMs listed in the evidence."
    ),
    scope=(
        "connected hosts; the VMs counted are powered-on VMs with quickStats (VMs without "
        "runtime data are BA901's and are not counted)"
    ),
    references=(REF_RM_BALLOON, REF_RM_SWAP, REF_MON_HOST_MEMORY),
    defaults={"ballooned_above_mb": 0, "swapped_above_mb": 0, "evidence_top_vms": 5},
    reads=(
        vs.VM_BALLOONED,
        vs.VM_SWAPPED,
        vs.HOST_CONNECTION,
        vs.HOST_MEMORY_SIZE,
        vs.HOST_MEMORY_USAGE,
        vs.HOST_VERSION,
    ),
)


def _ba502_remediation(host: Host, swapping: bool) -> Remediation:
    first = (
        "Host swapping is the last resort: find out why the balloon could not reclaim enough "
        "(BA201 balloon disabled, BA101 Tools missing, BA401 limits) and relieve the host now."
        if swapping
        else "Sustained ballooning means the host is short of memory."
    )
    return Remediation(
        summary=(
            f'{first} Give host "{host.name}" headroom: migrate VMs away (DRS / vMotion), '
            "right-size VMs, or add memory."
        ),
        steps=(
            f'vSphere Client: select host "{host.name}" › VMs, add the columns "Ballooned Memory" '
            'and "Swapped Memory" (column chooser) and sort by them',
            "Check the listed VMs for memory limits (BA401) and sched.mem.maxmemctl = 0 (BA201)",
            "Cluster › Configure › vSphere DRS: Fully Automated, or migrate the largest VMs to "
            "hosts with free memory (right-click VM › Migrate)",
            "Confirm the host's memory state (BA501) before and after",
        ),
        confirm=(CONFIRM_HOST_STATE, CONFIRM_MCTL, CONFIRM_SWAP, CONFIRM_ZIP),
        powercli=(
            f"{powercli_host(host)} | Get-VM | Where-Object PowerState -eq 'PoweredOn' | "
            "Select-Object Name, @{N='BalloonedMB';E={$_.ExtensionData.Summary.QuickStats."
            "BalloonedMemory}}, @{N='SwappedMB';E={$_.ExtensionData.Summary.QuickStats."
            "SwappedMemory}} | Sort-Object SwappedMB, BalloonedMB -Descending"
        ),
        govc=govc_host_info(host),
        references=BA502.references,
    )


@rule(BA502)
def check_host_reclaiming(snapshot: Snapshot, params: Mapping[str, Any]) -> RuleOutcome:
    """Per connected host, sum ballooned/swapped MB of its VMs (joined by server + host moid)."""
    by_host = _vms_by_host(runtime_vms(snapshot))
    checked = 0
    findings: list[Finding] = []
    for host in connected_hosts(snapshot):
        checked += 1
        rows = _reclaimed_vms(by_host.get((host.server, host.moid), []))
        swapping = sum(r[2] for r in rows) > params["swapped_above_mb"]
        ballooning = sum(r[1] for r in rows) > params["ballooned_above_mb"]
        if swapping or ballooning:
            findings.append(_ba502_finding(host, rows, swapping, int(params["evidence_top_vms"])))
    return RuleOutcome(checked=checked, findings=tuple(findings))


_Reclaimed = tuple[VM, float, float]
"""(VM, ballooned MB, swapped MB)."""


def _reclaimed_vms(vms: Iterable[VM]) -> list[_Reclaimed]:
    """The VMs with ballooned or swapped memory, most swapped first, then most ballooned."""
    rows: list[_Reclaimed] = []
    for vm in vms:
        ballooned = vm.runtime_value(vm.ballooned_mb) or 0
        swapped = vm.runtime_value(vm.swapped_mb) or 0
        if ballooned > 0 or swapped > 0:
            rows.append((vm, ballooned, swapped))
    rows.sort(key=lambda r: (-r[2], -r[1], r[0].name))
    return rows


def _ba502_finding(host: Host, rows: list[_Reclaimed], swapping: bool, top_n: int) -> Finding:
    total_ballooned = sum(r[1] for r in rows)
    total_swapped = sum(r[2] for r in rows)
    n_swapping = sum(1 for r in rows if r[2] > 0)
    n_ballooning = sum(1 for r in rows if r[1] > 0)
    parts = []
    if total_swapped:
        parts.append(f"{n_swapping} VM(s) swapped {fmt_mb(total_swapped)}")
    if total_ballooned:
        parts.append(f"{n_ballooning} VM(s) ballooned {fmt_mb(total_ballooned)}")
    top = ", ".join(
        f"{vm.name} ({fmt_mb(s)} swapped, {fmt_mb(b)} ballooned)" for vm, b, s in rows[:3]
    )
    message = (
        f'Host "{host.name}" is reclaiming memory from its VMs: {" and ".join(parts)} '
        f"in total; most affected: {top}"
    )
    evidence = host_evidence(
        host,
        **{
            f"sum({vs.VM_BALLOONED.key})": total_ballooned,
            f"sum({vs.VM_SWAPPED.key})": total_swapped,
            "vms_ballooning": n_ballooning,
            "vms_swapping": n_swapping,
            "top_vms": [
                {"name": vm.name, "moid": vm.moid, vs.VM_BALLOONED.key: b, vs.VM_SWAPPED.key: s}
                for vm, b, s in rows[:top_n]
            ],
        },
    )
    severity = Severity.CRITICAL if swapping else Severity.WARNING
    return _host_finding(
        BA502, host, severity, message, evidence, _ba502_remediation(host, swapping)
    )


# --- BA503 overcommit -------------------------------------------------------------

BA503 = RuleMeta(
    id="BA503",
    name="overcommit",
    severity=Severity.WARNING,
    checks="Configured memory of powered-on VMs ÷ physical memory, per host and per cluster",
    rationale=(
        "Overcommitment is what lets ESXi run more VMs than fit in RAM, and it works while VMs "
        "use less than they were given. The higher the ratio, the less it takes (a batch job, a "
        "failover, a patch night) for active memory to exceed the host and for ESXi to balloon, "
        "compress and swap. A cluster ratio also tells whether moving VMs around can help, or "
        "whether the cluster as a whole needs memory. The VMs' overhead memory "
        "(quickStats.consumedOverheadMemory, what the VMkernel needs to run each VM) is added to "
        "their configured memory where the server reports it. For clusters the ratio with the "
        "largest host removed (N−1, what vSphere HA must be able to absorb) is reported as well. "
        "Severity: ratio above info_ratio (1.5) → info, above warning_ratio (2.0) → warning; a "
        "cluster below info_ratio whose N−1 ratio is above warning_ratio → info."
    ),
    remediation=(
        "Right-size VMs whose active memory stays far below their configured memory, spread VMs "
        "across hosts (DRS), and add memory or hosts where the cluster ratio is high. Reserve "
        "memory for the VMs that must never be reclaimed."
    ),
    scope=(
        "connected hosts with known memory size, and clusters (summed over their connected "
        "hosts); the VMs counted are powered-on VMs (not templates) on those hosts"
    ),
    references=(REF_RM_OVERCOMMIT, REF_BEST_PRACTICES, REF_MON_HOST_MEMORY),
    defaults={"info_ratio": 1.5, "warning_ratio": 2.0, "ha_headroom": True},
    reads=(
        vs.VM_MEMORY,
        vs.VM_OVERHEAD,
        vs.VM_POWER_STATE,
        vs.HOST_CONNECTION,
        vs.HOST_MEMORY_SIZE,
        vs.HOST_MEMORY_USAGE,
        vs.HOST_VERSION,
    ),
)


def _ratio_severity(ratio: float, params: Mapping[str, Any]) -> Severity | None:
    if ratio > params["warning_ratio"]:
        return Severity.WARNING
    if ratio > params["info_ratio"]:
        return Severity.INFO
    return None


def _ba503_host_remediation(host: Host) -> Remediation:
    return Remediation(
        summary=(
            f'Host "{host.name}" has more memory promised to VMs than it has: spread VMs across '
            "hosts (DRS / vMotion), right-size over-provisioned VMs, or add memory."
        ),
        steps=(
            f'vSphere Client: select host "{host.name}" › VMs; compare each VM\'s "Host Mem" and '
            '"Guest Mem" (active) columns with its configured memory to find over-sized VMs',
            "Cluster › Configure › vSphere DRS: Fully Automated, so load is spread over the "
            "cluster; migrate VMs by hand for a standalone host",
            "Reduce configured memory of over-sized VMs (VM › Edit Settings › Memory, at the "
            "next maintenance window) or add memory to the host",
        ),
        confirm=(CONFIRM_OVERCOMMIT, CONFIRM_HOST_STATE),
        powercli=(
            f"$h = {powercli_host(host)}; "
            "$vms = $h | Get-VM | Where-Object PowerState -eq 'PoweredOn'; "
            "'{0:N2}' -f (($vms | Measure-Object MemoryMB -Sum).Sum / $h.MemoryTotalMB)"
        ),
        govc=govc_host_info(host),
        references=BA503.references,
    )


def _ba503_cluster_remediation(cluster: Cluster) -> Remediation:
    return Remediation(
        summary=(
            f'Cluster "{cluster.name}" has more memory promised to powered-on VMs than its '
            "connected hosts have: moving VMs inside the cluster cannot fix that; right-size VMs, "
            "add memory or hosts, or move VMs to another cluster."
        ),
        steps=(
            f'vSphere Client: select cluster "{cluster.name}" › Monitor › vSphere DRS › Memory '
            "Utilization to see how the hosts share the load",
            "Find over-sized VMs: cluster › VMs, compare Host Mem and Guest Mem (active) with "
            "configured memory; reduce them at the next maintenance window",
            "Plan capacity: add memory or hosts, or migrate VMs to a cluster with free memory",
        ),
        confirm=(CONFIRM_OVERCOMMIT,),
        powercli=(
            f"$c = {powercli_cluster(cluster)}; "
            "$vms = $c | Get-VM | Where-Object PowerState -eq 'PoweredOn'; "
            "$hosts = $c | Get-VMHost | Where-Object ConnectionState -eq 'Connected'; "
            "'{0:N2}' -f (($vms | Measure-Object MemoryMB -Sum).Sum / "
            "($hosts | Measure-Object MemoryTotalMB -Sum).Sum)"
        ),
        govc=govc_cluster_usage(cluster),
        references=BA503.references,
    )


def _configured_sum(vms: Iterable[VM]) -> tuple[int, int, int, int]:
    """(Σ configured MB, VMs counted, VMs whose configured memory is unknown, Σ overhead MB)."""
    total = counted = unknown = overhead = 0
    for vm in vms:
        if vm.memory_mb is None:
            unknown += 1
        else:
            total += vm.memory_mb
            counted += 1
        overhead += vm.overhead_mb or 0
    return total, counted, unknown, overhead


def _overcommit_message(
    kind: str, name: str, configured: float, overhead: float, physical: float
) -> str:
    ratio = (configured + overhead) / physical
    with_overhead = f" + {fmt_mb(overhead)} VM overhead" if overhead else ""
    return (
        f'{kind} "{name}" is overcommitted {ratio:.2f}:1: {fmt_mb(configured)} configured on '
        f"powered-on VMs{with_overhead} vs {fmt_mb(round(physical))} physical memory"
    )


def _ba503_cluster_finding(
    known: Mapping[tuple[str, str | None, str], Cluster],
    key: tuple[str, str | None, str],
    sums: list[float],
    params: Mapping[str, Any],
) -> Finding | None:
    """BA503 for one cluster, from its connected hosts' sums; None when under the ratios.

    Also the ratio with the largest host down (N−1, what vSphere HA must absorb): a cluster
    below info_ratio whose N−1 ratio is above warning_ratio is reported as info.
    """
    physical, configured, counted, unknown, n_hosts, overhead, largest = sums
    ratio = (configured + overhead) / physical
    remaining = physical - largest
    ratio_n1 = (configured + overhead) / remaining if n_hosts > 1 and remaining > 0 else None
    severity = _ratio_severity(ratio, params)
    if severity is None and params.get("ha_headroom", True) and ratio_n1 is not None:
        severity = Severity.INFO if ratio_n1 > params["warning_ratio"] else None
    if severity is None:
        return None
    server, datacenter, name = key
    cluster = known.get(key) or Cluster(moid="", name=name, server=server, datacenter=datacenter)
    evidence = {
        f"sum(host.{vs.HOST_MEMORY_SIZE.key})": round(physical * 1024 * 1024),
        f"sum({vs.VM_MEMORY.key})": int(configured),
        f"sum({vs.VM_OVERHEAD.key})": int(overhead),
        "connected_hosts": int(n_hosts),
        "powered_on_vms": int(counted),
        "vms_with_unknown_memory": int(unknown),
        "overcommit_ratio": round(ratio, 3),
        "largest_host_mb": round(largest),
        "overcommit_ratio_n_minus_1": None if ratio_n1 is None else round(ratio_n1, 3),
    }
    message = _overcommit_message("Cluster", name, configured, overhead, physical)
    if ratio_n1 is not None:
        message += f"; {ratio_n1:.2f}:1 with its largest host ({fmt_mb(round(largest))}) down (N−1)"
    return make_finding(
        BA503,
        Entity(
            "ClusterComputeResource",
            name,
            cluster.moid or None,
            server,
            datacenter,
            cluster=name,
        ),
        severity,
        message,
        evidence,
        _ba503_cluster_remediation(cluster),
    )


@rule(BA503)
def check_overcommit(snapshot: Snapshot, params: Mapping[str, Any]) -> RuleOutcome:
    """Σ configured memory of powered-on VMs ÷ physical memory, per host and per cluster."""
    powered_on = [vm for vm in snapshot.vms if vm.powered_on and not vm.is_template]
    by_host = _vms_by_host(powered_on)
    checked = 0
    findings: list[Finding] = []
    # (server, datacenter, cluster name) ->
    #   [physical MB, configured MB, VMs, unknown, hosts, overhead MB, largest host MB]
    clusters: dict[tuple[str, str | None, str], list[float]] = {}
    for host in connected_hosts(snapshot):
        if host.memory_size_mb is None or host.memory_size_mb <= 0:
            continue
        checked += 1
        configured, counted, unknown, overhead = _configured_sum(
            by_host.get((host.server, host.moid), [])
        )
        if host.cluster is not None:
            acc = clusters.setdefault(
                (host.server, host.datacenter, host.cluster), [0, 0, 0, 0, 0, 0, 0]
            )
            for i, v in enumerate((host.memory_size_mb, configured, counted, unknown, 1, overhead)):
                acc[i] += v
            acc[6] = max(acc[6], host.memory_size_mb)
        ratio = (configured + overhead) / host.memory_size_mb
        severity = _ratio_severity(ratio, params)
        if severity is None:
            continue
        evidence = host_evidence(
            host,
            **{
                f"sum({vs.VM_MEMORY.key})": configured,
                f"sum({vs.VM_OVERHEAD.key})": overhead,
                "powered_on_vms": counted,
                "vms_with_unknown_memory": unknown,
                "overcommit_ratio": round(ratio, 3),
            },
        )
        message = _overcommit_message("Host", host.name, configured, overhead, host.memory_size_mb)
        findings.append(
            _host_finding(BA503, host, severity, message, evidence, _ba503_host_remediation(host))
        )

    known = {(c.server, c.datacenter, c.name): c for c in snapshot.clusters}
    for key in sorted(clusters, key=lambda k: (k[0], k[1] or "", k[2])):
        checked += 1
        finding = _ba503_cluster_finding(known, key, clusters[key], params)
        if finding is not None:
            findings.append(finding)
    return RuleOutcome(checked=checked, findings=tuple(findings))
