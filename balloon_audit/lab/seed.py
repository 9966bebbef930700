"""Create and seed a scenario's VMs in a running vcsim over the vSphere API.

First the scenario's host advanced options (``UpdateOptions``, e.g.
Mem.CtlMaxPercent) and resource pools (``CreateResourcePool``, parents first)
are set up. Then one CreateVM_Task per VM carries everything: memory,
allocation, latency sensitivity, annotation, guest id, real extraConfig keys,
and the vcsim-only ``SET.<property.path>`` keys that write read-only
properties (quickStats, guest Tools state). The tasks are submitted together
and waited for with one PropertyCollector poll per round; then power-on,
suspend and MarkAsTemplate follow the same way.

vcsim cannot be told what the realtime ``mem.state`` counter of a host says:
its PerformanceManager serves canned samples and has none for it, so the audit
falls back to its quickStats estimate there (see docs/rules.md).

(pyVim's WaitForTasks is quadratic here: 300 power-on tasks took 35 s with it,
0.3 s with a single RetrieveContents poll.)

This module writes to the simulator only; it never talks to anything but the
vcsim the lab started on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from balloon_audit import vsphere as vs
from balloon_audit.errors import LabError
from balloon_audit.lab.scenario_model import PoolSpec, Scenario, VmSpec

DEFAULT_UPTIME_S = 12 * 24 * 3600
VM_CONNECTION_STATE = "runtime.connectionState"
"""VirtualMachine.runtime.connectionState: not read by the audit (the host's is)."""
_BATCH = 1000


@dataclass(frozen=True)
class _Placement:
    folder: Any
    pool: Any
    host: Any | None
    datastore: str


def set_values(vm: VmSpec, host_connected: bool = True) -> list[tuple[str, int | str]]:
    """The ``SET.`` property paths and values for one VM (ints stay ints, strings strings).

    vcsim does not derive duplicated fields, so ``guest.*`` and ``summary.guest.*``
    are both written. A powered-on VM on a connected host gets plausible
    consumed/active memory and uptime unless the scenario sets them or asks for
    ``no_quickstats``.
    """
    out: list[tuple[str, int | str]] = []

    def guest_and_summary(prop: vs.Prop, value: str) -> None:
        out.append((prop.path, value))
        out.append((f"summary.{prop.path}", value))  # summary.guest.* mirrors guest.*

    if vm.tools_version_status2:
        guest_and_summary(vs.VM_TOOLS_STATUS2, vm.tools_version_status2)
    if vm.tools_version_status:
        guest_and_summary(vs.VM_TOOLS_VERSION_STATUS, vm.tools_version_status)
    guest_and_summary(vs.VM_TOOLS_STATUS, vm.effective_tools_status)
    guest_and_summary(vs.VM_TOOLS_RUNNING, vm.effective_tools_running_status)
    out.append((vs.VM_TOOLS_VERSION.path, vm.effective_tools_version))

    # Properties the audit does not read, set so that vcsim looks like a real vCenter.
    tools_up = vm.powered_on and vm.effective_tools_running_status != "guestToolsNotRunning"
    out.append(("guest.guestState", "running" if tools_up else "notRunning"))
    if tools_up:
        out.append(("guest.guestId", vm.guest_id))
        out.append(("summary.quickStats.guestHeartbeatStatus", "green"))
    if not host_connected:
        # The VM's own connection state (VirtualMachine.runtime.connectionState).
        out.append((VM_CONNECTION_STATE, "disconnected"))
        out.append((f"summary.{VM_CONNECTION_STATE}", "disconnected"))

    live = vm.powered_on and host_connected and not vm.no_quickstats
    counters: list[tuple[vs.Prop, int | None]] = [
        (vs.VM_BALLOONED, vm.ballooned_mb),
        (vs.VM_SWAPPED, vm.swapped_mb),
        (vs.VM_COMPRESSED, vm.compressed_kb),
        (vs.VM_SSD_SWAPPED, vm.ssd_swapped_kb),
        (vs.VM_OVERHEAD, vm.overhead_mb),
        (
            vs.VM_HOST_MEMORY_USAGE,
            _default(vm.host_memory_usage_mb, vm.memory_mb * 8 // 10, live),
        ),
        (
            vs.VM_GUEST_MEMORY_USAGE,
            _default(vm.guest_memory_usage_mb, vm.memory_mb // 4, live),
        ),
        (vs.VM_UPTIME, _default(vm.uptime_seconds, DEFAULT_UPTIME_S, live)),
    ]
    for prop, value in counters:
        if value:  # zero is what an unset counter reads as anyway
            out.append((prop.path, int(value)))
    return out


def _default(value: int | None, default: int, live: bool) -> int | None:
    if value is not None:
        return value
    return default if live else None


def config_spec(vm: VmSpec, datastore: str, host_connected: bool = True) -> vim.vm.ConfigSpec:
    extra = [vim.option.OptionValue(key=k, value=v) for k, v in vm.extra_config]
    extra += [
        vim.option.OptionValue(key=f"SET.{path}", value=value)
        for path, value in set_values(vm, host_connected)
    ]
    allocation = vim.ResourceAllocationInfo(
        reservation=vm.memory_reservation_mb,
        limit=-1 if vm.memory_limit_mb is None else vm.memory_limit_mb,
        shares=vim.SharesInfo(level="normal", shares=10 * vm.memory_mb),
    )
    spec = vim.vm.ConfigSpec(
        name=vm.name,
        memoryMB=vm.memory_mb,
        numCPUs=2,
        guestId=vm.guest_id,
        files=vim.vm.FileInfo(vmPathName=f"[{datastore}]"),
        memoryAllocation=allocation,
        memoryReservationLockedToMax=vm.reservation_locked_to_max,
        extraConfig=extra,
    )
    if vm.annotation:
        spec.annotation = vm.annotation
    if vm.latency_sensitivity:
        spec.latencySensitivity = vim.LatencySensitivity(level=vm.latency_sensitivity)
    return spec


def seed(
    host: str,
    port: int,
    scenario: Scenario,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Set up the scenario in the vcsim at host:port; return how many VMs were created."""
    if not (
        scenario.vms or scenario.resource_pools or any(h.advanced_options for h in scenario.hosts)
    ):
        return 0
    with lab_session(host, port) as si:
        try:
            return _seed(si, scenario, progress or (lambda _msg: None))
        except vmodl.MethodFault as fault:
            raise LabError(f"vcsim refused a seeding call: {_fault_text(fault)}") from None


@contextmanager
def lab_session(host: str, port: int) -> Iterator[Any]:
    """A session to the lab's vcsim, logged out at the end; a failed login is a LabError."""
    try:
        si = SmartConnect(
            host=host, port=port, user="lab", pwd="lab", disableSslCertValidation=True
        )
    except Exception as exc:  # pyVmomi raises many unrelated types here
        raise LabError(f"cannot connect to vcsim at {host}:{port}: {type(exc).__name__}") from None
    try:
        yield si
    finally:
        Disconnect(si)


def _seed(si: Any, scenario: Scenario, progress: Callable[[str], None]) -> int:
    started = time.monotonic()
    created = _create_vms(si, scenario)
    progress(f"created {len(created)} VMs in {time.monotonic() - started:.1f}s")
    by_name = dict(zip([vm.name for vm in scenario.vms], created, strict=True))
    _set_power_states(si, scenario, by_name)
    progress(f"seeded {len(created)} VMs in {time.monotonic() - started:.1f}s")
    return len(created)


def _create_vms(si: Any, scenario: Scenario) -> list[Any]:
    """Create every scenario VM where it is placed (one batch of tasks); return the VMs."""
    hosts, clusters = _inventory(si)
    _set_host_options(scenario, hosts)
    pools = _create_pools(scenario.resource_pools, clusters)
    tasks: list[Any] = []
    for vm in scenario.vms:
        where = hosts.get(vm.host) if vm.host else clusters.get(vm.cluster or "")
        if where is None:
            raise LabError(f"VM {vm.name!r}: placement {vm.host or vm.cluster!r} not in vcsim")
        spec = config_spec(vm, where.datastore, scenario.host_connected(vm.host))
        pool = pools[vm.resource_pool] if vm.resource_pool else where.pool
        if where.host is not None:
            tasks.append(where.folder.CreateVM_Task(config=spec, pool=pool, host=where.host))
        else:
            tasks.append(where.folder.CreateVM_Task(config=spec, pool=pool))
    return wait_for_tasks(si, tasks, [f"create {vm.name!r}" for vm in scenario.vms])


def _set_power_states(si: Any, scenario: Scenario, by_name: dict[str, Any]) -> None:
    """Power on, suspend, and mark templates, as the scenario says."""
    to_start = [vm for vm in scenario.vms if vm.power_state in ("poweredOn", "suspended")]
    wait_for_tasks(
        si,
        [by_name[vm.name].PowerOnVM_Task() for vm in to_start],
        [f"power on {vm.name!r}" for vm in to_start],
    )
    to_suspend = [vm for vm in scenario.vms if vm.power_state == "suspended"]
    wait_for_tasks(
        si,
        [by_name[vm.name].SuspendVM_Task() for vm in to_suspend],
        [f"suspend {vm.name!r}" for vm in to_suspend],
    )
    for vm in scenario.vms:
        if vm.template:
            by_name[vm.name].MarkAsTemplate()


def _set_host_options(scenario: Scenario, hosts: dict[str, _Placement]) -> None:
    """UpdateOptions per host that has scenario advanced options (vcsim keeps and serves them).

    A model served with ``-load`` has the options in its files already (and no host
    OptionManager to call): see lab/hostmodel.py.
    """
    if scenario.needs_load:
        return
    for spec in scenario.hosts:
        if not spec.advanced_options:
            continue
        host = hosts[spec.name].host
        assert host is not None  # a host placement always names its host
        changes = [vim.option.OptionValue(key=k, value=v) for k, v in spec.advanced_options]
        host.configManager.advancedOption.UpdateOptions(changedValue=changes)


def _allocation(limit_mb: int | None, reservation_mb: int, expandable: bool) -> Any:
    return vim.ResourceAllocationInfo(
        limit=-1 if limit_mb is None else limit_mb,
        reservation=reservation_mb,
        expandableReservation=expandable,
        shares=vim.SharesInfo(level="normal", shares=163840),
    )


def _create_pools(specs: Sequence[PoolSpec], clusters: dict[str, _Placement]) -> dict[str, Any]:
    """Create the scenario's pools (parents come first in the file); name -> pool."""
    created: dict[str, Any] = {}
    for spec in specs:
        parent = created[spec.parent] if spec.parent else clusters[spec.cluster or ""].pool
        config = vim.ResourceConfigSpec(
            cpuAllocation=_allocation(None, 0, True),
            memoryAllocation=_allocation(
                spec.memory_limit_mb, spec.memory_reservation_mb, spec.expandable_reservation
            ),
        )
        created[spec.name] = parent.CreateResourcePool(name=spec.name, spec=config)
    return created


def _inventory(si: Any) -> tuple[dict[str, _Placement], dict[str, _Placement]]:
    """Host name -> placement, cluster name -> placement (host left to vcsim)."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.ComputeResource], True)
    hosts: dict[str, _Placement] = {}
    clusters: dict[str, _Placement] = {}
    try:
        for cr in view.view:
            dc = cr.parent
            while not isinstance(dc, vim.Datacenter):
                dc = dc.parent
            pool = cr.resourcePool
            folder = dc.vmFolder
            members = list(cr.host)
            for host in members:
                hosts[host.name] = _Placement(folder, pool, host, _datastore(host))
            if isinstance(cr, vim.ClusterComputeResource) and members:
                clusters[cr.name] = _Placement(folder, pool, None, _datastore(members[0]))
    finally:
        view.DestroyView()
    return hosts, clusters


def _datastore(host: Any) -> str:
    """Name of the host's first datastore that exists.

    A model loaded from ``-esx`` keeps a reference to the static ESX template's
    datastore, which the saved inventory does not contain; skip such references.
    """
    for ds in host.datastore:
        try:
            return str(ds.name)
        except vmodl.fault.ManagedObjectNotFound:
            continue
    raise LabError(f"host {host.name!r} has no datastore to create VMs on")


def wait_for_tasks(
    si: Any, tasks: Sequence[Any], labels: Sequence[str], timeout_s: float = 300.0
) -> list[Any]:
    """Wait for many tasks with one PropertyCollector poll per round; return their results."""
    results: list[Any] = []
    for offset in range(0, len(tasks), _BATCH):
        results.extend(
            _wait_batch(
                si,
                tasks[offset : offset + _BATCH],
                labels[offset : offset + _BATCH],
                timeout_s,
            )
        )
    return results


def _wait_batch(si: Any, tasks: Sequence[Any], labels: Sequence[str], timeout_s: float) -> list:
    if not tasks:
        return []
    pc = si.content.propertyCollector
    spec = vmodl.query.PropertyCollector.FilterSpec(
        objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=t) for t in tasks],
        propSet=[
            vmodl.query.PropertyCollector.PropertySpec(
                type=vim.Task, pathSet=["info.state", "info.result", "info.error"]
            )
        ],
    )
    index = {t._moId: i for i, t in enumerate(tasks)}
    states = _poll_until_done(pc, spec, index, timeout_s)
    failed = [i for i, s in states.items() if s.get("info.state") == "error"]
    if failed:
        first = failed[0]
        raise LabError(
            f"{len(failed)} seeding task(s) failed; first: {labels[first]}: "
            f"{_fault_text(states[first].get('info.error'))}"
        )
    return [states[i].get("info.result") for i in range(len(tasks))]


def _poll_until_done(
    pc: Any, spec: Any, index: Mapping[str, int], timeout_s: float
) -> dict[int, dict[str, Any]]:
    """Poll the tasks' states (task number -> property -> value) until none is pending."""
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        states: dict[int, dict[str, Any]] = {}
        for oc in pc.RetrieveContents([spec]):
            states[index[oc.obj._moId]] = {p.name: p.val for p in oc.propSet}
        pending = [i for i, s in states.items() if s.get("info.state") in ("queued", "running")]
        if not pending and len(states) == len(index):
            return states
        if time.monotonic() > deadline:
            raise LabError(f"{len(pending)} vcsim tasks did not finish in {timeout_s:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _fault_text(fault: Any) -> str:
    if fault is None:
        return "unknown error"
    inner = getattr(fault, "fault", None)
    message = getattr(fault, "localizedMessage", None) or getattr(fault, "msg", None)
    name = type(inner or fault).__name__
    return f"{name}: {message}" if message else name
