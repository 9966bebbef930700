"""Collect one endpoint into a Snapshot: three PropertyCollector passes, no per-object calls.

1. structure: Datacenter / Folder / ComputeResource / ClusterComputeResource names and
   parents, resource pools and vApps with their memory allocation, and every HostSystem's
   properties (one container view, one paged pass);
2. host advanced options Mem.CtlMaxPercent and Mem.MemMinFreePct (keyed paths, one pass);
3. VMs: one container view, leaf paths only, paged;
4. optional: one QueryPerf for the hosts' realtime mem.state, and realtime swap rates for
   the VMs that report swapped memory.
Hosts, pools and VMs are joined in Python.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim, vmodl

from balloon_audit import vsphere as vs
from balloon_audit.collect import properties as P
from balloon_audit.collect import scoped
from balloon_audit.collect.connection import open_session, translate_error
from balloon_audit.collect.host_options import add_host_options
from balloon_audit.collect.perf import add_host_memory_state, add_swap_rates, needs_swap_rates
from balloon_audit.collect.retrieve import (
    container_view,
    count_view,
    filter_spec,
    retrieve_pages,
)
from balloon_audit.collect.target import Target
from balloon_audit.errors import CollectionError
from balloon_audit.model import (
    VM,
    Cluster,
    Host,
    ResourcePool,
    Snapshot,
    SourceInfo,
    SourceStatus,
)

Progress = Callable[[str], None]

STRUCTURE_TYPES = (vim.Datacenter, vim.Folder, vim.ComputeResource, vim.ClusterComputeResource)


def _quiet(_: str) -> None:
    return None


Claim = Callable[[str, str], "str | None"]
"""``claim(instance_uuid, label)``: None if ``label`` audits that vCenter, else who does."""


@dataclass(frozen=True)
class _Options:
    """What ``collect_source`` was asked for."""

    perf: bool
    page_size: int
    keyed_extra_config: bool
    claim: Claim | None = None
    count_vms: bool = False
    vm_root: Any = None
    vm_roots: list[Any] | None = None
    """A scope's containers, each read as ``vm_root``; None: the root folder."""
    """The container to read VMs under (a scope's); None: the root folder."""


@dataclass(frozen=True)
class Node:
    """A datacenter, folder, cluster or standalone compute resource of the inventory."""

    kind: str
    name: str
    parent: str | None


class DuplicateSourceError(CollectionError):
    """This endpoint is a vCenter that another name of this run is auditing already."""

    def __init__(self, label: str, first: str) -> None:
        super().__init__(f"{label}: the same vCenter as {first} (same instance UUID)")
        self.first = first


def collect_source(  # noqa: PLR0913 - all but the target are keyword-only options
    target: Target,
    *,
    progress: Progress | None = None,
    perf: bool = True,
    page_size: int = 1000,
    keyed_extra_config: bool = True,
    claim: Claim | None = None,
    count_vms: bool = False,
) -> Snapshot:
    """Collect VMs, hosts and clusters from one vCenter or ESXi endpoint.

    Raises a :class:`~balloon_audit.errors.CollectionError` subclass (with a hint) when
    the endpoint cannot be audited. ``keyed_extra_config=False`` forces the fallback
    that reads the whole ``config.extraConfig`` (normally used only when the server
    refuses the keyed path ``config.extraConfig["sched.mem.maxmemctl"]``).
    ``claim`` lets a fleet audit each vCenter once: when another name has claimed this
    vCenter's instance UUID, :class:`DuplicateSourceError` is raised (after logging out).
    ``count_vms`` asks for the number of VMs first (one more request), so that progress
    says "N of M VMs"; captures are recorded and replayed without it.
    """
    report = progress or _quiet
    label = target.label
    started = time.monotonic()
    report(f"{label}: connecting")
    failure: CollectionError | None = None
    snapshot: Snapshot | None = None
    with open_session(target) as si:
        try:
            options = _Options(perf, page_size, keyed_extra_config, claim, count_vms)
            snapshot = _collect(si, target, report, options, started)
        except Exception as exc:  # noqa: BLE001 - translated outside the except block
            failure = translate_error(exc, target, phase="collect")
    if failure is not None:
        raise failure
    assert snapshot is not None
    return snapshot


def _collect(
    si: Any, target: Target, report: Progress, options: _Options, started: float
) -> Snapshot:
    label = target.label
    content = si.RetrieveContent()
    about = content.about
    if options.claim is not None and about.instanceUuid:
        first = options.claim(about.instanceUuid, label)
        if first is not None:
            raise DuplicateSourceError(label, first)
    report(f"{label}: connected to {about.fullName}")

    page_size = options.page_size
    unknown: Counter[str] = Counter()  # enum values newer than this pyVmomi, kept as text
    clusters, hosts, pools, host_refs = _collect_hosts(content, label, page_size, unknown)
    report(f"{label}: {len(hosts):,} hosts in {len(clusters):,} clusters")
    hosts = add_host_options(content, hosts, host_refs, label=label, progress=report)
    if options.perf:
        hosts = add_host_memory_state(content, hosts, host_refs, label=label, progress=report)
    hosts_by_moid = {h.moid: h for h in hosts}
    within = scoped.plan(content, target.scope, page_size) if target.scope else scoped.ScopePlan()
    options = dataclasses.replace(options, vm_roots=within.roots)

    try:
        vms, refs = _collect_vms_within(content, label, hosts_by_moid, options, report, unknown)
    except vmodl.query.InvalidProperty as fault:
        if not options.keyed_extra_config or not _rejects_keyed_path(fault):
            raise
        report(f"{label}: keyed extraConfig path refused; reading whole extraConfig instead")
        fallback = dataclasses.replace(options, keyed_extra_config=False)
        vms, refs = _collect_vms_within(content, label, hosts_by_moid, fallback, report, unknown)
    if target.scope:
        clusters, hosts, vms, pools, refs = _keep_in_scope(
            target.scope, within.skip, (clusters, hosts, vms, pools), refs
        )

    if options.perf:
        vms = add_swap_rates(content, vms, refs, label=label, progress=report)

    hint = None
    if not vms and not hosts:
        hint = "no VMs or hosts are visible to this account: " + _READ_ACCESS
    source = SourceInfo(
        server=label,
        status=SourceStatus.OK,
        api_version=about.apiVersion,
        api_type=about.apiType,
        product=about.fullName,
        instance_uuid=about.instanceUuid or None,
        hint=hint,
        vm_count=len(vms),
        host_count=len(hosts),
        duration_s=round(time.monotonic() - started, 3),
        unknown_values=tuple(f"{value} ({count})" for value, count in sorted(unknown.items())),
        scope=target.scope.describe() if target.scope else None,
    )
    report(f"{label}: done, {len(vms):,} VMs and {len(hosts):,} hosts in {source.duration_s:.1f}s")
    vms.sort(key=lambda vm: (vm.name, vm.moid))
    return Snapshot(
        sources=(source,),
        clusters=tuple(sorted(clusters, key=lambda c: (c.name, c.moid))),
        hosts=tuple(sorted(hosts, key=lambda h: (h.name, h.moid))),
        vms=tuple(vms),
        resource_pools=tuple(sorted(pools, key=lambda r: (r.name, r.moid))),
    )


_READ_ACCESS = (
    "check that its role (Read-only is enough) is granted on the vCenter root, propagated"
)


def _rejects_keyed_path(fault: Any) -> bool:
    """True when an InvalidProperty fault is about the keyed extraConfig path."""
    name = getattr(fault, "name", None) or ""
    return name.startswith(P.EXTRA_CONFIG) or not name


def _collect_hosts(
    content: Any, label: str, page_size: int, unknown: Counter[str]
) -> tuple[list[Cluster], list[Host], list[ResourcePool], dict[str, Any]]:
    """Clusters, hosts, resource pools below the root pools, and the hosts' references."""
    nodes: dict[str, Node] = {}
    host_rows: list[tuple[str, dict[str, Any]]] = []
    host_refs: dict[str, Any] = {}
    pool_rows: list[tuple[Any, dict[str, Any]]] = []
    specs = [(t, P.STRUCTURE_PATHS) for t in STRUCTURE_TYPES] + [
        (vim.HostSystem, P.HOST_PATHS),
        (vim.ResourcePool, P.POOL_PATHS),
    ]
    types = [*STRUCTURE_TYPES, vim.HostSystem, vim.ResourcePool]
    with container_view(content, types) as view:
        for page in retrieve_pages(content, filter_spec(view, specs), page_size, unknown):
            for ref, props in page:
                moid = ref._moId
                if isinstance(ref, vim.HostSystem):
                    host_rows.append((moid, props))
                    host_refs[moid] = ref
                    continue
                if isinstance(ref, vim.ResourcePool):
                    pool_rows.append((ref, props))
                    continue
                nodes[moid] = Node(
                    kind=_kind(ref),
                    name=str(props.get("name", moid)),
                    parent=P.moid_of(props.get("parent")),
                )

    def datacenter_of(moid: str | None) -> str | None:
        seen = 0
        while moid is not None and moid in nodes and seen < 64:
            node = nodes[moid]
            if node.kind == "Datacenter":
                return node.name
            moid = node.parent
            seen += 1
        return None

    def cluster_of(moid: str | None) -> str | None:
        node = nodes.get(moid) if moid else None
        return node.name if node is not None and node.kind == "Cluster" else None

    clusters = [
        Cluster(moid=moid, name=node.name, server=label, datacenter=datacenter_of(node.parent))
        for moid, node in nodes.items()
        if node.kind == "Cluster"
    ]
    hosts = []
    for moid, props in host_rows:
        parent_moid = P.moid_of(props.get("parent"))
        hosts.append(
            P.build_host(
                moid,
                props,
                server=label,
                datacenter=datacenter_of(parent_moid),
                cluster=cluster_of(parent_moid),
            )
        )
    return clusters, hosts, _pools(pool_rows, nodes, label, datacenter_of), host_refs


def _pools(
    rows: list[tuple[Any, dict[str, Any]]],
    nodes: Mapping[str, Node],
    label: str,
    datacenter_of: Callable[[str | None], str | None],
) -> list[ResourcePool]:
    """Pools and vApps below the root pools; a root pool's limit only mirrors capacity."""
    roots = {
        ref._moId
        for ref, props in rows
        if P.moid_of(props.get("parent")) in nodes
        and nodes[P.moid_of(props.get("parent")) or ""].kind in ("Cluster", "ComputeResource")
    }
    return [
        pool_from(ref, props, label, (nodes, roots), datacenter_of)
        for ref, props in rows
        if ref._moId not in roots
    ]


def pool_from(
    ref: Any,
    props: Mapping[str, Any],
    label: str,
    known: tuple[Mapping[str, Node], set[str]],
    datacenter_of: Callable[[str | None], str | None],
) -> ResourcePool:
    """A pool or vApp placed in its datacenter and cluster (``known``: structure nodes and
    the root pools, whose children count as top level)."""
    nodes, roots = known
    owner = P.moid_of(props.get(vs.POOL_OWNER.path))
    owner_node = nodes.get(owner) if owner else None
    parent = P.moid_of(props.get(vs.POOL_PARENT.path))
    return P.build_pool(
        ref._moId,
        props,
        server=label,
        place={
            "datacenter": datacenter_of(owner),
            "cluster": owner_node.name if owner_node is not None else None,
            "parent_moid": None if parent in roots else parent,
            "is_vapp": isinstance(ref, vim.VirtualApp),
        },
    )


def _kind(ref: Any) -> str:
    if isinstance(ref, vim.ClusterComputeResource):
        return "Cluster"
    if isinstance(ref, vim.ComputeResource):
        return "ComputeResource"
    if isinstance(ref, vim.Datacenter):
        return "Datacenter"
    return "Folder"


def _keep_in_scope(
    scope: Any, skip: set[str], found: tuple[list, list, list, list], refs: dict[str, Any]
) -> tuple[list[Cluster], list[Host], list[VM], list[ResourcePool], dict[str, Any]]:
    """Clusters, hosts, VMs, pools and swap-rate references inside ``scope``."""
    clusters, hosts, vms, pools = found
    kept = scoped.apply(
        Snapshot(
            clusters=tuple(clusters),
            hosts=tuple(hosts),
            vms=tuple(vms),
            resource_pools=tuple(pools),
        ),
        scope,
        skip,
    )
    moids = {vm.moid for vm in kept.vms}
    return (
        list(kept.clusters),
        list(kept.hosts),
        list(kept.vms),
        list(kept.resource_pools),
        {moid: ref for moid, ref in refs.items() if moid in moids},
    )


def _collect_vms_within(
    content: Any,
    label: str,
    hosts: Mapping[str, Host],
    options: _Options,
    report: Progress,
    unknown: Counter[str],
) -> tuple[list[VM], dict[str, Any]]:
    """:func:`_collect_vms` under each root of a scope (``options.vm_roots``), each VM once."""
    roots = options.vm_roots
    if roots is None:
        return _collect_vms(content, label, hosts, options, report, unknown)
    vms: dict[str, VM] = {}
    refs: dict[str, Any] = {}
    for root in roots:
        under = dataclasses.replace(options, vm_root=root)
        found, found_refs = _collect_vms(content, label, hosts, under, report, unknown)
        vms.update((vm.moid, vm) for vm in found)
        refs.update(found_refs)
    return list(vms.values()), refs


def _collect_vms(
    content: Any,
    label: str,
    hosts: Mapping[str, Host],
    options: _Options,
    report: Progress,
    unknown: Counter[str],
) -> tuple[list[VM], dict[str, Any]]:
    """All VMs and templates (under ``options.vm_root``, default everywhere); also the
    references of swapping VMs (for perf queries)."""
    vms: list[VM] = []
    refs: dict[str, Any] = {}
    paths = P.vm_paths(options.keyed_extra_config)
    with container_view(content, [vim.VirtualMachine], root=options.vm_root) as view:
        total = count_view(content, view) if options.count_vms else None
        of_total = f" of {total:,}" if total is not None else ""
        if total is not None:
            report(f"{label}: 0{of_total} VMs collected")
        spec = filter_spec(view, [(vim.VirtualMachine, paths)])
        for page in retrieve_pages(content, spec, options.page_size, unknown):
            for ref, props in page:
                host_moid = P.moid_of(props.get(P.HOST_REF))
                vm = P.build_vm(
                    ref._moId, props, server=label, host=hosts.get(host_moid) if host_moid else None
                )
                vms.append(vm)
                if needs_swap_rates(vm):
                    refs[vm.moid] = ref
            report(f"{label}: {len(vms):,}{of_total} VMs collected")
    return vms, refs
