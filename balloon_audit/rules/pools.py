"""BA403: resource pools (and vApps) whose memory limit is below what their VMs are given.

A pool limit works like a VM limit for everything inside the pool, child pools
included: above it the VMkernel balloons, compresses and swaps the pool's VMs
even when their hosts have free memory (the classic "ballooning on an idle
cluster"). vSphere with Tanzu namespaces are resource pools with limits.
Root pools are not judged: their limit only mirrors the cluster's capacity.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from balloon_audit import vsphere as vs
from balloon_audit.formatting import fmt_mb, fmt_pct
from balloon_audit.memstate import PRESSURE_STATES
from balloon_audit.model import (
    VM,
    Entity,
    Finding,
    Remediation,
    ResourcePool,
    RuleOutcome,
    Severity,
    Snapshot,
)
from balloon_audit.rules.common import (
    CONFIRM_MCTL,
    CONFIRM_SWAP,
    ESXTOP_MEMORY_VIEW,
    REF_KB_LIMITS,
    REF_RM_LIMITS,
    REF_RM_POOLS,
    host_index,
    host_of,
    make_finding,
    pct,
    runtime_vms,
)
from balloon_audit.rules.hosts import host_memory_state
from balloon_audit.rules.registry import RuleMeta, rule
from balloon_audit.rules.shell import govc_moref, posix_quote, powercli_server, powershell_quote

MAX_NESTING = 64

BA403 = RuleMeta(
    id="BA403",
    name="resource-pool-limit",
    severity=Severity.CRITICAL,
    checks="Resource pool or vApp memory limit below the memory of its powered-on VMs",
    rationale=(
        "A resource pool's memory limit caps every VM in the pool and in its child pools "
        "together (a parent's limit caps its children). Above the limit the VMkernel reclaims "
        "the pool's memory by ballooning, compressing and swapping its VMs even when their "
        "hosts have free memory, exactly like a VM limit (KB 1033115): the classic 'ballooning "
        "on an idle cluster'. Tanzu / vSphere with Kubernetes namespaces are resource pools "
        "with limits. Severity: limit below the configured memory of the pool's powered-on VMs "
        "(child pools included) → info; VMs in the pool ballooning or swapping → critical when "
        "none of their hosts is under memory pressure (soft, hard or low state), so the limit "
        "is the cause, and warning otherwise."
    ),
    remediation=(
        "Raise or remove the pool's memory limit, or move VMs out of the pool. Do not hide the "
        "limit with VM reservations without checking the pool's expandable reservation."
    ),
    scope=(
        "resource pools and vApps below the cluster's (or host's) root pool that have a memory "
        "limit; the VMs counted are powered-on VMs in the pool and its child pools"
    ),
    references=(REF_KB_LIMITS, REF_RM_POOLS, REF_RM_LIMITS),
    reads=(
        vs.POOL_LIMIT,
        vs.POOL_RESERVATION,
        vs.POOL_EXPANDABLE,
        vs.POOL_BALLOONED,
        vs.POOL_SWAPPED,
        vs.VM_POOL,
        vs.VM_MEMORY,
        vs.VM_BALLOONED,
        vs.VM_SWAPPED,
        vs.VM_POWER_STATE,
        vs.HOST_MEM_STATE,
        vs.HOST_MEMORY_SIZE,
        vs.HOST_MEMORY_USAGE,
    ),
)


def _entity(pool: ResourcePool) -> Entity:
    return Entity(
        "VirtualApp" if pool.is_vapp else "ResourcePool",
        pool.name,
        pool.moid,
        pool.server,
        pool.datacenter,
        cluster=pool.cluster,
    )


def _govc_pool(pool: ResourcePool) -> str | None:
    """``govc pool.change -mem.limit -1 ResourcePool:resgroup-42`` (the pool by reference)."""
    if pool.is_vapp:
        return None  # vApps: the vSphere Client or PowerCLI steps
    words = ["govc", "pool.change", "-mem.limit", "-1", govc_moref("ResourcePool", pool.moid)]
    return " ".join(posix_quote(w) for w in words)


def _powercli_pool(pool: ResourcePool) -> str:
    cmdlet, prefix, setter = (
        ("Get-VApp", "VirtualApp-", "Set-VApp") if pool.is_vapp else
        ("Get-ResourcePool", "ResourcePool-", "Set-ResourcePool")
    )  # fmt: skip
    return (
        f"{cmdlet} -Server {powershell_quote(powercli_server(pool.server))}"
        f" -Id {powershell_quote(prefix + pool.moid)}"
        f" | Where-Object {{ $_.Name -ceq {powershell_quote(pool.name)} }}"
        f" | {setter} -MemLimitGB $null"
    )


def _ba403_remediation(pool: ResourcePool, reclaiming: bool) -> Remediation:
    kind = "vApp" if pool.is_vapp else "resource pool"
    lead = (
        f"Its VMs are being reclaimed because of the limit: raise or remove the {kind}'s limit."
        if reclaiming
        else "Nothing is reclaimed yet, but the VMs cannot all use the memory they were given."
    )
    return Remediation(
        summary=(
            f'The memory limit of {kind} "{pool.name}" is below what its powered-on VMs are '
            f"configured for. {lead} If the limit is a quota (e.g. a Tanzu namespace), size the "
            "VMs to fit it instead."
        ),
        steps=(
            f'vSphere Client: select {kind} "{pool.name}" › Actions › Edit Resource Settings › '
            "Memory › Limit: Unlimited, or at least the configured memory of its VMs",
            "A Tanzu / vSphere with Kubernetes namespace: change the namespace's memory limit "
            "in Workload Management (the pool follows it)",
            "Or move VMs to a pool with room (drag them in the VMs and Templates view)",
            "Do not hide the limit with VM reservations without checking the pool's expandable "
            "reservation: reservations inside a limited pool still count against its limit",
        ),
        confirm=(
            f"{ESXTOP_MEMORY_VIEW}: MCTLTGT and SWTGT of the pool's VMs fall to 0 once the "
            "limit no longer binds (when their hosts are not under pressure).",
            CONFIRM_MCTL,
            CONFIRM_SWAP,
        ),
        powercli=_powercli_pool(pool),
        govc=_govc_pool(pool),
        references=BA403.references,
    )


def _subtree(pools: list[ResourcePool]) -> dict[str, set[str]]:
    """Pool moid -> itself and every pool below it (same server)."""
    children: dict[str, list[str]] = defaultdict(list)
    for pool in pools:
        if pool.parent_moid is not None:
            children[pool.parent_moid].append(pool.moid)
    out: dict[str, set[str]] = {}
    for pool in pools:
        seen, todo = {pool.moid}, [pool.moid]
        while todo and len(seen) < 10_000:
            for child in children.get(todo.pop(), []):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        out[pool.moid] = seen
    return out


def _limited_ancestors(pool: ResourcePool, by_moid: Mapping[str, ResourcePool]) -> list[str]:
    """Names of the pool's ancestors that have a limit of their own (they cap it too)."""
    names, parent, depth = [], pool.parent_moid, 0
    while parent is not None and parent in by_moid and depth < MAX_NESTING:
        ancestor = by_moid[parent]
        if ancestor.memory_limit_mb is not None:
            names.append(f"{ancestor.name} ({fmt_mb(ancestor.memory_limit_mb)})")
        parent, depth = ancestor.parent_moid, depth + 1
    return names


@rule(BA403)
def check_resource_pool_limit(snapshot: Snapshot, params: Mapping[str, Any]) -> RuleOutcome:
    """Pool limit < Σ configured memory of its powered-on VMs → info; reclaiming → warning or
    critical."""
    hosts = host_index(snapshot)
    powered_on = _powered_on_by_pool(snapshot)
    runtime = {(vm.server, vm.moid) for vm in runtime_vms(snapshot)}
    checked = 0
    findings: list[Finding] = []
    by_server: dict[str, list[ResourcePool]] = defaultdict(list)
    for pool in snapshot.resource_pools:
        by_server[pool.server].append(pool)
    for server, pools in sorted(by_server.items()):
        subtree = _subtree(pools)
        by_moid = {p.moid: p for p in pools}
        for pool in pools:
            if pool.memory_limit_mb is None:
                continue
            checked += 1
            vms = [vm for moid in subtree[pool.moid] for vm in powered_on.get((server, moid), [])]
            configured = sum(vm.memory_mb or 0 for vm in vms)
            if configured <= pool.memory_limit_mb:
                continue
            finding = _pool_finding(pool, vms, configured, hosts, runtime, by_moid)
            findings.append(finding)
    return RuleOutcome(checked=checked, findings=tuple(findings))


def _powered_on_by_pool(snapshot: Snapshot) -> dict[tuple[str, str], list[VM]]:
    """(server, pool moid) -> the powered-on VMs (not templates) directly in that pool."""
    powered_on: dict[tuple[str, str], list[VM]] = defaultdict(list)
    for vm in snapshot.vms:
        if vm.powered_on and not vm.is_template and vm.resource_pool_moid:
            powered_on[(vm.server, vm.resource_pool_moid)].append(vm)
    return powered_on


def _reclaimed_in_pool(
    vms: list[VM], hosts: Mapping[tuple[str, str], Any], runtime: set[tuple[str, str]]
) -> tuple[list[tuple[VM, float, float]], set[str]]:
    """(VM, ballooned, swapped) of the reclaimed VMs, and the names of their pressured hosts."""
    reclaimed = []
    pressured_hosts = set()
    for vm in vms:
        if (vm.server, vm.moid) not in runtime:
            continue
        ballooned = vm.runtime_value(vm.ballooned_mb) or 0
        swapped = vm.runtime_value(vm.swapped_mb) or 0
        if ballooned > 0 or swapped > 0:
            reclaimed.append((vm, ballooned, swapped))
            host = host_of(vm, hosts)
            state = host_memory_state(host)[0] if host is not None else None
            if state in PRESSURE_STATES and host is not None:
                pressured_hosts.add(host.name)
    return reclaimed, pressured_hosts


def _pool_finding(
    pool: ResourcePool,
    vms: list[VM],
    configured: int,
    hosts: Mapping[tuple[str, str], Any],
    runtime: set[tuple[str, str]],
    by_moid: Mapping[str, ResourcePool],
) -> Finding:
    limit = pool.memory_limit_mb or 0
    reclaimed, pressured_hosts = _reclaimed_in_pool(vms, hosts, runtime)
    if not reclaimed:
        severity = Severity.INFO
    elif pressured_hosts:
        severity = Severity.WARNING
    else:
        severity = Severity.CRITICAL
    kind = "vApp" if pool.is_vapp else "Resource pool"
    message = (
        f'{kind} "{pool.name}" has a memory limit of {fmt_mb(limit)}, '
        f"{fmt_pct(pct(limit, configured))} of the {fmt_mb(configured)} configured on its "
        f"{len(vms)} powered-on VM(s)"
    )
    if reclaimed:
        total_b = sum(b for _, b, _ in reclaimed)
        total_s = sum(s for _, _, s in reclaimed)
        message += (
            f"; {len(reclaimed)} of them reclaimed ({fmt_mb(total_b)} ballooned, "
            f"{fmt_mb(total_s)} swapped)"
        )
        message += (
            f" while host(s) {', '.join(sorted(pressured_hosts))} are under memory pressure too"
            if pressured_hosts
            else " while their hosts are not under memory pressure: the limit is the cause"
        )
    ancestors = _limited_ancestors(pool, by_moid)
    evidence: dict[str, Any] = {
        vs.POOL_LIMIT.key: limit,
        vs.POOL_RESERVATION.key: pool.memory_reservation_mb,
        vs.POOL_EXPANDABLE.key: pool.expandable_reservation,
        f"pool {vs.POOL_BALLOONED.key}": pool.ballooned_mb,
        f"pool {vs.POOL_SWAPPED.key}": pool.swapped_mb,
        f"sum({vs.VM_MEMORY.key})": configured,
        "powered_on_vms": len(vms),
        "limited_parent_pools": ancestors,
        "hosts_under_pressure": sorted(pressured_hosts),
        "reclaimed_vms": [
            {"name": vm.name, "moid": vm.moid, vs.VM_BALLOONED.key: b, vs.VM_SWAPPED.key: s}
            for vm, b, s in sorted(reclaimed, key=lambda r: (-r[2], -r[1], r[0].name))[:5]
        ],
    }
    return make_finding(
        BA403,
        _entity(pool),
        severity,
        message,
        evidence,
        _ba403_remediation(pool, bool(reclaimed)),
    )
