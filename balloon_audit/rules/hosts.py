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
from balloon_audit.formatting import fmt_mb
from balloon_audit.memstate import (
    CLEAR,
    HARD,
    LOW,
    SOFT,
    STATE_EFFECT,
    HostMemory,
    estimate,
    min_free_rule,
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
    "VMKMEM/MB line, minfree and the current state (high, clear, soft, hard, low); the estimate "
    "here comes from quickStats and can differ"
)
CONFIRM_OVERCOMMIT = (
    "esxtop on the host, press m: the first line, MEM overcommit avg, shows the 1, 5 and "
    "15 minute overcommitment averages (0.50 = 50 % more memory promised than present)"
)


PARAM_HELP = {
    "BA501": {
        "min_free_pct": "0 = ESXi's sliding scale; else the host's Mem.MemMinFreePct, if set",
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
    checks="Estimated free host memory against the host's minFree: the ESXi memory state",
    rationale=(
        "ESXi picks its reclamation method from the host's free memory measured against minFree "
        "(6 % of the first 4 GB, 4 % of the next 8 GB, 2 % of the next 16 GB, 1 % of the rest: "
        "about 1.9 GB on a 128 GB host). At 400 % of minFree and above the host is in the high "
        "state; below that it is clear (large pages are broken up for page sharing), below 100 % "
        "soft (ballooning), below 64 % hard (compression and host swapping, the balloon stops), "
        "below 32 % low (allocations are also blocked). ESXi 5.x had no clear state; ESX before "
        "5.0 used fixed 6 / 4 / 2 / 1 % of memory free. Severity: clear → info (no VM is "
        "reclaimed yet, but headroom is gone), soft → warning (VMs are being ballooned), hard "
        "and low → critical (VMs are being swapped). The free figure is an estimate from "
        "quickStats, not the VMkernel's own number: confirm the state in esxtop."
    ),
    remediation=(
        "Give the host headroom: let DRS (fully automated) or vMotion move VMs to hosts with free "
        "memory, power off or right-size idle VMs, remove memory limits that force reclamation, "
        "or add memory / hosts. Confirm the state first on the VMKMEM/MB line of esxtop's memory "
        "view."
    ),
    scope=(
        "connected hosts whose memory size and usage are known; disconnected or not-responding "
        "hosts and hosts without these values are skipped and not counted as checked"
    ),
    references=(REF_MON_HOST_MEMORY, REF_RM_OVERCOMMIT, REF_KB_MINFREE, REF_BEST_PRACTICES),
    defaults={"min_free_pct": 0.0, "report_clear_state": True},
    reads=(
        vs.HOST_CONNECTION,
        vs.HOST_MEMORY_SIZE,
        vs.HOST_MEMORY_USAGE,
        vs.HOST_VERSION,
    ),
)


def _ba501_remediation(host: Host, state: str) -> Remediation:
    where = f'cluster "{host.cluster}"' if host.cluster else "another host"
    return Remediation(
        summary=(
            f'Host "{host.name}" is short of free memory ({state} state, estimated): move VMs to '
            f"{where} with free memory, right-size or power off idle VMs, or add memory."
        ),
        steps=(
            f'vSphere Client: select host "{host.name}" › Monitor › Performance › Overview '
            "(Memory) to see consumed, ballooned, swapped and compressed memory over time",
            "If the host is in a cluster: cluster › Configure › vSphere DRS: set automation to "
            "Fully Automated so DRS balances memory, or migrate VMs by hand (right-click VM › "
            "Migrate › Change compute resource only)",
            "Check the VMs on the host for memory limits below configured memory (BA401): a "
            "limit forces reclamation even when the host has free memory",
            "Right-size VMs whose active memory (quickStats.guestMemoryUsage) stays far below "
            "their configured memory; add memory or hosts if the cluster as a whole is short",
        ),
        confirm=(CONFIRM_HOST_STATE, CONFIRM_MCTL, CONFIRM_SWAP),
        powercli=(
            f"{powercli_host(host)} | Get-Stat -Stat mem.state.latest -Realtime -MaxSamples 1"
            " | Select-Object Timestamp, Value  # mem.state: 0 = high; higher values = tighter"
        ),
        govc=govc_host_info(host),
        references=BA501.references,
    )


def _ba501_message(host: Host, est: HostMemory) -> str:
    pct = est.free_pct_of_min_free
    pct_text = f"{pct:.0f} % of" if pct is not None else "vs"
    return (
        f'Host "{host.name}" is in the {est.state} memory state (estimated): '
        f"{fmt_mb(round(est.free_mb))} free of {fmt_mb(round(est.memory_mb))}, {pct_text} "
        f"minFree {fmt_mb(round(est.min_free_mb))}; {STATE_EFFECT[est.state]}. Estimate from "
        "quickStats: confirm on the VMKMEM/MB line of esxtop's memory view"
    )


@rule(BA501)
def check_host_memory_state(snapshot: Snapshot, params: Mapping[str, Any]) -> RuleOutcome:
    """Estimated memory state per host: clear → info, soft → warning, hard/low → critical."""
    min_free_pct = float(params["min_free_pct"])
    report_clear = bool(params["report_clear_state"])
    checked = 0
    findings: list[Finding] = []
    for host in connected_hosts(snapshot):
        if host.memory_size_mb is None or host.memory_usage_mb is None:
            continue
        if host.memory_size_mb <= 0:
            continue
        checked += 1
        est = estimate(
            host.memory_size_mb, host.memory_usage_mb, host.product_version, min_free_pct
        )
        severity = STATE_SEVERITY.get(est.state)
        if severity is None or (est.state == CLEAR and not report_clear):
            continue
        evidence = host_evidence(
            host,
            estimated_free_mb=round(est.free_mb, 1),
            min_free_mb=round(est.min_free_mb, 2),
            free_pct_of_min_free=(
                None if est.free_pct_of_min_free is None else round(est.free_pct_of_min_free, 1)
            ),
            estimated_state=est.state,
            min_free_rule=min_free_rule(host.product_version, min_free_pct),
        )
        message = _ba501_message(host, est)
        state = est.state
        findings.append(
            _host_finding(BA501, host, severity, message, evidence, _ba501_remediation(host, state))
        )
    return RuleOutcome(checked=checked, findings=tuple(findings))


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
        "whether the cluster as a whole needs memory. Severity: ratio above info_ratio (1.5) "
        "→ info, above warning_ratio (2.0) → warning."
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
    defaults={"info_ratio": 1.5, "warning_ratio": 2.0},
    reads=(
        vs.VM_MEMORY,
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


def _configured_sum(vms: Iterable[VM]) -> tuple[int, int, int]:
    """(Σ configured MB, VMs counted, VMs whose configured memory is unknown)."""
    total = counted = unknown = 0
    for vm in vms:
        if vm.memory_mb is None:
            unknown += 1
        else:
            total += vm.memory_mb
            counted += 1
    return total, counted, unknown


def _overcommit_message(kind: str, name: str, configured: float, physical: float) -> str:
    ratio = configured / physical
    return (
        f'{kind} "{name}" is overcommitted {ratio:.2f}:1: {fmt_mb(configured)} configured on '
        f"powered-on VMs vs {fmt_mb(round(physical))} physical memory"
    )


def _ba503_cluster_finding(
    known: Mapping[tuple[str, str | None, str], Cluster],
    key: tuple[str, str | None, str],
    sums: list[float],
    params: Mapping[str, Any],
) -> Finding | None:
    """BA503 for one cluster, from its connected hosts' sums; None when under the ratios."""
    physical, configured, counted, unknown, n_hosts = sums
    ratio = configured / physical
    severity = _ratio_severity(ratio, params)
    if severity is None:
        return None
    server, datacenter, name = key
    cluster = known.get(key) or Cluster(moid="", name=name, server=server, datacenter=datacenter)
    evidence = {
        f"sum(host.{vs.HOST_MEMORY_SIZE.key})": round(physical * 1024 * 1024),
        f"sum({vs.VM_MEMORY.key})": int(configured),
        "connected_hosts": int(n_hosts),
        "powered_on_vms": int(counted),
        "vms_with_unknown_memory": int(unknown),
        "overcommit_ratio": round(ratio, 3),
    }
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
        _overcommit_message("Cluster", name, configured, physical),
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
    # (server, datacenter, cluster name) -> [physical MB, configured MB, VMs, unknown, hosts]
    clusters: dict[tuple[str, str | None, str], list[float]] = {}
    for host in connected_hosts(snapshot):
        if host.memory_size_mb is None or host.memory_size_mb <= 0:
            continue
        checked += 1
        configured, counted, unknown = _configured_sum(by_host.get((host.server, host.moid), []))
        if host.cluster is not None:
            acc = clusters.setdefault((host.server, host.datacenter, host.cluster), [0, 0, 0, 0, 0])
            for i, v in enumerate((host.memory_size_mb, configured, counted, unknown, 1)):
                acc[i] += v
        ratio = configured / host.memory_size_mb
        severity = _ratio_severity(ratio, params)
        if severity is None:
            continue
        evidence = host_evidence(
            host,
            **{
                f"sum({vs.VM_MEMORY.key})": configured,
                "powered_on_vms": counted,
                "vms_with_unknown_memory": unknown,
                "overcommit_ratio": round(ratio, 3),
            },
        )
        message = _overcommit_message("Host", host.name, configured, host.memory_size_mb)
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
