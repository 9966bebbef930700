"""Narrow a collection to a :class:`~balloon_audit.scope.Scope` (see scope.py).

One extra paged pass reads the names of the containers (only when a scope is given);
VM container views are then rooted at the included containers, and the VMs under
excluded folders and pools are listed by reference only and skipped.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim, vmodl

from balloon_audit.collect.retrieve import container_view, filter_spec, retrieve_pages
from balloon_audit.model import Snapshot
from balloon_audit.scope import Scope

PC = vmodl.query.PropertyCollector

_KIND_OF = (
    (vim.Datacenter, "datacenter"),
    (vim.ClusterComputeResource, "cluster"),
    (vim.HostSystem, "host"),
    (vim.ResourcePool, "pool"),  # vApps are pools too
    (vim.Folder, "folder"),
)
_NARROWEST_FIRST = ("pool", "host", "cluster", "folder", "datacenter")


@dataclass
class ScopePlan:
    """Where to read VMs from, and which VMs to skip."""

    roots: list[Any] | None = None
    """Container references to root the VM views at; ``None``: the root folder."""
    skip: set[str] = field(default_factory=set)
    """VM moids under excluded folders or pools."""


def plan(content: Any, scope: Scope, page_size: int) -> ScopePlan:
    """Find the included and excluded containers by name (one paged pass)."""
    by_kind: dict[str, list[tuple[str, Any]]] = {}
    types = [t for t, _ in _KIND_OF]
    specs = [(t, ["name"]) for t in types]
    with container_view(content, types) as view:
        for page in retrieve_pages(content, filter_spec(view, specs), page_size, Counter()):
            for ref, props in page:
                kind = next(k for t, k in _KIND_OF if isinstance(ref, t))
                by_kind.setdefault(kind, []).append((str(props.get("name", "")), ref))
    result = ScopePlan()
    for kind in _NARROWEST_FIRST:
        if kind in scope.include:
            probe = Scope(include={kind: scope.include[kind]})
            result.roots = [
                ref for name, ref in by_kind.get(kind, []) if probe.admits(**{kind: name})
            ]
            break
    for kind in ("folder", "pool"):
        probe = Scope(include={kind: scope.exclude.get(kind, ())})
        if kind in scope.exclude:
            for name, ref in by_kind.get(kind, []):
                if probe.admits(**{kind: name}):
                    result.skip |= _vm_moids(content, ref)
    return result


def _vm_moids(content: Any, root: Any) -> set[str]:
    """The VMs below ``root``: one request for a view's ``view`` property (references only)."""
    with container_view(content, [vim.VirtualMachine], root=root) as view:
        spec = PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=view, skip=False)],
            propSet=[PC.PropertySpec(type=vim.view.ContainerView, pathSet=["view"])],
        )
        for page in retrieve_pages(content, spec, 1):
            for _, props in page:
                return {ref._moId for ref in props.get("view") or ()}
    return set()


def apply(snapshot: Snapshot, scope: Scope, skip: set[str]) -> Snapshot:
    """Drop the VMs, hosts, clusters and pools the scope leaves out (by name)."""
    vms = tuple(
        vm
        for vm in snapshot.vms
        if vm.moid not in skip
        and scope.admits(vm=vm.name, host=vm.host, cluster=vm.cluster, datacenter=vm.datacenter)
    )
    by_vm_only = any(k in scope.include for k in ("folder", "pool", "vm"))
    running = {vm.host_moid for vm in vms}
    hosts = tuple(
        h
        for h in snapshot.hosts
        if scope.admits(host=h.name, cluster=h.cluster, datacenter=h.datacenter)
        and (not by_vm_only or h.moid in running)
    )
    clusters_of_hosts = {h.cluster for h in hosts}
    clusters = tuple(
        c
        for c in snapshot.clusters
        if scope.admits(cluster=c.name, datacenter=c.datacenter) and c.name in clusters_of_hosts
    )
    owners = {c.name for c in clusters} | {h.name for h in hosts if h.cluster is None}
    pools = tuple(p for p in snapshot.resource_pools if p.cluster in owners)
    return dataclasses.replace(
        snapshot, clusters=clusters, hosts=hosts, vms=vms, resource_pools=pools
    )
