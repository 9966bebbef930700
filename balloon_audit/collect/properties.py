"""Which properties are collected, and how raw property values become model objects.

Pure functions of ``{property path: value}`` dictionaries, so they can be tested
without a server. Units are normalised here: bytes and KB become MB, a memory
limit of -1 becomes ``None`` (unlimited).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from balloon_audit.model import VM, Host, ResourcePool

MAXMEMCTL_KEY = "sched.mem.maxmemctl"
EXTRA_CONFIG = "config.extraConfig"
MAXMEMCTL_PATH = f'{EXTRA_CONFIG}["{MAXMEMCTL_KEY}"]'
"""Keyed path: the server sends one OptionValue instead of the whole extraConfig list."""

QS = "summary.quickStats."
BALLOONED = QS + "balloonedMemory"
SWAPPED = QS + "swappedMemory"
COMPRESSED = QS + "compressedMemory"
HOST_MEMORY_USAGE = QS + "hostMemoryUsage"
GUEST_MEMORY_USAGE = QS + "guestMemoryUsage"
UPTIME = QS + "uptimeSeconds"
SSD_SWAPPED = QS + "ssdSwappedMemory"
OVERHEAD = QS + "consumedOverheadMemory"
RUNTIME_COUNTERS = (
    HOST_MEMORY_USAGE,
    GUEST_MEMORY_USAGE,
    UPTIME,
    BALLOONED,
    SWAPPED,
    COMPRESSED,
)
"""quickStats counters; at least one non-zero means the VM has runtime data."""

VM_PATHS = (
    "name",
    "config.template",
    "config.guestId",
    "config.guestFullName",
    "config.annotation",
    "config.hardware.memoryMB",
    "config.memoryAllocation.limit",
    "config.memoryAllocation.reservation",
    "config.memoryReservationLockedToMax",
    "guest.toolsVersionStatus2",
    "guest.toolsVersionStatus",
    "guest.toolsStatus",
    "guest.toolsRunningStatus",
    "guest.toolsVersion",
    "guest.guestFamily",
    "config.latencySensitivity.level",
    "resourcePool",
    "runtime.powerState",
    "runtime.host",
    *RUNTIME_COUNTERS,
    SSD_SWAPPED,
    OVERHEAD,
)
"""Leaf paths only: whole ``summary``/``config`` objects cost far more to parse."""


def vm_paths(keyed_extra_config: bool = True) -> list[str]:
    """VM property paths; ``keyed_extra_config=False`` fetches the whole extraConfig list."""
    return [*VM_PATHS, MAXMEMCTL_PATH if keyed_extra_config else EXTRA_CONFIG]


HOST_PATHS = (
    "name",
    "parent",
    "runtime.connectionState",
    "runtime.powerState",
    "runtime.inMaintenanceMode",
    "hardware.memorySize",
    "summary.quickStats.overallMemoryUsage",
    "summary.config.product.version",
)

STRUCTURE_PATHS = ("name", "parent")
"""For Datacenter, Folder, ComputeResource and ClusterComputeResource."""

POOL_PATHS = (
    "name",
    "parent",
    "owner",
    "config.memoryAllocation.limit",
    "config.memoryAllocation.reservation",
    "config.memoryAllocation.expandableReservation",
    "summary.quickStats.balloonedMemory",
    "summary.quickStats.swappedMemory",
)
"""For ResourcePool and VirtualApp (read in the structure pass)."""

CTL_MAX_PCT_KEY = "Mem.CtlMaxPercent"
MIN_FREE_PCT_KEY = "Mem.MemMinFreePct"
HOST_OPTION_KEYS = (CTL_MAX_PCT_KEY, MIN_FREE_PCT_KEY)
HOST_OPTION = "config.option"


def host_option_path(key: str) -> str:
    """Keyed path: the server sends one OptionValue instead of the host's ~1,000 options."""
    return f'{HOST_OPTION}["{key}"]'


BYTES_PER_MB = 1024 * 1024
KB_PER_MB = 1024


def parse_maxmemctl(value: Any) -> str | None:
    """The ``sched.mem.maxmemctl`` value from either form the server may send.

    ``value`` is the answer to the keyed path (one OptionValue, or nothing when the
    key is not set) or, in fallback mode, the whole ``config.extraConfig`` list.
    """
    if value is None:
        return None
    options: Iterable[Any] = value if isinstance(value, (list, tuple)) else [value]
    for option in options:
        if getattr(option, "key", None) == MAXMEMCTL_KEY:
            raw = getattr(option, "value", None)
            return None if raw is None else str(raw)
    return None


def parse_int_option(value: Any) -> int | None:
    """An integer advanced option from an OptionValue (or its bare value); ``None`` if not one."""
    raw = getattr(value, "value", value)
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


def bytes_to_mb(value: int | None) -> float | None:
    return None if value is None else value / BYTES_PER_MB


def kb_to_mb(value: int | None) -> float | None:
    return None if value is None else value / KB_PER_MB


def normalise_limit(value: int | None) -> int | None:
    """Memory limit in MB; -1 (and any negative value) means unlimited → ``None``."""
    return None if value is None or value < 0 else int(value)


def moid_of(ref: Any) -> str | None:
    """Managed object ID of a reference (``vm-42``), ``None`` for an unset reference."""
    return None if ref is None else ref._moId


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text else None


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
    power_state = _opt_str(props.get("runtime.powerState"))
    host_state = host.connection_state if host else None
    runtime_data = has_runtime_data(props)
    available = power_state == "poweredOn" and host_state == "connected" and runtime_data

    def counter(path: str) -> Any:
        value = props.get(path)
        if value == 0 and not runtime_data:
            return None
        return value

    compressed = counter(COMPRESSED)
    ssd_swapped = counter(SSD_SWAPPED)
    maxmemctl_raw = props.get(MAXMEMCTL_PATH, props.get(EXTRA_CONFIG))
    return VM(
        moid=moid,
        name=str(props.get("name") or moid),
        server=server,
        datacenter=host.datacenter if host else None,
        cluster=host.cluster if host else None,
        host=host.name if host else None,
        host_moid=moid_of(props.get("runtime.host")),
        power_state=power_state,
        is_template=bool(props.get("config.template")),
        guest_id=_opt_str(props.get("config.guestId")),
        guest_full_name=_opt_str(props.get("config.guestFullName")),
        guest_family=_opt_str(props.get("guest.guestFamily")),
        annotation=_opt_str(props.get("config.annotation")),
        memory_mb=_opt_int(props.get("config.hardware.memoryMB")),
        memory_limit_mb=normalise_limit(props.get("config.memoryAllocation.limit")),
        memory_reservation_mb=_opt_int(props.get("config.memoryAllocation.reservation")),
        reservation_locked_to_max=props.get("config.memoryReservationLockedToMax"),
        latency_sensitivity=_opt_str(props.get("config.latencySensitivity.level")),
        resource_pool_moid=moid_of(props.get("resourcePool")),
        tools_version_status2=_opt_str(props.get("guest.toolsVersionStatus2")),
        tools_version_status=_opt_str(props.get("guest.toolsVersionStatus")),
        tools_status=_opt_str(props.get("guest.toolsStatus")),
        tools_running_status=_opt_str(props.get("guest.toolsRunningStatus")),
        tools_version=_opt_str(props.get("guest.toolsVersion")),
        maxmemctl=parse_maxmemctl(maxmemctl_raw),
        quickstats_available=available,
        ballooned_mb=_opt_int(counter(BALLOONED)),
        swapped_mb=_opt_int(counter(SWAPPED)),
        compressed_mb=kb_to_mb(_opt_int(compressed)),
        ssd_swapped_mb=kb_to_mb(_opt_int(ssd_swapped)),
        overhead_mb=_opt_int(counter(OVERHEAD)),
        host_memory_usage_mb=_opt_int(counter(HOST_MEMORY_USAGE)),
        guest_memory_usage_mb=_opt_int(counter(GUEST_MEMORY_USAGE)),
        host_connection_state=host_state,
    )


def build_host(
    moid: str,
    props: Mapping[str, Any],
    *,
    server: str,
    datacenter: str | None,
    cluster: str | None,
) -> Host:
    in_maintenance = props.get("runtime.inMaintenanceMode")
    return Host(
        moid=moid,
        name=str(props.get("name") or moid),
        server=server,
        datacenter=datacenter,
        cluster=cluster,
        connection_state=_opt_str(props.get("runtime.connectionState")),
        power_state=_opt_str(props.get("runtime.powerState")),
        in_maintenance_mode=None if in_maintenance is None else bool(in_maintenance),
        memory_size_mb=bytes_to_mb(props.get("hardware.memorySize")),
        memory_usage_mb=_opt_int(props.get("summary.quickStats.overallMemoryUsage")),
        product_version=_opt_str(props.get("summary.config.product.version")),
    )


def build_pool(
    moid: str,
    props: Mapping[str, Any],
    *,
    server: str,
    datacenter: str | None,
    cluster: str | None,
    parent_pool: str | None,
    is_vapp: bool,
) -> ResourcePool:
    """A resource pool (or vApp); ``parent_pool`` is ``None`` when its parent is a root pool."""
    expandable = props.get("config.memoryAllocation.expandableReservation")
    return ResourcePool(
        moid=moid,
        name=str(props.get("name") or moid),
        server=server,
        datacenter=datacenter,
        cluster=cluster,
        parent_moid=parent_pool,
        is_vapp=is_vapp,
        memory_limit_mb=normalise_limit(props.get("config.memoryAllocation.limit")),
        memory_reservation_mb=_opt_int(props.get("config.memoryAllocation.reservation")),
        expandable_reservation=None if expandable is None else bool(expandable),
        ballooned_mb=_opt_int(props.get("summary.quickStats.balloonedMemory")),
        swapped_mb=_opt_int(props.get("summary.quickStats.swappedMemory")),
    )
