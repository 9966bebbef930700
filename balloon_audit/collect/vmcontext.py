"""Read one VM (or a few) and its surroundings, without collecting the fleet.

vSphere's PropertyCollector cannot filter by value, and ``SearchIndex`` finds a VM by
DNS name, IP, UUID or inventory path but not by display name, so finding a VM costs
one paged pass that reads **only** ``name`` over a container view of the VMs (about
60 bytes per VM). Then, for the matched VMs:

1. one ``RetrievePropertiesEx`` for the VMs' properties, traversing ``resourcePool``
   and ``parent`` upwards: every enclosing resource pool (limits, reservations), the
   cluster and the datacenter;
2. one for their hosts (properties and the advanced options ``Mem.CtlMaxPercent`` /
   ``Mem.MemMinFreePct`` by keyed path) and the **neighbours** the diagnosis needs:
   the other VMs on the same host and in the subtree of the outermost limited pool,
   with only :data:`NEIGHBOUR_PROPS` (power state, configured memory, overhead,
   ballooned / swapped, pool, host): host overcommit (BA503) and pool limits (BA403)
   are sums over them. No other VM is read.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pyVmomi import vim, vmodl

from balloon_audit import vsphere as vs
from balloon_audit.collect import properties as P
from balloon_audit.collect.connection import open_session, translate_error
from balloon_audit.collect.retrieve import container_view, filter_spec, retrieve_pages
from balloon_audit.collect.source import Node, _kind, pool_from
from balloon_audit.collect.target import Target
from balloon_audit.errors import BalloonAuditError, CollectionError
from balloon_audit.model import VM, Cluster, Host, Snapshot, SourceInfo, SourceStatus
from balloon_audit.vmmatch import Named, select

PC = vmodl.query.PropertyCollector

NEIGHBOUR_PROPS: tuple[vs.Prop, ...] = (
    vs.VM_NAME,
    vs.VM_TEMPLATE,
    vs.VM_MEMORY,
    vs.VM_POOL,
    vs.VM_POWER_STATE,
    vs.VM_HOST,
    vs.VM_HOST_MEMORY_USAGE,
    vs.VM_UPTIME,
    vs.VM_BALLOONED,
    vs.VM_SWAPPED,
    vs.VM_OVERHEAD,
)
"""What is read from the other VMs on the host and in a limited pool: the terms of the
host's overcommit ratio (BA503), of a pool limit's sum (BA403) and of the host's
reclamation totals (BA203, BA502). Never their guest, Tools or configuration details."""
NEIGHBOUR_PATHS = vs.collected_paths(NEIGHBOUR_PROPS)
HOST_OPTION_PATHS = vs.collected_paths(vs.HOST_OPTION_PROPS)
STRUCTURE_TYPES = (vim.Datacenter, vim.Folder, vim.ComputeResource, vim.ClusterComputeResource)
PAGE_SIZE = 1000


@dataclass
class VmCollection:
    """What one read of the matched VMs gave: a small snapshot and the references
    the live counters are asked for."""

    snapshot: Snapshot
    targets: tuple[str, ...]
    """Moids of the matched VMs (the snapshot also holds their neighbours)."""
    vm_refs: dict[str, Any] = field(default_factory=dict)
    host_refs: dict[str, Any] = field(default_factory=dict)
    names_read: int = 0
    """How many VM names the lookup read (every VM's name, nothing else)."""
    notes: list[str] = field(default_factory=list)


class VmSession:
    """A logged-in session that finds VMs by name and reads them, as often as asked."""

    def __init__(self, si: Any, target: Target) -> None:
        self.si = si
        self.target = target
        self.content = si.RetrieveContent()
        self.names_read = 0

    def server_time(self) -> datetime:
        """The server's clock (the live counters' window is measured on it)."""
        now = self.si.CurrentTime()
        return now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)

    def find(self, pattern: str, limit: int) -> list[Named[Any]]:
        """The VMs ``pattern`` matches (ConfigError, exit 2, for none or too many)."""
        named = vm_names(self.content)
        self.names_read = len(named)
        return select(pattern, named, where=self.target.label, limit=limit)

    def read(self, found: Sequence[Named[Any]]) -> VmCollection:
        """The matched VMs with their hosts, clusters, pools and neighbours (two requests)."""
        started = time.monotonic()
        refs = {named.ref._moId: named.ref for named in found}
        notes: list[str] = []
        vm_rows, nodes, pool_rows = _read_vms(self.content, list(refs.values()))
        host_refs = {
            ref._moId: ref
            for props in vm_rows.values()
            if (ref := props.get(P.HOST_REF)) is not None
        }
        limited = _outermost_limited(vm_rows, pool_rows, nodes)
        host_rows, neighbours = _read_surroundings(
            self.content, list(host_refs.values()), limited, nodes, pool_rows, notes
        )
        snapshot = _snapshot(self.target.label, (vm_rows, neighbours), host_rows, nodes, pool_rows)
        about = self.content.about
        source = SourceInfo(
            server=self.target.label,
            status=SourceStatus.OK,
            api_version=about.apiVersion,
            api_type=about.apiType,
            product=about.fullName,
            instance_uuid=about.instanceUuid or None,
            vm_count=len(snapshot.vms),
            host_count=len(snapshot.hosts),
            duration_s=round(time.monotonic() - started, 3),
        )
        return VmCollection(
            snapshot=dataclasses.replace(snapshot, sources=(source,)),
            targets=tuple(refs),  # in the order of the matches: by name
            vm_refs=refs,
            host_refs=host_refs,
            names_read=self.names_read,
            notes=notes,
        )


@contextmanager
def vm_session(target: Target) -> Iterator[VmSession]:
    """Log in to ``target`` (logging out on the way out); errors become project errors.

    A :class:`~balloon_audit.errors.BalloonAuditError` raised inside (no match: exit 2)
    passes through unchanged.
    """
    failure: CollectionError | None = None
    with open_session(target) as si:
        try:
            yield VmSession(si, target)
        except BalloonAuditError:
            raise
        except Exception as exc:  # noqa: BLE001 - translated outside the except block
            failure = translate_error(exc, target, phase="collect")
    if failure is not None:
        raise failure


def vm_names(content: Any) -> list[Named[Any]]:
    """Every VM's (and template's) name with its reference: one paged pass, ``name`` only."""
    named: list[Named[Any]] = []
    with container_view(content, [vim.VirtualMachine]) as view:
        spec = filter_spec(view, [(vim.VirtualMachine, [vs.VM_NAME.path])])
        for page in retrieve_pages(content, spec, PAGE_SIZE, Counter()):
            named.extend(Named(str(props.get("name") or ref._moId), ref) for ref, props in page)
    return named


def _select(name: str, kind: type, path: str, *more: str) -> Any:
    return PC.TraversalSpec(
        name=name,
        type=kind,
        path=path,
        skip=False,
        selectSet=[PC.SelectionSpec(name=n) for n in more],
    )


def _upwards() -> list[Any]:
    """Traversals from a pool or a compute resource up to the root folder."""
    return [
        _select("poolParent", vim.ResourcePool, "parent", "poolParent", "crParent"),
        _select("crParent", vim.ComputeResource, "parent", "folderParent"),
        _select("folderParent", vim.Folder, "parent", "folderParent", "dcParent"),
        _select("dcParent", vim.Datacenter, "parent", "folderParent"),
    ]


def _prop_specs(vm_paths: Sequence[str], host_paths: Sequence[str] = ()) -> list[Any]:
    specs = [PC.PropertySpec(type=vim.VirtualMachine, pathSet=list(vm_paths))]
    specs += [PC.PropertySpec(type=t, pathSet=list(P.STRUCTURE_PATHS)) for t in STRUCTURE_TYPES]
    specs.append(PC.PropertySpec(type=vim.ResourcePool, pathSet=list(P.POOL_PATHS)))
    if host_paths:
        specs.append(PC.PropertySpec(type=vim.HostSystem, pathSet=list(host_paths)))
    return specs


def _retrieve(content: Any, objects: list[Any], props: list[Any]) -> Iterator[tuple[Any, dict]]:
    spec = PC.FilterSpec(objectSet=objects, propSet=props)
    for page in retrieve_pages(content, spec, PAGE_SIZE, Counter()):
        yield from page


def _read_vms(
    content: Any, refs: list[Any]
) -> tuple[dict[str, dict], dict[str, Node], dict[str, tuple[Any, dict]]]:
    """The VMs' properties, and every pool, cluster, folder and datacenter above them."""
    walk = [_select("vmPool", vim.VirtualMachine, "resourcePool", "poolParent"), *_upwards()]
    objects = [PC.ObjectSpec(obj=ref, skip=False, selectSet=walk) for ref in refs]
    try:
        rows = list(_retrieve(content, objects, _prop_specs(P.vm_paths(True))))
    except vmodl.query.InvalidProperty as fault:
        if not (getattr(fault, "name", None) or "").startswith(P.EXTRA_CONFIG):
            raise
        rows = list(_retrieve(content, objects, _prop_specs(P.vm_paths(False))))
    vms: dict[str, dict] = {}
    nodes: dict[str, Node] = {}
    pools: dict[str, tuple[Any, dict]] = {}
    _sort_rows(rows, vms, nodes, pools)
    return vms, nodes, pools


def _sort_rows(
    rows: Sequence[tuple[Any, dict]],
    vms: dict[str, dict],
    nodes: dict[str, Node],
    pools: dict[str, tuple[Any, dict]],
    hosts: dict[str, dict] | None = None,
) -> None:
    for ref, props in rows:
        moid = ref._moId
        if isinstance(ref, vim.VirtualMachine):
            vms.setdefault(moid, props)
        elif isinstance(ref, vim.ResourcePool):
            pools[moid] = (ref, props)
        elif isinstance(ref, vim.HostSystem):
            if hosts is not None:
                hosts[moid] = props
        else:
            parent = P.moid_of(props.get("parent"))
            nodes[moid] = Node(_kind(ref), str(props.get("name", moid)), parent)


def _is_root(props: Mapping[str, Any], nodes: Mapping[str, Node]) -> bool:
    """A root pool (its parent is the cluster): its limit only mirrors the capacity."""
    parent = P.moid_of(props.get("parent"))
    return parent is not None and parent in nodes


def _outermost_limited(
    vms: Mapping[str, dict], pools: Mapping[str, tuple[Any, dict]], nodes: Mapping[str, Node]
) -> list[Any]:
    """For each VM, the outermost enclosing pool with a memory limit (BA403 sums its subtree)."""
    found: dict[str, Any] = {}
    for props in vms.values():
        moid = P.moid_of(props.get(vs.VM_POOL.path))
        outermost = None
        for _ in range(64):
            if moid is None or moid not in pools:
                break
            ref, pool_props = pools[moid]
            if _is_root(pool_props, nodes):
                break
            if vs.POOL_LIMIT.parse(pool_props.get(vs.POOL_LIMIT.path)) is not None:
                outermost = ref
            moid = P.moid_of(pool_props.get("parent"))
        if outermost is not None:
            found[outermost._moId] = outermost
    return list(found.values())


def _read_surroundings(
    content: Any,
    hosts: list[Any],
    limited_pools: list[Any],
    nodes: dict[str, Node],
    pools: dict[str, tuple[Any, dict]],
    notes: list[str],
) -> tuple[dict[str, dict], dict[str, dict]]:
    """The hosts (with advanced options) and the neighbour VMs, in one request."""
    walk = [
        _select("hostVms", vim.HostSystem, "vm"),
        _select("hostParent", vim.HostSystem, "parent", "crParent"),
        _select("poolVms", vim.ResourcePool, "vm"),
        _select("poolChildren", vim.ResourcePool, "resourcePool", "poolChildren", "poolVms"),
        *_upwards(),
    ]
    # Each traversal applies only to objects of its type, so every object gets them all.
    objects = [PC.ObjectSpec(obj=ref, skip=False, selectSet=walk) for ref in hosts + limited_pools]
    if not objects:
        return {}, {}
    host_paths = [*P.HOST_PATHS, *HOST_OPTION_PATHS]
    try:
        rows = list(_retrieve(content, objects, _prop_specs(NEIGHBOUR_PATHS, host_paths)))
    except vmodl.query.InvalidProperty:
        notes.append("the server refused keyed paths for host advanced options: asked each host")
        rows = list(_retrieve(content, objects, _prop_specs(NEIGHBOUR_PATHS, P.HOST_PATHS)))
        _query_options(rows, notes)
    host_rows: dict[str, dict] = {}
    neighbours: dict[str, dict] = {}
    _sort_rows(rows, neighbours, nodes, pools, host_rows)
    return host_rows, neighbours


def _query_options(rows: Sequence[tuple[Any, dict]], notes: list[str]) -> None:
    """Fallback: ``QueryOptions`` on each host (a few hosts at most); best effort."""
    for ref, props in rows:
        if not isinstance(ref, vim.HostSystem):
            continue
        manager: Any = ref.configManager.advancedOption
        for prop in vs.HOST_OPTION_PROPS:
            key = prop.path.split('"')[1]
            try:
                for option in manager.QueryOptions(name=key) or ():
                    props[prop.path] = option
            except Exception as exc:  # noqa: BLE001 - the rules assume the default and say so
                name = props.get("name", ref._moId)
                notes.append(f"{key} of host {name} unknown ({type(exc).__name__})")


def _snapshot(
    label: str,
    vm_rows: tuple[Mapping[str, dict], Mapping[str, dict]],
    host_rows: Mapping[str, dict],
    nodes: Mapping[str, Node],
    pool_rows: Mapping[str, tuple[Any, dict]],
) -> Snapshot:
    def datacenter_of(moid: str | None) -> str | None:
        for _ in range(64):
            node = nodes.get(moid) if moid else None
            if node is None:
                return None
            if node.kind == "Datacenter":
                return node.name
            moid = node.parent
        return None

    def cluster_of(moid: str | None) -> str | None:
        node = nodes.get(moid) if moid else None
        return node.name if node is not None and node.kind == "Cluster" else None

    hosts = {
        moid: _host(moid, props, label, datacenter_of, cluster_of)
        for moid, props in host_rows.items()
    }
    targets, neighbours = vm_rows
    vms: dict[str, VM] = {}
    for rows in (targets, neighbours):
        for moid, props in rows.items():
            if moid not in vms:
                host_moid = P.moid_of(props.get(P.HOST_REF))
                host = hosts.get(host_moid) if host_moid else None
                vms[moid] = P.build_vm(moid, props, server=label, host=host)
    clusters = [
        Cluster(moid=moid, name=node.name, server=label, datacenter=datacenter_of(node.parent))
        for moid, node in nodes.items()
        if node.kind == "Cluster"
    ]
    roots = {moid for moid, (_, props) in pool_rows.items() if _is_root(props, nodes)}
    pools = [
        pool_from(ref, props, label, (nodes, roots), datacenter_of)
        for moid, (ref, props) in pool_rows.items()
        if moid not in roots
    ]
    return Snapshot(
        clusters=tuple(sorted(clusters, key=lambda c: (c.name, c.moid))),
        hosts=tuple(sorted(hosts.values(), key=lambda h: (h.name, h.moid))),
        vms=tuple(sorted(vms.values(), key=lambda vm: (vm.name, vm.moid))),
        resource_pools=tuple(sorted(pools, key=lambda r: (r.name, r.moid))),
    )


def _host(
    moid: str, props: Mapping[str, Any], label: str, datacenter_of: Any, cluster_of: Any
) -> Host:
    parent = P.moid_of(props.get(vs.HOST_PARENT.path))
    host = P.build_host(
        moid, props, server=label, datacenter=datacenter_of(parent), cluster=cluster_of(parent)
    )
    options = {
        str(prop.field): prop.parse(props[prop.path])
        for prop in vs.HOST_OPTION_PROPS
        if props.get(prop.path) is not None
    }
    return dataclasses.replace(host, **options) if options else host
