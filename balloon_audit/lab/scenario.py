"""Lab scenarios: TOML files describing a vcsim inventory and the findings it should produce.

This module finds and reads scenario files and validates them with the models
of ``scenario_model.py``, collecting every problem (each naming its key, e.g.
``vms[3] 'web-01'.ballooned_mb: expected an integer, got '12'``) before
anything is sent to the simulator.

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
    [[vms]]
    name = "web-01"
    host = "DC0_C0_H0"
    memory_mb = 4096
    ballooned_mb = 512
    expect = ["BA301:info"]
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from balloon_audit.errors import LabError
from balloon_audit.lab.scenario_model import (
    HOST_CONNECTION_STATES,
    INT32_MAX,
    MAX_VM_MEMORY_MB,
    POWER_STATES,
    SEVERITIES,
    TOOLS_RUNNING_STATUSES,
    TOOLS_STATUSES,
    TOOLS_VERSION_STATUSES,
    ClusterSpec,
    Expectation,
    HostSpec,
    Inventory,
    ModelSpec,
    PoolSpec,
    Scenario,
    ScenarioFile,
    VmGroup,
    VmSpec,
    api_name,
)
from balloon_audit.validation import Loc, dotted, problems

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "HOST_CONNECTION_STATES",
    "INT32_MAX",
    "MAX_VM_MEMORY_MB",
    "POWER_STATES",
    "SEVERITIES",
    "TOOLS_RUNNING_STATUSES",
    "TOOLS_STATUSES",
    "TOOLS_VERSION_STATUSES",
    "ClusterSpec",
    "Expectation",
    "HostSpec",
    "ModelSpec",
    "PoolSpec",
    "Scenario",
    "ScenarioError",
    "VmSpec",
    "api_name",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "scenario_dir",
    "tomllib",
]

M = TypeVar("M", bound=BaseModel)


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


class _Problems:
    """Validates tables one by one and collects every problem, worded with its key path."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.items: list[str] = []

    def check(
        self, model: type[M], raw: Any, loc: Loc = (), inventory: Inventory | None = None
    ) -> M | None:
        try:
            return model.model_validate(raw, context=inventory)
        except ValidationError as exc:
            for problem in problems(exc, model):
                self.items.append(f"{dotted(loc + problem.loc, self._label)}: {problem.message}")
            return None

    def _label(self, loc: Loc) -> str:
        """VMs are named after their index: ``vms[3] 'web-01'``."""
        if len(loc) != 2 or loc[0] != "vms" or not isinstance(loc[1], int):
            return ""
        name = self.data["vms"][loc[1]].get("name")
        return f" {name if isinstance(name, str) else '?'!r}"

    def each(
        self, model: type[M], section: str, tables: Iterable[Any], inventory: Inventory
    ) -> list[M]:
        """The valid ones of ``section``'s tables (problems with the others are recorded)."""
        checked = [self.check(model, raw, (section, i), inventory) for i, raw in enumerate(tables)]
        return [item for item in checked if item is not None]

    def unique(self, where: str, names: list[str]) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                self.items.append(f"{where}: name {name!r} is used twice")
            seen.add(name)


def parse_scenario(data: Mapping[str, Any], *, name: str, source: str | None = None) -> Scenario:
    """Validate parsed TOML; raise ScenarioError listing every problem."""
    p = _Problems(data)
    top = p.check(ScenarioFile, data)
    if top is None:
        raise ScenarioError(source or name, p.items)
    inventory = top.model.inventory()
    hosts = _hosts(p, top, data.get("host_defaults", {}), inventory)
    clusters = p.each(ClusterSpec, "clusters", top.clusters, inventory)
    vms = _vms(p, top, data.get("vm_defaults", {}), inventory)
    pools = _pools(p, top, inventory)
    _pool_placement(p, vms, pools, inventory)
    p.unique("hosts", [str(raw.get("name")) for raw in top.hosts])
    p.unique("clusters", [c.name for c in clusters])
    p.unique("vms", [vm.api_name for vm in vms])
    if p.items:
        raise ScenarioError(source or name, p.items)
    return Scenario(
        name=top.name or name,
        description=top.description,
        model=top.model,
        hosts=tuple(hosts),
        clusters=tuple(clusters),
        vms=tuple(vms),
        resource_pools=tuple(pools),
        source=source,
    )


def _hosts(
    p: _Problems, top: ScenarioFile, defaults: Mapping[str, Any], inventory: Inventory
) -> list[HostSpec]:
    """The listed hosts, then (when there are host defaults) every other model host."""
    hosts = p.each(HostSpec, "hosts", [{**defaults, **raw} for raw in top.hosts], inventory)
    if not defaults:
        return hosts
    listed = {str(raw.get("name")) for raw in top.hosts}
    for host in inventory.hosts:
        if host not in listed:
            spec = p.check(HostSpec, {**defaults, "name": host}, ("host_defaults",), inventory)
            hosts += [spec] if spec is not None else []
    return hosts


def _vms(
    p: _Problems, top: ScenarioFile, defaults: Mapping[str, Any], inventory: Inventory
) -> list[VmSpec]:
    vms = p.each(VmSpec, "vms", [{**defaults, **raw} for raw in top.vms], inventory)
    for i, raw in enumerate(top.vm_groups):
        group = p.check(VmGroup, {**defaults, **raw}, ("vm_groups", i), inventory)
        if group is None:
            continue
        first = p.check(VmSpec, group.first_vm(raw, defaults), ("vm_groups", i), inventory)
        if first is not None:
            vms += group.expand(first)
    return vms


def _pools(p: _Problems, top: ScenarioFile, inventory: Inventory) -> list[PoolSpec]:
    """Pools in file order; a parent must be defined before its children."""
    pools = p.each(PoolSpec, "resource_pools", top.resource_pools, inventory)
    seen: set[str] = set()
    for i, pool in enumerate(pools):
        if pool.parent is not None and pool.parent not in seen:
            p.items.append(
                f"resource_pools[{i}].parent: no resource pool {pool.parent!r} defined before it"
            )
        seen.add(pool.name)
    p.unique("resource_pools", [pool.name for pool in pools])
    return pools


def _pool_placement(
    p: _Problems, vms: list[VmSpec], pools: list[PoolSpec], inventory: Inventory
) -> None:
    """A VM in a pool must sit on a host (or cluster) of the pool's cluster."""
    scenario = Scenario(name="", description="", resource_pools=tuple(pools))
    names = {pool.name for pool in pools}
    for vm in vms:
        if vm.resource_pool is None:
            continue
        where = f"vms {vm.name!r}.resource_pool"
        if vm.resource_pool not in names:
            p.items.append(f"{where}: no resource pool {vm.resource_pool!r}")
            continue
        cluster = inventory.hosts.get(vm.host) if vm.host else vm.cluster
        pool_cluster = scenario.pool_cluster(vm.resource_pool)
        if cluster != pool_cluster:
            p.items.append(
                f"{where}: pool {vm.resource_pool!r} is in cluster {pool_cluster!r}, "
                f"the VM in {cluster!r}"
            )
