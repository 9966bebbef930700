"""Lab scenarios: TOML files describing a vcsim inventory and the findings it should produce.

Every value is validated here, before anything is sent to the simulator: vcsim
applies ``SET.<path>`` values by reflection, so a string where an int belongs
(or a wrong path) can crash it. Errors name the offending key, e.g.
``vms[3] 'web-01'.ballooned_mb: expected an integer >= 0, got '12'``.

Scenario files look like this (see ``balloon_audit/lab/scenarios/demo.toml``)::

    description = "one line"
    [model]                  # vcsim model flags
    clusters = 1
    hosts_per_cluster = 3
    standalone_hosts = 1
    [[hosts]]                # host values (served through vcsim -load)
    name = "DC0_C0_H0"
    memory_mb = 262144
    memory_usage_mb = 180000
    advanced_options = { "Mem.CtlMaxPercent" = 0 }   # set over the API after start
    [[resource_pools]]       # created below the cluster's root pool (or a parent pool)
    name = "tanzu-ns-1"
    cluster = "DC0_C0"
    memory_limit_mb = 8192
    [[vms]]
    name = "web-01"
    host = "DC0_C0_H0"
    memory_mb = 4096
    ballooned_mb = 512
    expect = ["BA301:info"]
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from balloon_audit.errors import LabError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

INT32_MAX = 2**31 - 1
MAX_VM_MEMORY_MB = 24 * 1024 * 1024  # vSphere 8 maximum: 24 TB per VM

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
LATENCY_LEVELS = ("low", "normal", "medium", "high")
HOST_OPTION_KEYS = ("Mem.CtlMaxPercent", "Mem.MemMinFreePct")
"""Host advanced options a scenario may set (integers 0..100)."""
SEVERITIES = ("info", "warning", "critical")

_EXPECT_RE = re.compile(r"^BA\d{3}:(info|warning|critical)$")
_GUEST_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*Guest$")
_EXTRA_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\-\[\]]*$")
_ESX_HOST = "localhost.localdomain"
_ESX_DATACENTER = "ha-datacenter"


class ScenarioError(LabError):
    """A scenario file is invalid; ``problems`` lists every problem, each naming its key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(
            f"invalid scenario {source}: {shown}{more}",
            hint="fix the keys named above; `balloon-audit lab list` shows the shipped scenarios",
        )


def api_name(name: str) -> str:
    """The name as vCenter (and vcsim) report it: ``%``, ``/`` and ``\\`` are escaped."""
    return name.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


@dataclass(frozen=True)
class ModelSpec:
    """vcsim model flags. Names follow vcsim: ``DC0``, ``DC0_C0``, ``DC0_C0_H0``, ``DC0_H0``."""

    datacenters: int = 1
    clusters: int = 1
    hosts_per_cluster: int = 3
    standalone_hosts: int = 1
    model_vms: int = 0
    """vcsim's own ``-vm``: unseeded VMs per compute resource (powered on, no quickStats)."""
    esx: bool = False
    """Simulate a standalone ESXi endpoint (``-esx``): one host, ``localhost.localdomain``."""

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


@dataclass(frozen=True)
class HostSpec:
    """Values for one model host. Unset values keep vcsim's (4 GB, 1404 MB used, connected)."""

    name: str
    memory_bytes: int | None = None
    """hardware.memorySize (the API unit is bytes); ``memory_mb`` in TOML is converted."""
    memory_usage_mb: int | None = None
    """summary.quickStats.overallMemoryUsage (MB)."""
    connection_state: str = "connected"
    advanced_options: tuple[tuple[str, int], ...] = ()
    """Host advanced options (e.g. Mem.CtlMaxPercent), set with UpdateOptions after start."""
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class PoolSpec:
    """A resource pool below a cluster's root pool, or below another scenario pool."""

    name: str
    cluster: str | None = None
    parent: str | None = None
    """Name of the parent pool (give cluster or parent)."""
    memory_limit_mb: int | None = None
    """``None`` (or -1 in TOML) means unlimited."""
    memory_reservation_mb: int = 0
    expandable_reservation: bool = True
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class VmSpec:
    """One VM (or template) to create and seed. Memory in MB except ``compressed_kb``."""

    name: str
    host: str | None = None
    cluster: str | None = None
    """Placement: a host name, or a cluster name (vcsim then picks a host at random)."""
    memory_mb: int = 4096
    power_state: str = "poweredOn"
    template: bool = False
    guest_id: str = "otherLinux64Guest"
    annotation: str = ""
    tools_version_status2: str | None = "guestToolsCurrent"
    tools_version_status: str | None = "guestToolsCurrent"
    tools_status: str | None = None
    """Default: ``toolsOk`` when powered on, ``toolsNotRunning`` otherwise."""
    tools_running_status: str | None = None
    """Default: ``guestToolsRunning`` when powered on, ``guestToolsNotRunning`` otherwise."""
    tools_version: str | None = None
    """Build number as a string: major*1024 + minor*32 + patch (12352 = 12.2.0).

    Default: ``"0"`` when Tools are not installed (as vSphere reports it), else ``"12352"``.
    """
    ballooned_mb: int = 0
    swapped_mb: int = 0
    compressed_kb: int = 0
    """summary.quickStats.compressedMemory is in KB in the API."""
    host_memory_usage_mb: int | None = None
    """Default for powered-on VMs on connected hosts: 80 % of memory_mb."""
    guest_memory_usage_mb: int | None = None
    """Default for powered-on VMs on connected hosts: 25 % of memory_mb."""
    uptime_seconds: int | None = None
    """Default for powered-on VMs on connected hosts: 12 days."""
    memory_limit_mb: int | None = None
    """``None`` (or -1 in TOML) means unlimited."""
    memory_reservation_mb: int = 0
    reservation_locked_to_max: bool = False
    extra_config: tuple[tuple[str, str], ...] = ()
    no_quickstats: bool = False
    """A powered-on VM whose quickStats carry no memory counters at all (BA901)."""
    resource_pool: str | None = None
    """Name of a scenario resource pool to create the VM in (its host must be in that cluster)."""
    latency_sensitivity: str | None = None
    """config.latencySensitivity.level, e.g. ``high``; unset keeps vSphere's default."""
    ssd_swapped_kb: int = 0
    """summary.quickStats.ssdSwappedMemory is in KB in the API (swap to host cache)."""
    overhead_mb: int = 0
    """summary.quickStats.consumedOverheadMemory (MB)."""
    expect: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class Expectation:
    """A finding a scenario expects: rule and severity on one named entity."""

    entity_type: str
    """``VirtualMachine``, ``HostSystem`` or ``ClusterComputeResource``."""
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
    # model with it (see lab/hostmodel.py).

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


# --------------------------------------------------------------------------- loading


def scenario_dir() -> Path:
    """The directory of the shipped scenarios (inside the installed package)."""
    return Path(str(resources.files("balloon_audit.lab") / "scenarios"))


def list_scenarios() -> list[tuple[str, str]]:
    """(name, one-line description) of every shipped scenario, sorted by name."""
    out = []
    for path in sorted(scenario_dir().glob("*.toml")):
        try:
            description = str(_read_toml(path).get("description", "")).splitlines()[0:1]
        except ScenarioError:
            description = ["(invalid scenario file)"]
        out.append((path.stem, description[0] if description else ""))
    return out


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load and validate a shipped scenario by name, or a TOML file by path."""
    path = _resolve(name_or_path)
    data = _read_toml(path)
    return parse_scenario(data, name=path.stem, source=str(path))


def _resolve(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        if not candidate.is_file():
            raise ScenarioError(str(candidate), ["file not found"])
        return candidate
    shipped = scenario_dir() / f"{name_or_path}.toml"
    if shipped.is_file():
        return shipped
    names = [n for n, _ in list_scenarios()]
    raise ScenarioError(
        str(name_or_path), [f"no shipped scenario of that name (known: {', '.join(names)})"]
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), [f"not valid TOML: {exc}"]) from None
    except OSError as exc:
        raise ScenarioError(str(path), [f"cannot read: {exc.strerror}"]) from None


# --------------------------------------------------------------------------- validation

_TOP_KEYS = {
    "name",
    "description",
    "model",
    "host_defaults",
    "hosts",
    "clusters",
    "vms",
    "vm_defaults",
    "vm_groups",
    "resource_pools",
}
_MODEL_KEYS = {
    "datacenters",
    "clusters",
    "hosts_per_cluster",
    "standalone_hosts",
    "model_vms",
    "esx",
}
_HOST_KEYS = {
    "name",
    "memory_mb",
    "memory_bytes",
    "memory_usage_mb",
    "connection_state",
    "advanced_options",
    "expect",
}
_POOL_KEYS = {
    "name",
    "cluster",
    "parent",
    "memory_limit_mb",
    "memory_reservation_mb",
    "expandable_reservation",
    "expect",
}
_CLUSTER_KEYS = {"name", "expect"}
_VM_VALUE_KEYS = {
    "host",
    "cluster",
    "memory_mb",
    "power_state",
    "template",
    "guest_id",
    "annotation",
    "tools_version_status2",
    "tools_version_status",
    "tools_status",
    "tools_running_status",
    "tools_version",
    "ballooned_mb",
    "swapped_mb",
    "compressed_kb",
    "host_memory_usage_mb",
    "guest_memory_usage_mb",
    "uptime_seconds",
    "memory_limit_mb",
    "memory_reservation_mb",
    "reservation_locked_to_max",
    "extra_config",
    "no_quickstats",
    "resource_pool",
    "latency_sensitivity",
    "ssd_swapped_kb",
    "overhead_mb",
}
_VM_KEYS = _VM_VALUE_KEYS | {"name", "expect"}
_GROUP_KEYS = _VM_VALUE_KEYS | {"name", "count", "start", "hosts", "expect"}
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


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def unknown_keys(self, where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                tip = f" (did you mean '{close[0]}'?)" if close else ""
                self.add(f"{where}.{key}" if where else str(key), f"unknown key{tip}")


def _int(p: _Problems, where: str, value: Any, lo: int = 0, hi: int = INT32_MAX) -> int | None:
    # bool is a subclass of int: reject it explicitly.
    if isinstance(value, bool) or not isinstance(value, int):
        p.add(where, f"expected an integer, got {value!r}")
        return None
    if not lo <= value <= hi:
        p.add(where, f"expected an integer between {lo} and {hi}, got {value}")
        return None
    return value


def _bool(p: _Problems, where: str, value: Any) -> bool | None:
    if not isinstance(value, bool):
        p.add(where, f"expected true or false, got {value!r}")
        return None
    return value


def _str(p: _Problems, where: str, value: Any, *, empty: bool = True, max_len: int = 4096) -> str:
    if not isinstance(value, str):
        p.add(where, f"expected a string, got {value!r}")
        return ""
    if not empty and not value:
        p.add(where, "must not be empty")
    if len(value) > max_len:
        p.add(where, f"longer than {max_len} characters")
    return value


def _enum(p: _Problems, where: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    if not isinstance(value, str) or value not in allowed:
        p.add(where, f"expected one of {', '.join(allowed)}; got {value!r}")
        return None
    return value


def _expect(p: _Problems, where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        p.add(where, f'expected a list like ["BA301:warning"], got {value!r}')
        return ()
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not _EXPECT_RE.match(item):
            p.add(f"{where}[{i}]", f"expected 'BA###:info|warning|critical', got {item!r}")
        else:
            out.append(item)
    if len(set(out)) != len(out):
        p.add(where, "lists the same finding twice")
    return tuple(out)


def _table(p: _Problems, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        p.add(where, f"expected a table, got {type(value).__name__}")
        return {}
    return value


def _tables(p: _Problems, where: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        p.add(where, f"expected an array of tables ([[{where}]])")
        return []
    return value


def parse_scenario(data: Mapping[str, Any], *, name: str, source: str | None = None) -> Scenario:
    """Validate parsed TOML; raise ScenarioError listing every problem."""
    p = _Problems()
    p.unknown_keys("", data, _TOP_KEYS)
    scenario_name = _str(p, "name", data.get("name", name), empty=False, max_len=80)
    description = _str(p, "description", data.get("description", ""))

    model = _parse_model(p, _table(p, "model", data.get("model", {})))
    known_hosts = model.host_names() if model else {}
    known_clusters = model.cluster_names() if model else []

    host_defaults = _table(p, "host_defaults", data.get("host_defaults", {}))
    p.unknown_keys("host_defaults", host_defaults, _HOST_KEYS - {"name", "expect"})
    host_defaults = {k: v for k, v in host_defaults.items() if k in _HOST_KEYS - {"name", "expect"}}
    hosts = []
    raw_hosts = _tables(p, "hosts", data.get("hosts", []))
    _unique(p, "hosts", [str(h.get("name")) for h in raw_hosts])
    for i, raw in enumerate(raw_hosts):
        host = _parse_host(p, f"hosts[{i}]", {**host_defaults, **raw}, known_hosts)
        if host:
            hosts.append(host)
    if host_defaults:
        named = {str(h.get("name")) for h in raw_hosts}
        for host_name in known_hosts:
            if host_name not in named:
                host = _parse_host(
                    p, "host_defaults", {**host_defaults, "name": host_name}, known_hosts
                )
                if host:
                    hosts.append(host)

    clusters = []
    for i, raw in enumerate(_tables(p, "clusters", data.get("clusters", []))):
        where = f"clusters[{i}]"
        p.unknown_keys(where, raw, _CLUSTER_KEYS)
        cname = _str(p, f"{where}.name", raw.get("name"), empty=False)
        if cname and cname not in known_clusters:
            p.add(f"{where}.name", f"no cluster {cname!r} in the model ({known_clusters})")
        clusters.append(ClusterSpec(cname, _expect(p, f"{where}.expect", raw.get("expect", []))))
    _unique(p, "clusters", [c.name for c in clusters])

    pools = _parse_pools(p, data.get("resource_pools", []), known_clusters)

    defaults = _table(p, "vm_defaults", data.get("vm_defaults", {}))
    p.unknown_keys("vm_defaults", defaults, _VM_VALUE_KEYS)
    defaults = {k: v for k, v in defaults.items() if k in _VM_VALUE_KEYS}

    vms: list[VmSpec] = []
    for i, raw in enumerate(_tables(p, "vms", data.get("vms", []))):
        label = raw.get("name") if isinstance(raw.get("name"), str) else "?"
        where = f"vms[{i}] {label!r}"
        p.unknown_keys(where, raw, _VM_KEYS)
        vm = _parse_vm(p, where, {**defaults, **raw}, known_hosts, known_clusters)
        if vm:
            vms.append(vm)
    for i, raw in enumerate(_tables(p, "vm_groups", data.get("vm_groups", []))):
        vms.extend(_parse_group(p, f"vm_groups[{i}]", raw, defaults, known_hosts, known_clusters))
    _unique(p, "vms", [v.api_name for v in vms])
    _check_pool_placement(p, vms, pools, known_hosts)

    if p.items:
        raise ScenarioError(source or name, p.items)
    return Scenario(
        name=scenario_name,
        description=description,
        model=model or ModelSpec(),
        hosts=tuple(hosts),
        clusters=tuple(clusters),
        vms=tuple(vms),
        resource_pools=tuple(pools),
        source=source,
    )


def _unique(p: _Problems, where: str, names: list[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            p.add(where, f"name {n!r} is used twice")
        seen.add(n)


def _parse_model(p: _Problems, raw: dict[str, Any]) -> ModelSpec | None:
    p.unknown_keys("model", raw, _MODEL_KEYS)
    errors = len(p.items)
    esx = _bool(p, "model.esx", raw.get("esx", False))
    if esx:
        for key in _MODEL_KEYS - {"esx", "model_vms"}:
            if key in raw:
                p.add(f"model.{key}", "not allowed with esx = true (one host, no clusters)")
    values = {}
    limits = {
        "datacenters": (1, 20),
        "clusters": (0, 100),
        "hosts_per_cluster": (1, 200),
        "standalone_hosts": (0, 200),
        "model_vms": (0, 20000),
    }
    for key, (lo, hi) in limits.items():
        if key in raw:
            values[key] = _int(p, f"model.{key}", raw[key], lo, hi)
    if len(p.items) != errors:
        return None
    return ModelSpec(esx=bool(esx), **values)  # type: ignore[arg-type]


def _parse_host(
    p: _Problems, where: str, raw: dict[str, Any], known: Mapping[str, str | None]
) -> HostSpec | None:
    p.unknown_keys(where, raw, _HOST_KEYS)
    errors = len(p.items)
    name = _str(p, f"{where}.name", raw.get("name"), empty=False)
    if name and name not in known:
        p.add(f"{where}.name", f"no host {name!r} in the model (known: {', '.join(known)})")
    memory_bytes = None
    if "memory_mb" in raw and "memory_bytes" in raw:
        p.add(where, "give memory_mb or memory_bytes, not both")
    elif "memory_mb" in raw and raw["memory_mb"] is not None:
        mb = _int(p, f"{where}.memory_mb", raw["memory_mb"], 1024, 64 * 1024 * 1024)
        memory_bytes = mb * 1024 * 1024 if mb else None
    elif "memory_bytes" in raw:
        memory_bytes = _int(p, f"{where}.memory_bytes", raw["memory_bytes"], 2**30, 2**46)
    usage = None
    if "memory_usage_mb" in raw:
        usage = _int(p, f"{where}.memory_usage_mb", raw["memory_usage_mb"], 0, INT32_MAX)
        size_mb = (memory_bytes or 4294430720) // (1024 * 1024)
        if usage is not None and usage > size_mb:
            p.add(f"{where}.memory_usage_mb", f"{usage} is more than the host's {size_mb} MB")
    state = _enum(
        p,
        f"{where}.connection_state",
        raw.get("connection_state", "connected"),
        HOST_CONNECTION_STATES,
    )
    options = _host_options(p, f"{where}.advanced_options", raw.get("advanced_options", {}))
    expect = _expect(p, f"{where}.expect", raw.get("expect", []))
    if len(p.items) != errors:
        return None
    return HostSpec(name, memory_bytes, usage, state or "connected", options, expect)


def _host_options(p: _Problems, where: str, raw: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(raw, dict):
        p.add(where, 'expected a table like {"Mem.CtlMaxPercent" = 0}')
        return ()
    out = []
    for key, value in raw.items():
        if key not in HOST_OPTION_KEYS:
            p.add(f"{where}.{key}", f"unknown host option (known: {', '.join(HOST_OPTION_KEYS)})")
            continue
        number = _int(p, f"{where}.{key}", value, 0, 100)
        if number is not None:
            out.append((key, number))
    return tuple(sorted(out))


def _parse_pools(p: _Problems, raw_pools: Any, known_clusters: list[str]) -> list[PoolSpec]:
    pools: list[PoolSpec] = []
    for i, raw in enumerate(_tables(p, "resource_pools", raw_pools)):
        where = f"resource_pools[{i}]"
        p.unknown_keys(where, raw, _POOL_KEYS)
        errors = len(p.items)
        name = _str(p, f"{where}.name", raw.get("name"), empty=False, max_len=80)
        cluster, parent = raw.get("cluster"), raw.get("parent")
        if (cluster is None) == (parent is None):
            p.add(where, "give exactly one of cluster or parent")
        elif cluster is not None and cluster not in known_clusters:
            p.add(f"{where}.cluster", f"no cluster {cluster!r} in the model ({known_clusters})")
        elif parent is not None and parent not in {x.name for x in pools}:
            p.add(f"{where}.parent", f"no resource pool {parent!r} defined before this one")
        limit = _int(p, f"{where}.memory_limit_mb", raw.get("memory_limit_mb", -1), -1, INT32_MAX)
        reservation = _int(p, f"{where}.memory_reservation_mb", raw.get("memory_reservation_mb", 0))
        expandable = _bool(
            p, f"{where}.expandable_reservation", raw.get("expandable_reservation", True)
        )
        expect = _expect(p, f"{where}.expect", raw.get("expect", []))
        if limit not in (None, -1) and (reservation or 0) > (limit or 0):
            p.add(f"{where}.memory_limit_mb", "is below the reservation (vSphere refuses that)")
        if len(p.items) != errors:
            continue
        if parent is not None:
            cluster = next(x.cluster for x in pools if x.name == parent)
        pools.append(
            PoolSpec(
                name=name,
                cluster=cluster,
                parent=parent,
                memory_limit_mb=None if limit == -1 else limit,
                memory_reservation_mb=reservation or 0,
                expandable_reservation=bool(expandable),
                expect=expect,
            )
        )
    _unique(p, "resource_pools", [x.name for x in pools])
    return pools


def _check_pool_placement(
    p: _Problems,
    vms: list[VmSpec],
    pools: list[PoolSpec],
    known_hosts: Mapping[str, str | None],
) -> None:
    """A VM in a pool must sit on a host (or cluster) of the pool's cluster."""
    by_name = {x.name: x for x in pools}
    for vm in vms:
        if vm.resource_pool is None:
            continue
        pool = by_name.get(vm.resource_pool)
        if pool is None:
            p.add(f"vm {vm.name!r}.resource_pool", f"no resource pool {vm.resource_pool!r}")
            continue
        cluster = known_hosts.get(vm.host) if vm.host else vm.cluster
        if cluster != pool.cluster:
            p.add(
                f"vm {vm.name!r}.resource_pool",
                f"pool {pool.name!r} is in cluster {pool.cluster!r}, the VM in {cluster!r}",
            )


def _parse_vm(
    p: _Problems,
    where: str,
    raw: dict[str, Any],
    known_hosts: Mapping[str, str | None],
    known_clusters: list[str],
) -> VmSpec | None:
    errors = len(p.items)
    name = _str(p, f"{where}.name", raw.get("name"), empty=False, max_len=80)
    values: dict[str, Any] = {"name": name}

    host, cluster = raw.get("host"), raw.get("cluster")
    if (host is None) == (cluster is None):
        p.add(where, "give exactly one of host or cluster")
    elif host is not None:
        values["host"] = _str(p, f"{where}.host", host, empty=False)
        if values["host"] and values["host"] not in known_hosts:
            p.add(
                f"{where}.host", f"no host {host!r} in the model (known: {', '.join(known_hosts)})"
            )
    else:
        values["cluster"] = _str(p, f"{where}.cluster", cluster, empty=False)
        if values["cluster"] and values["cluster"] not in known_clusters:
            p.add(f"{where}.cluster", f"no cluster {cluster!r} in the model ({known_clusters})")

    if "memory_mb" in raw:
        values["memory_mb"] = _int(p, f"{where}.memory_mb", raw["memory_mb"], 4, MAX_VM_MEMORY_MB)
    memory_mb = values.get("memory_mb") or VmSpec.memory_mb
    template = _bool(p, f"{where}.template", raw.get("template", False))
    values["template"] = bool(template)
    default_power = "poweredOff" if template else "poweredOn"
    power = _enum(p, f"{where}.power_state", raw.get("power_state", default_power), POWER_STATES)
    values["power_state"] = power or default_power
    if template and power and power != "poweredOff":
        p.add(f"{where}.power_state", "a template is always poweredOff")

    if "guest_id" in raw:
        gid = _str(p, f"{where}.guest_id", raw["guest_id"], empty=False)
        if gid and not _GUEST_ID_RE.match(gid):
            p.add(f"{where}.guest_id", f"expected a guest id like 'rhel9_64Guest', got {gid!r}")
        values["guest_id"] = gid
    if "annotation" in raw:
        values["annotation"] = _str(p, f"{where}.annotation", raw["annotation"], max_len=65535)

    for key, allowed in (
        ("tools_version_status2", TOOLS_VERSION_STATUSES),
        ("tools_version_status", TOOLS_VERSION_STATUSES),
        ("tools_status", TOOLS_STATUSES),
        ("tools_running_status", TOOLS_RUNNING_STATUSES),
    ):
        if key in raw:
            # "" means: leave the property unset (e.g. an old host without toolsVersionStatus2).
            values[key] = None if raw[key] == "" else _enum(p, f"{where}.{key}", raw[key], allowed)
    if "tools_version" in raw:
        tv = raw["tools_version"]
        if isinstance(tv, int) and not isinstance(tv, bool):
            tv = str(tv)
        if not isinstance(tv, str) or not tv.isdigit() or int(tv) > INT32_MAX:
            p.add(f"{where}.tools_version", f'expected a build number like "12352", got {tv!r}')
        else:
            values["tools_version"] = tv

    for key in _COUNTERS:
        if key in raw:
            values[key] = _int(p, f"{where}.{key}", raw[key])
    for key in ("ballooned_mb", "swapped_mb"):
        if (values.get(key) or 0) > memory_mb:
            p.add(f"{where}.{key}", f"{values[key]} is more than memory_mb ({memory_mb})")
    if (values.get("compressed_kb") or 0) > memory_mb * 1024:
        p.add(f"{where}.compressed_kb", f"more than memory_mb ({memory_mb} MB) in KB")

    if "memory_limit_mb" in raw:
        limit = _int(p, f"{where}.memory_limit_mb", raw["memory_limit_mb"], -1, INT32_MAX)
        values["memory_limit_mb"] = None if limit == -1 else limit
    locked = _bool(
        p, f"{where}.reservation_locked_to_max", raw.get("reservation_locked_to_max", False)
    )
    values["reservation_locked_to_max"] = bool(locked)
    if "memory_reservation_mb" in raw:
        res = _int(p, f"{where}.memory_reservation_mb", raw["memory_reservation_mb"], 0, memory_mb)
        values["memory_reservation_mb"] = res or 0
        if locked and res is not None and res != memory_mb:
            p.add(
                f"{where}.memory_reservation_mb",
                "must equal memory_mb when reservation_locked_to_max",
            )
    elif locked:
        values["memory_reservation_mb"] = memory_mb  # vCenter keeps it at the configured size
    limit = values.get("memory_limit_mb")
    if limit is not None and limit < values.get("memory_reservation_mb", 0):
        p.add(f"{where}.memory_limit_mb", "is below the reservation (vSphere refuses that)")

    if "extra_config" in raw:
        values["extra_config"] = _extra_config(p, f"{where}.extra_config", raw["extra_config"])

    if "resource_pool" in raw:
        values["resource_pool"] = _str(p, f"{where}.resource_pool", raw["resource_pool"])
    if "latency_sensitivity" in raw:
        values["latency_sensitivity"] = _enum(
            p, f"{where}.latency_sensitivity", raw["latency_sensitivity"], LATENCY_LEVELS
        )
    if (values.get("ssd_swapped_kb") or 0) > memory_mb * 1024:
        p.add(f"{where}.ssd_swapped_kb", f"more than memory_mb ({memory_mb} MB) in KB")

    no_qs = _bool(p, f"{where}.no_quickstats", raw.get("no_quickstats", False))
    values["no_quickstats"] = bool(no_qs)
    if no_qs:
        for key in _COUNTERS:
            if values.get(key):
                p.add(f"{where}.{key}", "contradicts no_quickstats = true")
    values["expect"] = _expect(p, f"{where}.expect", raw.get("expect", []))

    if len(p.items) != errors:
        return None
    return VmSpec(**values)


def _extra_config(p: _Problems, where: str, raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict):
        p.add(where, 'expected a table of string values, e.g. {"sched.mem.maxmemctl" = "0"}')
        return ()
    out = []
    for key, value in raw.items():
        if key.upper().startswith("SET.") or key == "govcsim":
            p.add(f"{where}.{key}", "reserved for the simulator; use the typed keys instead")
        elif not _EXTRA_KEY_RE.match(key):
            p.add(f"{where}.{key}", "not a valid advanced-setting key")
        elif not isinstance(value, str):
            p.add(
                f"{where}.{key}", f'values are strings in the API: write "{value}", not {value!r}'
            )
        elif value == "":
            p.add(f"{where}.{key}", "an empty value deletes the key; leave it out instead")
        else:
            out.append((key, value))
    return tuple(sorted(out))


def _parse_group(
    p: _Problems,
    where: str,
    raw: dict[str, Any],
    defaults: Mapping[str, Any],
    known_hosts: Mapping[str, str | None],
    known_clusters: list[str],
) -> list[VmSpec]:
    p.unknown_keys(where, raw, _GROUP_KEYS)
    errors = len(p.items)
    count = _int(p, f"{where}.count", raw.get("count"), 1, 50000)
    start = _int(p, f"{where}.start", raw.get("start", 1), 0, 10**7)
    pattern = _str(p, f"{where}.name", raw.get("name"), empty=False)
    try:
        pattern.format(n=0)
        if "{n" not in pattern:
            raise ValueError
    except (ValueError, KeyError, IndexError):
        p.add(f"{where}.name", 'expected a pattern with {n}, e.g. "web-{n:04d}"')
    hosts = raw.get("hosts")
    if hosts is not None and (
        not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts)
    ):
        p.add(f"{where}.hosts", "expected a non-empty list of host names")
        hosts = None
    if len(p.items) != errors or count is None or start is None:
        return []
    base = {k: v for k, v in raw.items() if k not in {"count", "start", "hosts", "name"}}
    first = _parse_vm(
        p,
        f"{where}",
        {
            **defaults,
            **base,
            "name": pattern.format(n=start),
            **({"host": hosts[0]} if hosts else {}),
        },
        known_hosts,
        known_clusters,
    )
    if first is None:
        return []
    out = [first]
    for i in range(1, count):
        host = hosts[i % len(hosts)] if hosts else first.host
        out.append(replace(first, name=pattern.format(n=start + i), host=host))
    for h in set(hosts or []):
        if h not in known_hosts:
            p.add(f"{where}.hosts", f"no host {h!r} in the model")
    return out
