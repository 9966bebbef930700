"""The vSphere properties the audit reads: one declared table, free of pyVmomi.

Each :class:`Prop` ties a model field (:mod:`balloon_audit.model`) to the vSphere
API path it comes from, the unit on the wire and in the model, and the label
reports show. Everything else is derived from this table:

- ``collect/properties.py`` builds the PropertyCollector path lists and turns
  collected values into model objects with the parsers named here;
- rules key their evidence by :attr:`Prop.key` and declare the properties they
  read in ``RuleMeta.reads``;
- ``docs/rules.md`` prints, per rule, "reads: <path> (unit), shown as column <label>";
- the HTML and XLSX inventory tables take their headers from :attr:`Prop.label`.

Importing this module never loads pyVmomi: parsers only read attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

VIRTUAL_MACHINE = "VirtualMachine"
HOST_SYSTEM = "HostSystem"
RESOURCE_POOL = "ResourcePool"
"""Resource pools and vApps (a VirtualApp is a ResourcePool)."""
MANAGED_ENTITY = "ManagedEntity"
"""Datacenters, folders, compute resources and clusters: only their name and parent are read."""

COLLECTED = "property"
"""Read with the PropertyCollector under :attr:`Prop.path`."""
JOINED = "joined"
"""Not read from this object: computed at collection time (see :attr:`Prop.note`)."""
PERF = "perf"
"""A realtime performance counter, read with the PerformanceManager."""

BYTES_PER_MB = 1024 * 1024
KB_PER_MB = 1024

MAXMEMCTL_KEY = "sched.mem.maxmemctl"
EXTRA_CONFIG = "config.extraConfig"
HOST_OPTION = "config.option"
"""HostConfigInfo.option: the host's advanced options (read with keyed paths)."""
CTL_MAX_PCT_KEY = "Mem.CtlMaxPercent"
MIN_FREE_PCT_KEY = "Mem.MemMinFreePct"


# ------------------------------------------------------------------ parsers
# Pure functions from the value the server sent to the model's value.


def text(value: Any) -> str | None:
    """A string; ``None`` for unset or empty."""
    if value is None:
        return None
    result = str(value)
    return result if result else None


def integer(value: Any) -> int | None:
    return None if value is None else int(value)


def flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def is_set(value: Any) -> bool:
    """``config.template``: unset means not a template."""
    return bool(value)


def bytes_to_mb(value: int | None) -> float | None:
    return None if value is None else value / BYTES_PER_MB


def kb_to_mb(value: int | None) -> float | None:
    return None if value is None else value / KB_PER_MB


def kb_int_to_mb(value: Any) -> float | None:
    """A KB counter (sent as an integer) in MB."""
    return kb_to_mb(integer(value))


def limit_mb(value: int | None) -> int | None:
    """Memory limit in MB; -1 (and any negative value) means unlimited → ``None``."""
    return None if value is None or value < 0 else int(value)


def moid_of(ref: Any) -> str | None:
    """Managed object ID of a reference (``vm-42``), ``None`` for an unset reference."""
    return None if ref is None else ref._moId


def maxmemctl_value(value: Any) -> str | None:
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


def unchanged(value: Any) -> Any:
    return value


def option_int(value: Any) -> int | None:
    """An integer advanced option from an OptionValue (or its bare value); ``None`` if not one."""
    raw = getattr(value, "value", value)
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        return None


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Prop:
    """One property: where it comes from, what it is called in the model and in reports."""

    entity: str
    """Managed object type it is read from: ``VirtualMachine``, ``HostSystem`` ..."""
    field: str | None
    """Model field (``VM.ballooned_mb``); ``None`` when read only to derive something else."""
    path: str
    """vSphere API path (``summary.quickStats.balloonedMemory``); evidence is keyed by it."""
    label: str
    """Report column header, with the model unit: ``Ballooned (MB)``."""
    unit: str = ""
    """Unit of the model field (``MB``, ``KB/s``); empty for text, flags and states."""
    api_unit: str = ""
    """Unit the API sends when it differs from :attr:`unit` (``KB``, ``bytes``)."""
    parse: Callable[[Any], Any] = text
    """Server value → model value (conversion included)."""
    source: str = COLLECTED
    """:data:`COLLECTED`, :data:`JOINED` or :data:`PERF`."""
    runtime_counter: bool = False
    """A quickStats counter: 0 from a VM without runtime data means unknown."""
    note: str = ""
    """How a joined value is obtained, or what the value means."""

    @property
    def key(self) -> str:
        """The evidence key: the API path (a performance counter also names its unit)."""
        return f"{self.path} ({self.unit})" if self.source == PERF and self.unit else self.path

    @property
    def wire_unit(self) -> str:
        """The unit of the value as the API sends it (and as evidence shows it)."""
        return self.api_unit or self.unit

    @property
    def conversion(self) -> str:
        """``KB → MB`` when collection converts the unit, else empty."""
        return f"{self.api_unit} → {self.unit}" if self.api_unit else ""

    @property
    def evidence_label(self) -> str:
        """Label for an evidence value: evidence holds API values, so it names the API unit."""
        if not self.api_unit:
            return self.label
        return f"{self.label.rsplit(' (', 1)[0]} ({self.api_unit})"

    def describe(self) -> str:
        """``summary.quickStats.compressedMemory (KB → MB)``: the path with its unit."""
        unit = self.conversion or self.unit
        return f"{self.key} ({unit})" if unit and self.source != PERF else self.key


def _vm(field: str | None, path: str, label: str, **kw: Any) -> Prop:
    return Prop(VIRTUAL_MACHINE, field, path, label, **kw)


def _host(field: str | None, path: str, label: str, **kw: Any) -> Prop:
    return Prop(HOST_SYSTEM, field, path, label, **kw)


def _pool(field: str | None, path: str, label: str, **kw: Any) -> Prop:
    return Prop(RESOURCE_POOL, field, path, label, **kw)


_QS = "summary.quickStats."

# Virtual machines, in the order the PropertyCollector is asked for them (a
# recorded capture replays only when the request is the same).
VM_NAME = _vm("name", "name", "Name")
VM_TEMPLATE = _vm("is_template", "config.template", "Template", parse=is_set)
VM_GUEST_ID = _vm("guest_id", "config.guestId", "Guest")
VM_GUEST_FULL_NAME = _vm("guest_full_name", "config.guestFullName", "Guest OS")
VM_ANNOTATION = _vm("annotation", "config.annotation", "Notes")
VM_MEMORY = _vm(
    "memory_mb", "config.hardware.memoryMB", "Configured (MB)", unit="MB", parse=integer
)
VM_LIMIT = _vm(
    "memory_limit_mb",
    "config.memoryAllocation.limit",
    "Limit (MB)",
    unit="MB",
    parse=limit_mb,
    note="-1 (unlimited) becomes unset",
)
VM_RESERVATION = _vm(
    "memory_reservation_mb",
    "config.memoryAllocation.reservation",
    "Reservation (MB)",
    unit="MB",
    parse=integer,
)
VM_LOCKED_TO_MAX = _vm(
    "reservation_locked_to_max",
    "config.memoryReservationLockedToMax",
    "Reserve all memory",
    parse=unchanged,
)
VM_TOOLS_STATUS2 = _vm("tools_version_status2", "guest.toolsVersionStatus2", "Tools version status")
VM_TOOLS_VERSION_STATUS = _vm(
    "tools_version_status", "guest.toolsVersionStatus", "Tools version status (deprecated)"
)
VM_TOOLS_STATUS = _vm("tools_status", "guest.toolsStatus", "Tools status (deprecated)")
VM_TOOLS_RUNNING = _vm("tools_running_status", "guest.toolsRunningStatus", "Tools running")
VM_TOOLS_VERSION = _vm("tools_version", "guest.toolsVersion", "Tools build")
VM_GUEST_FAMILY = _vm(
    "guest_family",
    "guest.guestFamily",
    "Guest family",
    note="reported while VMware Tools run; config.guestId decides first",
)
VM_LATENCY = _vm("latency_sensitivity", "config.latencySensitivity.level", "Latency sensitivity")
VM_POOL = _vm("resource_pool_moid", "resourcePool", "Resource pool MOID", parse=moid_of)
VM_POWER_STATE = _vm("power_state", "runtime.powerState", "Power")
VM_HOST = _vm("host_moid", "runtime.host", "Host MOID", parse=moid_of)
VM_HOST_MEMORY_USAGE = _vm(
    "host_memory_usage_mb",
    _QS + "hostMemoryUsage",
    "Consumed (MB)",
    unit="MB",
    parse=integer,
    runtime_counter=True,
)
VM_GUEST_MEMORY_USAGE = _vm(
    "guest_memory_usage_mb",
    _QS + "guestMemoryUsage",
    "Active (MB)",
    unit="MB",
    parse=integer,
    runtime_counter=True,
)
VM_UPTIME = _vm(
    None,
    _QS + "uptimeSeconds",
    "Uptime (s)",
    unit="s",
    parse=integer,
    runtime_counter=True,
    note="read only to tell whether the VM has runtime data",
)
VM_BALLOONED = _vm(
    "ballooned_mb",
    _QS + "balloonedMemory",
    "Ballooned (MB)",
    unit="MB",
    parse=integer,
    runtime_counter=True,
)
VM_SWAPPED = _vm(
    "swapped_mb",
    _QS + "swappedMemory",
    "Swapped (MB)",
    unit="MB",
    parse=integer,
    runtime_counter=True,
)
VM_COMPRESSED = _vm(
    "compressed_mb",
    _QS + "compressedMemory",
    "Compressed (MB)",
    unit="MB",
    api_unit="KB",
    parse=kb_int_to_mb,
    runtime_counter=True,
)
VM_SSD_SWAPPED = _vm(
    "ssd_swapped_mb",
    _QS + "ssdSwappedMemory",
    "Swapped to host cache (MB)",
    unit="MB",
    api_unit="KB",
    parse=kb_int_to_mb,
    runtime_counter=True,
    note="swap to the host cache (SSD): far cheaper than swap to a datastore",
)
VM_OVERHEAD = _vm(
    "overhead_mb",
    _QS + "consumedOverheadMemory",
    "Overhead (MB)",
    unit="MB",
    parse=integer,
    runtime_counter=True,
    note="memory the VMkernel uses to run the VM; BA503 adds it to configured memory",
)
VM_MAXMEMCTL = _vm(
    "maxmemctl",
    f'{EXTRA_CONFIG}["{MAXMEMCTL_KEY}"]',
    "maxmemctl",
    parse=maxmemctl_value,
    note="keyed path: the server sends one OptionValue instead of the whole extraConfig list",
)
VM_INSTANCE_UUID = _vm(
    "instance_uuid",
    "config.instanceUuid",
    "Instance UUID",
    note="identity across runs: survives renames, vMotion and re-registration (history)",
)
# Joined at collection time or read by the PerformanceManager.
VM_QUICKSTATS = _vm(
    "quickstats_available",
    "summary.quickStats (returned)",
    "quickStats returned",
    source=JOINED,
    note="true when the VM is powered on, its host connected and a quickStats counter non-zero",
)
VM_HOST_CONNECTION = _vm(
    "host_connection_state",
    "runtime.host.runtime.connectionState",
    "Host connection",
    source=JOINED,
    note="the connection state of the VM's host (runtime.host joined with the host)",
)
VM_SWAPIN_RATE = _vm(
    "swapin_rate_kbps",
    "mem.swapinRate",
    "Swap-in rate (KB/s)",
    unit="KB/s",
    source=PERF,
    note="realtime counter, read only for swapping VMs",
)
VM_SWAPOUT_RATE = _vm(
    "swapout_rate_kbps",
    "mem.swapoutRate",
    "Swap-out rate (KB/s)",
    unit="KB/s",
    source=PERF,
    note="realtime counter, read only for swapping VMs",
)

VM_PROPS: tuple[Prop, ...] = (
    VM_NAME,
    VM_TEMPLATE,
    VM_GUEST_ID,
    VM_GUEST_FULL_NAME,
    VM_ANNOTATION,
    VM_MEMORY,
    VM_LIMIT,
    VM_RESERVATION,
    VM_LOCKED_TO_MAX,
    VM_TOOLS_STATUS2,
    VM_TOOLS_VERSION_STATUS,
    VM_TOOLS_STATUS,
    VM_TOOLS_RUNNING,
    VM_TOOLS_VERSION,
    VM_GUEST_FAMILY,
    VM_LATENCY,
    VM_POOL,
    VM_POWER_STATE,
    VM_HOST,
    VM_HOST_MEMORY_USAGE,
    VM_GUEST_MEMORY_USAGE,
    VM_UPTIME,
    VM_BALLOONED,
    VM_SWAPPED,
    VM_COMPRESSED,
    VM_SSD_SWAPPED,
    VM_OVERHEAD,
    VM_MAXMEMCTL,
    VM_INSTANCE_UUID,
    VM_QUICKSTATS,
    VM_HOST_CONNECTION,
    VM_SWAPIN_RATE,
    VM_SWAPOUT_RATE,
)

HOST_NAME = _host("name", "name", "Name")
HOST_PARENT = _host(None, "parent", "Parent", parse=moid_of, note="places the host in a cluster")
HOST_CONNECTION = _host("connection_state", "runtime.connectionState", "Connection")
HOST_POWER_STATE = _host("power_state", "runtime.powerState", "Power")
HOST_MAINTENANCE = _host(
    "in_maintenance_mode", "runtime.inMaintenanceMode", "Maintenance", parse=flag
)
HOST_MEMORY_SIZE = _host(
    "memory_size_mb",
    "hardware.memorySize",
    "Memory (MB)",
    unit="MB",
    api_unit="bytes",
    parse=bytes_to_mb,
)
HOST_MEMORY_USAGE = _host(
    "memory_usage_mb", _QS + "overallMemoryUsage", "Used (MB)", unit="MB", parse=integer
)
HOST_VERSION = _host("product_version", "summary.config.product.version", "ESXi version")
HOST_UUID = _host(
    "uuid",
    "hardware.systemInfo.uuid",
    "Hardware UUID",
    note="identity across runs and vCenters (history)",
)

HOST_PROPS: tuple[Prop, ...] = (
    HOST_NAME,
    HOST_PARENT,
    HOST_CONNECTION,
    HOST_POWER_STATE,
    HOST_MAINTENANCE,
    HOST_MEMORY_SIZE,
    HOST_MEMORY_USAGE,
    HOST_VERSION,
    HOST_UUID,
)

# Read in their own pass (collect/host_options.py), so a server that refuses keyed paths on
# the host's option list costs only these values.
HOST_CTL_MAX = _host(
    "ctl_max_pct",
    f'{HOST_OPTION}["{CTL_MAX_PCT_KEY}"]',
    "Mem.CtlMaxPercent (%)",
    unit="%",
    parse=option_int,
    note="default 65; 0 = no ballooning on the host; unset when the host does not report it",
)
HOST_MIN_FREE = _host(
    "min_free_pct",
    f'{HOST_OPTION}["{MIN_FREE_PCT_KEY}"]',
    "Mem.MemMinFreePct (%)",
    unit="%",
    parse=option_int,
    note="0 or unset = ESXi's sliding minFree scale",
)
HOST_OPTION_PROPS: tuple[Prop, ...] = (HOST_CTL_MAX, HOST_MIN_FREE)
HOST_MEM_STATE = _host(
    "mem_state",
    "mem.state",
    "Memory state (mem.state)",
    source=PERF,
    note="realtime counter: 0 high, 1 clear, 2 soft, 3 hard, 4 low (ESXi 5.x: no clear)",
)

POOL_NAME = _pool("name", "name", "Name")
POOL_PARENT = _pool(None, "parent", "Parent", parse=moid_of, note="nesting of pools")
POOL_OWNER = _pool(None, "owner", "Owner", parse=moid_of, note="the cluster or host")
POOL_LIMIT = _pool(
    "memory_limit_mb",
    "config.memoryAllocation.limit",
    "Limit (MB)",
    unit="MB",
    parse=limit_mb,
    note="-1 (unlimited) becomes unset",
)
POOL_RESERVATION = _pool(
    "memory_reservation_mb",
    "config.memoryAllocation.reservation",
    "Reservation (MB)",
    unit="MB",
    parse=integer,
)
POOL_EXPANDABLE = _pool(
    "expandable_reservation",
    "config.memoryAllocation.expandableReservation",
    "Expandable reservation",
    parse=flag,
)
POOL_BALLOONED = _pool(
    "ballooned_mb", _QS + "balloonedMemory", "Ballooned (MB)", unit="MB", parse=integer
)
POOL_SWAPPED = _pool("swapped_mb", _QS + "swappedMemory", "Swapped (MB)", unit="MB", parse=integer)
POOL_PROPS: tuple[Prop, ...] = (
    POOL_NAME,
    POOL_PARENT,
    POOL_OWNER,
    POOL_LIMIT,
    POOL_RESERVATION,
    POOL_EXPANDABLE,
    POOL_BALLOONED,
    POOL_SWAPPED,
)

STRUCTURE_PROPS: tuple[Prop, ...] = (
    Prop(MANAGED_ENTITY, "name", "name", "Name"),
    Prop(MANAGED_ENTITY, None, "parent", "Parent", parse=moid_of),
)
"""Read from datacenters, folders, compute resources and clusters to place hosts."""

ALL_PROPS: tuple[Prop, ...] = (
    VM_PROPS + HOST_PROPS + HOST_OPTION_PROPS + (HOST_MEM_STATE,) + POOL_PROPS + STRUCTURE_PROPS
)

CONTEXT_LABELS: dict[str, str] = {
    "moid": "MOID",
    "server": "vCenter",
    "datacenter": "Datacenter",
    "cluster": "Cluster",
    "host": "Host",
}
"""Model fields that are not vSphere properties of the object: where it sits in the inventory."""


def collected_paths(props: Iterable[Prop]) -> tuple[str, ...]:
    """The PropertyCollector paths of ``props``, in table order."""
    return tuple(p.path for p in props if p.source == COLLECTED)


def by_field(props: Iterable[Prop]) -> dict[str, Prop]:
    """Model field → property, for the properties that fill a model field."""
    return {p.field: p for p in props if p.field is not None}


VM_BY_FIELD = by_field(VM_PROPS)
HOST_BY_FIELD = by_field(HOST_PROPS + HOST_OPTION_PROPS + (HOST_MEM_STATE,))
POOL_BY_FIELD = by_field(POOL_PROPS)
_BY_KEY: dict[str, Prop] = {}
for _prop in reversed(ALL_PROPS):  # the first declaration of a shared path wins
    _BY_KEY[_prop.key] = _prop


def prop_for_key(key: str) -> Prop | None:
    """The property an evidence key names, or ``None`` for a computed key."""
    return _BY_KEY.get(key)


def field_label(field: str, entity: str = VIRTUAL_MACHINE) -> str:
    """Report header for a model field of ``entity``; the field name if the table lacks it."""
    table = {VIRTUAL_MACHINE: VM_BY_FIELD, RESOURCE_POOL: POOL_BY_FIELD}.get(entity, HOST_BY_FIELD)
    prop = table.get(field)
    if prop is not None:
        return prop.label
    return CONTEXT_LABELS.get(field, field)


def evidence_label(key: str) -> str | None:
    """Label for an evidence key: a property's, ``Σ <label>`` for ``sum(<path>)``; else ``None``."""
    prop = prop_for_key(key)
    if prop is not None:
        return prop.evidence_label
    if key.startswith("sum(") and key.endswith(")"):
        inner = key[4:-1]
        inner = inner.removeprefix("host.")
        prop = prop_for_key(inner)
        if prop is not None:
            return f"Σ {prop.evidence_label}"
    return None
