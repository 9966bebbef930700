"""Which properties are collected, and how raw property values become model objects.

Both are derived from the declared table in :mod:`balloon_audit.vsphere`: the
path lists are its collected paths in table order, and the builders apply each
entry's parser (units are normalised there: bytes and KB become MB, a memory
limit of -1 becomes ``None``). Pure functions of ``{property path: value}``
dictionaries, so they can be tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from balloon_audit import vsphere as vs
from balloon_audit.model import VM, Host, ResourcePool

MAXMEMCTL_KEY = vs.MAXMEMCTL_KEY
EXTRA_CONFIG = vs.EXTRA_CONFIG
MAXMEMCTL_PATH = vs.VM_MAXMEMCTL.path

BALLOONED = vs.VM_BALLOONED.path
SWAPPED = vs.VM_SWAPPED.path
COMPRESSED = vs.VM_COMPRESSED.path
HOST_MEMORY_USAGE = vs.VM_HOST_MEMORY_USAGE.path
HOST_REF = vs.VM_HOST.path

_VM_COUNTERS = tuple(p for p in vs.VM_PROPS if p.runtime_counter)
RUNTIME_COUNTERS = tuple(p.path for p in _VM_COUNTERS)
"""quickStats counters; at least one non-zero means the VM has runtime data."""

VM_PATHS = tuple(p for p in vs.collected_paths(vs.VM_PROPS) if p != MAXMEMCTL_PATH)
"""Leaf paths only: whole ``summary``/``config`` objects cost far more to parse."""

HOST_PATHS = vs.collected_paths(vs.HOST_PROPS)
HOST_OPTION_PATHS = vs.collected_paths(vs.HOST_OPTION_PROPS)
"""Keyed paths into the host's advanced options, read in their own pass."""
POOL_PATHS = vs.collected_paths(vs.POOL_PROPS)
"""For ResourcePool and VirtualApp (read in the structure pass)."""
STRUCTURE_PATHS = vs.collected_paths(vs.STRUCTURE_PROPS)
"""For Datacenter, Folder, ComputeResource and ClusterComputeResource."""

BYTES_PER_MB = vs.BYTES_PER_MB
KB_PER_MB = vs.KB_PER_MB

parse_maxmemctl = vs.maxmemctl_value
bytes_to_mb = vs.bytes_to_mb
kb_to_mb = vs.kb_to_mb
normalise_limit = vs.limit_mb
moid_of = vs.moid_of

_VM_PLAIN: tuple[tuple[str, vs.Prop], ...] = tuple(
    (p.field, p)
    for p in vs.VM_PROPS
    if p.source == vs.COLLECTED and p.field is not None and p is not vs.VM_MAXMEMCTL
)
"""(model field, property) of the VM properties whose value is ``parse(collected value)``."""
_HOST_PLAIN: tuple[tuple[str, vs.Prop], ...] = tuple(
    (p.field, p) for p in vs.HOST_PROPS if p.source == vs.COLLECTED and p.field is not None
)
_POOL_PLAIN: tuple[tuple[str, vs.Prop], ...] = tuple(
    (p.field, p) for p in vs.POOL_PROPS if p.source == vs.COLLECTED and p.field is not None
)


def vm_paths(keyed_extra_config: bool = True) -> list[str]:
    """VM property paths; ``keyed_extra_config=False`` fetches the whole extraConfig list."""
    return [*VM_PATHS, MAXMEMCTL_PATH if keyed_extra_config else EXTRA_CONFIG]


def has_runtime_data(props: Mapping[str, Any]) -> bool:
    """True when at least one quickStats counter came back non-zero.

    A running VM always consumes memory and has an uptime, so all-zero (or absent)
    counters mean the server has no runtime data for it (vcsim's default VMs, VMs on
    hosts that stopped reporting).
    """
    return any(props.get(path) for path in RUNTIME_COUNTERS)


def build_vm(
    moid: str,
    props: Mapping[str, Any],
    *,
    server: str,
    host: Host | None,
) -> VM:
    """A VM from its collected properties and the host it runs on (joined by the caller).

    Counters that came back as 0 from a VM without runtime data are stored as ``None``:
    such a zero carries no information.
    """
    runtime_data = has_runtime_data(props)
    values: dict[str, Any] = {}
    for field, prop in _VM_PLAIN:
        raw = props.get(prop.path)
        if prop.runtime_counter and raw == 0 and not runtime_data:
            raw = None
        values[field] = prop.parse(raw)
    values["name"] = str(props.get(vs.VM_NAME.path) or moid)
    values["maxmemctl"] = vs.VM_MAXMEMCTL.parse(props.get(MAXMEMCTL_PATH, props.get(EXTRA_CONFIG)))
    host_state = host.connection_state if host else None
    values["quickstats_available"] = (
        values["power_state"] == "poweredOn" and host_state == "connected" and runtime_data
    )
    values["host_connection_state"] = host_state
    return VM(
        moid=moid,
        server=server,
        datacenter=host.datacenter if host else None,
        cluster=host.cluster if host else None,
        host=host.name if host else None,
        **values,
    )


def build_host(
    moid: str,
    props: Mapping[str, Any],
    *,
    server: str,
    datacenter: str | None,
    cluster: str | None,
) -> Host:
    """A host from its collected properties and its place in the inventory."""
    values: dict[str, Any] = {field: p.parse(props.get(p.path)) for field, p in _HOST_PLAIN}
    values["name"] = str(props.get(vs.HOST_NAME.path) or moid)
    return Host(moid=moid, server=server, datacenter=datacenter, cluster=cluster, **values)


def build_pool(
    moid: str, props: Mapping[str, Any], *, server: str, place: Mapping[str, Any]
) -> ResourcePool:
    """A resource pool (or vApp) from its properties and its ``place`` in the inventory.

    ``place`` gives ``datacenter``, ``cluster``, ``parent_moid`` (``None`` when the parent
    is a root pool) and ``is_vapp``.
    """
    values: dict[str, Any] = {field: p.parse(props.get(p.path)) for field, p in _POOL_PLAIN}
    values["name"] = str(props.get(vs.POOL_NAME.path) or moid)
    return ResourcePool(moid=moid, server=server, **place, **values)
