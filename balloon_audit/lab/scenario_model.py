"""Lab scenario models: what a scenario file may say, declared once with its limits.

Every value is validated before anything is sent to the simulator: vcsim
applies ``SET.<path>`` values by reflection, so a string where an int belongs
(or a wrong path) can crash it. The loader (``scenario.py``) validates each
table with these models and words every error with its key path, e.g.
``vms[3] 'web-01'.ballooned_mb: expected an integer, got '12'``.

Checks that need to know the inventory (does host ``DC0_H7`` exist?) read it
from the validation context, an :class:`Inventory`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from balloon_audit.validation import InputModel, reject

INT32_MAX = 2**31 - 1
MAX_VM_MEMORY_MB = 24 * 1024 * 1024  # vSphere 8 maximum: 24 TB per VM
MB = 1024 * 1024
VCSIM_HOST_MEMORY_BYTES = 4294430720
"""hardware.memorySize of a vcsim model host when the scenario does not set it."""

POWER_STATES = ("poweredOn", "poweredOff", "suspended")
HOST_CONNECTION_STATES = ("connected", "disconnected", "notResponding")
TOOLS_VERSION_STATUSES = (
    "guestToolsNotInstalled",
    "guestToolsNeedUpgrade",
    "guestToolsCurrent",
    "guestToolsUnmanaged",
    "guestToolsTooOld",
    "guestToolsSupportedOld",
    "guestToolsSupportedNew",
    "guestToolsTooNew",
    "guestToolsBlacklisted",
)
TOOLS_STATUSES = ("toolsNotInstalled", "toolsNotRunning", "toolsOld", "toolsOk")
TOOLS_RUNNING_STATUSES = ("guestToolsNotRunning", "guestToolsRunning", "guestToolsExecutingScripts")
SEVERITIES = ("info", "warning", "critical")
LATENCY_LEVELS = ("low", "normal", "medium", "high")
HOST_OPTION_KEYS = ("Mem.CtlMaxPercent", "Mem.MemMinFreePct")
"""Host advanced options a scenario may set (integers 0..100)."""

_EXPECT_RE = re.compile(r"^BA\d{3}:(info|warning|critical)$")
_GUEST_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*Guest$")
_EXTRA_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\-\[\]]*$")
_ESX_HOST = "localhost.localdomain"
_ESX_DATACENTER = "ha-datacenter"


def api_name(name: str) -> str:
    """The name as vCenter (and vcsim) report it: ``%``, ``/`` and ``\\`` are escaped."""
    return name.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


# --------------------------------------------------------------------- value types


@dataclass(frozen=True)
class IntRange:
    """An integer (never a boolean) between ``lo`` and ``hi``."""

    lo: int = 0
    hi: int = INT32_MAX

    def __call__(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            reject(f"expected an integer, got {value!r}")
        if not self.lo <= value <= self.hi:
            reject(f"expected an integer between {self.lo} and {self.hi}, got {value}")
        return value


@dataclass(frozen=True)
class Text:
    """A string, optionally non-empty, at most ``max_len`` characters."""

    empty: bool = True
    max_len: int = 4096

    def __call__(self, value: Any) -> str:
        if not isinstance(value, str):
            reject(f"expected a string, got {value!r}")
        if not self.empty and not value:
            reject("must not be empty")
        if len(value) > self.max_len:
            reject(f"longer than {self.max_len} characters")
        return value


@dataclass(frozen=True)
class OneOf:
    """One of the API's enumeration values; with ``unset_ok``, ``""`` leaves it unset."""

    allowed: tuple[str, ...]
    unset_ok: bool = False

    def __call__(self, value: Any) -> str | None:
        if self.unset_ok and value == "":
            return None
        if not isinstance(value, str) or value not in self.allowed:
            reject(f"expected one of {', '.join(self.allowed)}; got {value!r}")
        return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        reject(f"expected true or false, got {value!r}")
    return value


def _expect_list(value: Any) -> Any:
    if not isinstance(value, list):
        reject(f'expected a list like ["BA301:warning"], got {value!r}')
    return value


def _expect_item(value: Any) -> str:
    if not isinstance(value, str) or not _EXPECT_RE.match(value):
        reject(f"expected 'BA###:info|warning|critical', got {value!r}")
    return value


def _no_repeats(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(value)) != len(value):
        reject("lists the same finding twice")
    return value


def _guest_id(value: str) -> str:
    if not _GUEST_ID_RE.match(value):
        reject(f"expected a guest id like 'rhel9_64Guest', got {value!r}")
    return value


def _tools_version(value: Any) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isdigit() or int(text) > INT32_MAX:
        reject(f'expected a build number like "12352", got {text!r}')
    return text


def _limit(value: int) -> int | None:
    return None if value == -1 else value


def _extra_config(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        reject('expected a table of string values, e.g. {"sched.mem.maxmemctl" = "0"}')
    for key, item in value.items():
        _extra_entry(key, item)
    return tuple(sorted(value.items()))


def _host_options(value: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict):
        reject('expected a table like {"Mem.CtlMaxPercent" = 0}')
    for key, item in value.items():
        if key not in HOST_OPTION_KEYS:
            reject(f"unknown host option (known: {', '.join(HOST_OPTION_KEYS)})", key=key)
        try:
            IntRange(0, 100)(item)
        except PydanticCustomError as exc:
            reject(str((exc.context or {})["reason"]), key=key)
    return tuple(sorted(value.items()))


def _extra_entry(key: str, value: Any) -> None:
    if key.upper().startswith("SET.") or key == "govcsim":
        reject("reserved for the simulator; use the typed keys instead", key=key)
    if not _EXTRA_KEY_RE.match(key):
        reject("not a valid advanced-setting key", key=key)
    if not isinstance(value, str):
        reject(f'values are strings in the API: write "{value}", not {value!r}', key=key)
    if value == "":
        reject("an empty value deletes the key; leave it out instead", key=key)


Count = Annotated[int, BeforeValidator(IntRange())]
Flag = Annotated[bool, BeforeValidator(_bool)]
Name = Annotated[str, BeforeValidator(Text(empty=False))]
Expect = Annotated[
    tuple[Annotated[str, BeforeValidator(_expect_item)], ...],
    BeforeValidator(_expect_list),
    AfterValidator(_no_repeats),
]


@dataclass(frozen=True)
class Inventory:
    """What the vcsim model creates: the names placement keys may refer to."""

    hosts: Mapping[str, str | None] = field(default_factory=dict)
    """Host name -> cluster name (``None`` for standalone hosts)."""
    clusters: tuple[str, ...] = ()


def _inventory(info: ValidationInfo) -> Inventory:
    return info.context if isinstance(info.context, Inventory) else Inventory()


# --------------------------------------------------------------------------- models


class ModelSpec(InputModel):
    """vcsim model flags. Names follow vcsim: ``DC0``, ``DC0_C0``, ``DC0_C0_H0``, ``DC0_H0``."""

    datacenters: Annotated[int, BeforeValidator(IntRange(1, 20))] = 1
    clusters: Annotated[int, BeforeValidator(IntRange(0, 100))] = 1
    hosts_per_cluster: Annotated[int, BeforeValidator(IntRange(1, 200))] = 3
    standalone_hosts: Annotated[int, BeforeValidator(IntRange(0, 200))] = 1
    model_vms: Annotated[int, BeforeValidator(IntRange(0, 20000))] = 0
    """vcsim's own ``-vm``: unseeded VMs per compute resource (powered on, no quickStats)."""
    esx: Flag = False
    """Simulate a standalone ESXi endpoint (``-esx``): one host, ``localhost.localdomain``."""

    @model_validator(mode="after")
    def _esx_has_one_host(self) -> ModelSpec:
        if self.esx:
            for key in sorted(self.model_fields_set - {"esx", "model_vms"}):
                reject("not allowed with esx = true (one host, no clusters)", key=key)
        return self

    def vcsim_args(self) -> list[str]:
        if self.esx:
            return ["-esx", "-vm", str(self.model_vms)]
        return [
            "-dc",
            str(self.datacenters),
            "-cluster",
            str(self.clusters),
            "-host",
            str(self.hosts_per_cluster),
            "-standalone-host",
            str(self.standalone_hosts),
            "-vm",
            str(self.model_vms),
        ]

    def host_names(self) -> dict[str, str | None]:
        """Host name -> cluster name (``None`` for standalone hosts), as vcsim names them."""
        if self.esx:
            return {_ESX_HOST: None}
        hosts: dict[str, str | None] = {}
        for d in range(self.datacenters):
            for h in range(self.standalone_hosts):
                hosts[f"DC{d}_H{h}"] = None
            for c in range(self.clusters):
                for h in range(self.hosts_per_cluster):
                    hosts[f"DC{d}_C{c}_H{h}"] = f"DC{d}_C{c}"
        return hosts

    def cluster_names(self) -> list[str]:
        if self.esx:
            return []
        return [f"DC{d}_C{c}" for d in range(self.datacenters) for c in range(self.clusters)]

    def datacenter_names(self) -> list[str]:
        if self.esx:
            return [_ESX_DATACENTER]
        return [f"DC{d}" for d in range(self.datacenters)]

    def inventory(self) -> Inventory:
        return Inventory(self.host_names(), tuple(self.cluster_names()))


def _known_host(name: str | None, info: ValidationInfo) -> str | None:
    known = _inventory(info).hosts
    if info.context is not None and name is not None and name not in known:
        reject(f"no host {name!r} in the model (known: {', '.join(known)})")
    return name


def _known_cluster(name: str | None, info: ValidationInfo) -> str | None:
    known = list(_inventory(info).clusters)
    if info.context is not None and name is not None and name not in known:
        reject(f"no cluster {name!r} in the model ({known})")
    return name


class HostValues(InputModel):
    """``[host_defaults]``: values applied to every model host."""

    memory_bytes: Annotated[int | None, BeforeValidator(IntRange(2**30, 2**46))] = None
    """hardware.memorySize (the API unit is bytes); ``memory_mb`` in TOML is converted."""
    memory_usage_mb: Annotated[int | None, BeforeValidator(IntRange())] = None
    """summary.quickStats.overallMemoryUsage (MB)."""
    connection_state: Annotated[str, BeforeValidator(OneOf(HOST_CONNECTION_STATES))] = "connected"
    advanced_options: Annotated[tuple[tuple[str, int], ...], BeforeValidator(_host_options)] = ()
    """Host advanced options (e.g. Mem.CtlMaxPercent): set with UpdateOptions after start, or
    written into the saved model when it is served with ``-load``."""

    @model_validator(mode="before")
    @classmethod
    def _memory_in_mb(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("memory_mb") is None:
            return data
        if "memory_bytes" in data:
            reject("give memory_mb or memory_bytes, not both")
        data = dict(data)
        megabytes = data.pop("memory_mb")
        try:
            data["memory_bytes"] = IntRange(1024, 64 * 1024 * 1024)(megabytes) * MB
        except PydanticCustomError as exc:  # name the key the user wrote
            reject(str((exc.context or {})["reason"]), key="memory_mb")
        return data

    @model_validator(mode="after")
    def _usage_fits(self) -> HostValues:
        size_mb = (self.memory_bytes or VCSIM_HOST_MEMORY_BYTES) // MB
        if self.memory_usage_mb is not None and self.memory_usage_mb > size_mb:
            reject(
                f"{self.memory_usage_mb} is more than the host's {size_mb} MB",
                key="memory_usage_mb",
            )
        return self


class HostSpec(HostValues):
    """Values for one model host. Unset values keep vcsim's (4 GB, 1404 MB used, connected)."""

    name: Annotated[Name, AfterValidator(_known_host)]
    expect: Expect = ()


class ClusterSpec(InputModel):
    name: Annotated[Name, AfterValidator(_known_cluster)]
    expect: Expect = ()


class PoolSpec(InputModel):
    """A resource pool below a cluster's root pool, or below a pool defined before it."""

    name: Annotated[str, BeforeValidator(Text(empty=False, max_len=80))]
    cluster: Annotated[Name | None, AfterValidator(_known_cluster)] = None
    parent: Name | None = None
    """Name of the parent pool (give cluster or parent)."""
    memory_limit_mb: Annotated[
        int | None, BeforeValidator(IntRange(-1)), AfterValidator(_limit)
    ] = None
    """``None`` (or -1 in TOML) means unlimited."""
    memory_reservation_mb: Count = 0
    expandable_reservation: Flag = True
    expect: Expect = ()

    @model_validator(mode="after")
    def _consistent(self) -> PoolSpec:
        if (self.cluster is None) == (self.parent is None):
            reject("give exactly one of cluster or parent")
        if self.memory_limit_mb is not None and self.memory_limit_mb < self.memory_reservation_mb:
            reject("is below the reservation (vSphere refuses that)", key="memory_limit_mb")
        return self


_COUNTERS = (
    "ballooned_mb",
    "swapped_mb",
    "compressed_kb",
    "host_memory_usage_mb",
    "guest_memory_usage_mb",
    "uptime_seconds",
    "ssd_swapped_kb",
    "overhead_mb",
)
ToolsVersionStatus = Annotated[
    str | None, BeforeValidator(OneOf(TOOLS_VERSION_STATUSES, unset_ok=True))
]


class VmValues(InputModel):
    """Every value a VM may set; ``[vm_defaults]`` takes exactly these.

    Memory is in MB except ``compressed_kb`` (summary.quickStats.compressedMemory
    is in KB in the API).
    """

    host: Annotated[Name | None, AfterValidator(_known_host)] = None
    cluster: Annotated[Name | None, AfterValidator(_known_cluster)] = None
    """Placement: a host name, or a cluster name (vcsim then picks a host at random)."""
    memory_mb: Annotated[int, BeforeValidator(IntRange(4, MAX_VM_MEMORY_MB))] = 4096
    power_state: Annotated[str, BeforeValidator(OneOf(POWER_STATES))] = "poweredOn"
    """Default: ``poweredOff`` for a template, else ``poweredOn``."""
    template: Flag = False
    guest_id: Annotated[Name, AfterValidator(_guest_id)] = "otherLinux64Guest"
    annotation: Annotated[str, BeforeValidator(Text(max_len=65535))] = ""
    tools_version_status2: ToolsVersionStatus = "guestToolsCurrent"
    """``""`` in TOML leaves it unset (e.g. an old host without toolsVersionStatus2)."""
    tools_version_status: ToolsVersionStatus = "guestToolsCurrent"
    tools_status: Annotated[str | None, BeforeValidator(OneOf(TOOLS_STATUSES, True))] = None
    """Default: ``toolsOk`` when powered on, ``toolsNotRunning`` otherwise."""
    tools_running_status: Annotated[
        str | None, BeforeValidator(OneOf(TOOLS_RUNNING_STATUSES, True))
    ] = None
    """Default: ``guestToolsRunning`` when powered on, ``guestToolsNotRunning`` otherwise."""
    tools_version: Annotated[str | None, BeforeValidator(_tools_version)] = None
    """Build number as a string: major*1024 + minor*32 + patch (12352 = 12.2.0).

    Default: ``"0"`` when Tools are not installed (as vSphere reports it), else ``"12352"``.
    """
    ballooned_mb: Count = 0
    swapped_mb: Count = 0
    compressed_kb: Count = 0
    host_memory_usage_mb: Count | None = None
    """Default for powered-on VMs on connected hosts: 80 % of memory_mb."""
    guest_memory_usage_mb: Count | None = None
    """Default for powered-on VMs on connected hosts: 25 % of memory_mb."""
    uptime_seconds: Count | None = None
    """Default for powered-on VMs on connected hosts: 12 days."""
    memory_limit_mb: Annotated[
        int | None, BeforeValidator(IntRange(-1)), AfterValidator(_limit)
    ] = None
    """``None`` (or -1 in TOML) means unlimited."""
    memory_reservation_mb: Count = 0
    """Default: memory_mb when reservation_locked_to_max, else 0."""
    reservation_locked_to_max: Flag = False
    extra_config: Annotated[tuple[tuple[str, str], ...], BeforeValidator(_extra_config)] = ()
    no_quickstats: Flag = False
    """A powered-on VM whose quickStats carry no memory counters at all (BA901)."""
    resource_pool: Name | None = None
    """Name of a scenario resource pool to create the VM in (in the cluster of its host)."""
    latency_sensitivity: Annotated[str | None, BeforeValidator(OneOf(LATENCY_LEVELS))] = None
    """config.latencySensitivity.level, e.g. ``high``; unset keeps vSphere's default."""
    ssd_swapped_kb: Count = 0
    """summary.quickStats.ssdSwappedMemory is in KB in the API (swap to the host cache)."""
    overhead_mb: Count = 0
    """summary.quickStats.consumedOverheadMemory (MB)."""


class VmSpec(VmValues):
    """One VM (or template) to create and seed."""

    name: Annotated[str, BeforeValidator(Text(empty=False, max_len=80))]
    expect: Expect = ()

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_other_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("template") is True:
            data.setdefault("power_state", "poweredOff")
        memory_mb = data.get("memory_mb", 4096)
        if data.get("reservation_locked_to_max") is True and isinstance(memory_mb, int):
            data.setdefault("memory_reservation_mb", memory_mb)  # vCenter keeps it at the size
        return data

    @model_validator(mode="after")
    def _consistent(self) -> VmSpec:
        if (self.host is None) == (self.cluster is None):
            reject("give exactly one of host or cluster")
        if self.template and self.power_state != "poweredOff":
            reject("a template is always poweredOff", key="power_state")
        self._counters_fit()
        self._allocation_fits()
        return self

    def _counters_fit(self) -> None:
        for key in ("ballooned_mb", "swapped_mb"):
            if getattr(self, key) > self.memory_mb:
                reject(f"{getattr(self, key)} is more than memory_mb ({self.memory_mb})", key=key)
        for key in ("compressed_kb", "ssd_swapped_kb"):
            if getattr(self, key) > self.memory_mb * 1024:
                reject(f"more than memory_mb ({self.memory_mb} MB) in KB", key=key)
        if self.no_quickstats:
            for key in _COUNTERS:
                if getattr(self, key):
                    reject("contradicts no_quickstats = true", key=key)

    def _allocation_fits(self) -> None:
        reservation = self.memory_reservation_mb
        if reservation > self.memory_mb:
            reject(
                f"expected an integer between 0 and {self.memory_mb}, got {reservation}",
                key="memory_reservation_mb",
            )
        if self.reservation_locked_to_max and reservation != self.memory_mb:
            reject(
                "must equal memory_mb when reservation_locked_to_max",
                key="memory_reservation_mb",
            )
        if self.memory_limit_mb is not None and self.memory_limit_mb < reservation:
            reject("is below the reservation (vSphere refuses that)", key="memory_limit_mb")

    @property
    def api_name(self) -> str:
        return api_name(self.name)

    @property
    def powered_on(self) -> bool:
        return self.power_state == "poweredOn"

    @property
    def effective_tools_status(self) -> str:
        return self.tools_status or ("toolsOk" if self.powered_on else "toolsNotRunning")

    @property
    def effective_tools_running_status(self) -> str:
        if self.tools_running_status:
            return self.tools_running_status
        return "guestToolsRunning" if self.powered_on else "guestToolsNotRunning"

    @property
    def tools_installed(self) -> bool:
        return not (
            self.tools_version_status2 == "guestToolsNotInstalled"
            or (
                self.tools_version_status2 is None
                and self.tools_version_status == "guestToolsNotInstalled"
            )
            or self.tools_status == "toolsNotInstalled"
        )

    @property
    def effective_tools_version(self) -> str:
        if self.tools_version is not None:
            return self.tools_version
        return "12352" if self.tools_installed else "0"

    def extra(self, key: str) -> str | None:
        return dict(self.extra_config).get(key)


def _name_pattern(value: str) -> str:
    try:
        value.format(n=0)
        ok = "{n" in value
    except (ValueError, KeyError, IndexError):
        ok = False
    if not ok:
        reject('expected a pattern with {n}, e.g. "web-{n:04d}"')
    return value


def _host_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(h, str) for h in value):
        reject("expected a non-empty list of host names")
    return tuple(value)


def _known_hosts(names: tuple[str, ...] | None, info: ValidationInfo) -> tuple[str, ...] | None:
    for name in sorted(set(names or ())):
        if info.context is not None and name not in _inventory(info).hosts:
            reject(f"no host {name!r} in the model")
    return names


GROUP_KEYS = ("name", "count", "start", "hosts")
"""Keys of ``[[vm_groups]]`` that describe the group rather than each VM."""


class VmGroup(VmValues):
    """``[[vm_groups]]``: ``count`` VMs alike but for their names (and hosts, round robin)."""

    name: Annotated[Name, AfterValidator(_name_pattern)]
    """A pattern with ``{n}``, e.g. ``web-{n:04d}``."""
    count: Annotated[int, BeforeValidator(IntRange(1, 50000))]
    start: Annotated[int, BeforeValidator(IntRange(0, 10**7))] = 1
    hosts: Annotated[
        tuple[str, ...] | None, BeforeValidator(_host_list), AfterValidator(_known_hosts)
    ] = None
    expect: Expect = ()

    def first_vm(self, raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
        """The first VM's table: defaults, then the group's VM values, its name and host."""
        values = {k: v for k, v in raw.items() if k not in GROUP_KEYS}
        placement = {"host": self.hosts[0]} if self.hosts else {}
        return {**defaults, **values, "name": self.name.format(n=self.start), **placement}

    def expand(self, first: VmSpec) -> list[VmSpec]:
        """``first`` and its copies, named by the pattern, hosts taken in turn."""
        out = [first]
        for i in range(1, self.count):
            host = self.hosts[i % len(self.hosts)] if self.hosts else first.host
            out.append(
                first.model_copy(update={"name": self.name.format(n=self.start + i), "host": host})
            )
        return out


def _tables(section: str) -> Any:
    def check(value: Any) -> Any:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            reject(f"expected an array of tables ([[{section}]])")
        return value

    return BeforeValidator(check)


Tables = tuple[dict[str, Any], ...]


class ScenarioFile(InputModel):
    """A scenario file's top level. Host and VM tables are checked one by one afterwards,
    against the inventory that ``model`` creates."""

    name: Annotated[str | None, BeforeValidator(Text(empty=False, max_len=80))] = None
    """Default: the file name without ``.toml``."""
    description: Annotated[str, BeforeValidator(Text())] = ""
    model: ModelSpec = ModelSpec()
    host_defaults: HostValues = HostValues()
    vm_defaults: VmValues = VmValues()
    hosts: Annotated[Tables, _tables("hosts")] = ()
    clusters: Annotated[Tables, _tables("clusters")] = ()
    vms: Annotated[Tables, _tables("vms")] = ()
    vm_groups: Annotated[Tables, _tables("vm_groups")] = ()
    resource_pools: Annotated[Tables, _tables("resource_pools")] = ()


@dataclass(frozen=True)
class Expectation:
    """A finding a scenario expects: rule and severity on one named entity."""

    entity_type: str
    """``VirtualMachine``, ``HostSystem``, ``ClusterComputeResource`` or ``ResourcePool``."""
    entity_name: str
    """As the API reports it (see ``api_name``)."""
    rule: str
    severity: str


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    model: ModelSpec = field(default_factory=ModelSpec)
    hosts: tuple[HostSpec, ...] = ()
    clusters: tuple[ClusterSpec, ...] = ()
    vms: tuple[VmSpec, ...] = ()
    resource_pools: tuple[PoolSpec, ...] = ()
    source: str | None = None
    """Path of the TOML file it was loaded from."""

    @property
    def needs_load(self) -> bool:
        """True when host values differ from vcsim's template, so the ``-load`` route is needed."""
        return any(
            h.memory_bytes is not None
            or h.memory_usage_mb is not None
            or h.connection_state != "connected"
            for h in self.hosts
        )

    # Host advanced options go over the API (UpdateOptions) without -load, into the saved
    # model with it (see lab/hostmodel.py): they do not decide the route.

    def pool_cluster(self, name: str) -> str | None:
        """The cluster a scenario pool lives in (following parents)."""
        by_name = {r.name: r for r in self.resource_pools}
        pool, depth = by_name.get(name), 0
        while pool is not None and pool.cluster is None and depth < 64:
            pool, depth = by_name.get(pool.parent or ""), depth + 1
        return pool.cluster if pool is not None else None

    def host_spec(self, name: str) -> HostSpec | None:
        return next((h for h in self.hosts if h.name == name), None)

    def host_connected(self, name: str | None) -> bool:
        spec = self.host_spec(name) if name else None
        return spec is None or spec.connection_state == "connected"

    def vm(self, name: str) -> VmSpec:
        return next(v for v in self.vms if v.name == name)

    def expectations(self) -> list[Expectation]:
        out: list[Expectation] = []
        groups: list[tuple[str, list[tuple[str, tuple[str, ...]]]]] = [
            ("VirtualMachine", [(v.api_name, v.expect) for v in self.vms]),
            ("HostSystem", [(h.name, h.expect) for h in self.hosts]),
            ("ClusterComputeResource", [(c.name, c.expect) for c in self.clusters]),
            ("ResourcePool", [(api_name(r.name), r.expect) for r in self.resource_pools]),
        ]
        for entity_type, items in groups:
            for name, expect in items:
                for item in expect:
                    rule, severity = item.split(":")
                    out.append(Expectation(entity_type, name, rule, severity))
        return out
