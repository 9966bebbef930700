"""The diagnosis of one VM: the real rules, run on the VM and what surrounds it.

:func:`surroundings` cuts a snapshot down to the VM, its host, its cluster, its enclosing
pools and the neighbours the host and pool rules sum over (the other VMs on the host and
in the outermost limited pool), so that a live read (which collects only that) and a
replayed fleet capture give the same findings. :func:`diagnose` runs
:func:`balloon_audit.engine.evaluate` on it and keeps the findings about the VM, its host
and its pools, ordered by what to do first:

1. severity, worst first;
2. then the reclamation order: limits and pools (BA4xx) first -- they reclaim memory even
   on an idle host; then VMware Tools and the balloon driver (BA1xx, BA2xx), which decide
   whether reclamation can be cheap; then host pressure (BA5xx); then the reclamation
   itself (BA3xx, the symptoms), guest specifics (BA6xx) and data quality (BA9xx).

Cluster findings (BA503 over a whole cluster) are left out: they need every VM of the
cluster, which this command does not read; ``scan --scope cluster=NAME`` gives them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from balloon_audit.config import Config
from balloon_audit.engine import evaluate
from balloon_audit.model import VM, AuditResult, Finding, ResourcePool, Snapshot
from balloon_audit.vmmemory import pool_chain

FAMILY_ORDER = ("4", "1", "2", "5", "3", "6", "9")
"""Rule families (the first digit of the ID) in the order their advice should be acted on."""


def action_order(finding: Finding) -> tuple[int, int, str]:
    family = finding.rule[2:3]
    rank = FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
    return (-finding.severity.rank, rank, finding.rule)


def _subtree(pools: Sequence[ResourcePool], top: str) -> set[str]:
    """``top`` and every pool below it."""
    found = {top}
    grew = True
    while grew:
        grew = False
        for pool in pools:
            if pool.parent_moid in found and pool.moid not in found:
                found.add(pool.moid)
                grew = True
    return found


def _pools_read(vm: VM, pools: Sequence[ResourcePool]) -> tuple[set[str], bool]:
    """The pools a live read holds for ``vm`` (its chain, and the subtree of the outermost
    limited pool), and whether any of them has a limit."""
    chain = pool_chain(vm, pools)
    limited = [p for p in chain if p.memory_limit_mb is not None]
    in_pools = {p.moid for p in chain}
    if limited:
        in_pools |= _subtree(pools, limited[-1].moid)
    return in_pools, bool(limited)


def _is_neighbour(other: VM, vm: VM, in_pools: set[str], limited: bool) -> bool:
    """``other`` is ``vm``, on its host, or below its outermost limited pool."""
    if other.server != vm.server:
        return False
    if other.moid == vm.moid or (vm.host_moid is not None and other.host_moid == vm.host_moid):
        return True
    return limited and other.resource_pool_moid in in_pools


def surroundings(snapshot: Snapshot, vm: VM) -> Snapshot:
    """``snapshot`` cut down to what the diagnosis of ``vm`` reads (see the module docstring)."""
    pools = [p for p in snapshot.resource_pools if p.server == vm.server]
    in_pools, limited = _pools_read(vm, pools)
    hosts = tuple(h for h in snapshot.hosts if h.server == vm.server and h.moid == vm.host_moid)
    names = {h.cluster for h in hosts}
    clusters = tuple(c for c in snapshot.clusters if c.server == vm.server and c.name in names)
    return dataclasses.replace(
        snapshot,
        sources=tuple(s for s in snapshot.sources if s.server == vm.server),
        clusters=clusters,
        hosts=hosts,
        vms=tuple(o for o in snapshot.vms if _is_neighbour(o, vm, in_pools, limited)),
        resource_pools=tuple(p for p in pools if p.moid in in_pools),
    )


def relevant(findings: Sequence[Finding], vm: VM, chain: Sequence[ResourcePool]) -> list[Finding]:
    """The findings about ``vm``, its host and its pools, in :func:`action_order`."""
    about = {("VirtualMachine", vm.moid)}
    if vm.host_moid:
        about.add(("HostSystem", vm.host_moid))
    about |= {("VirtualApp" if p.is_vapp else "ResourcePool", p.moid) for p in chain}
    mine = [
        f
        for f in findings
        if f.entity.server == vm.server and (f.entity.type, f.entity.moid) in about
    ]
    return sorted(mine, key=action_order)


def diagnose(
    snapshot: Snapshot, vm: VM, config: Config | None = None
) -> tuple[list[Finding], AuditResult]:
    """The ordered findings for ``vm``, and the evaluation they come from."""
    around = surroundings(snapshot, vm)
    result = evaluate(around, config)
    chain = pool_chain(vm, around.resource_pools)
    return relevant(result.findings, vm, chain), result
