"""Where one VM's memory went: the breakdown ``balloon-audit vm`` shows, top to bottom.

Pure (no pyVmomi): a function of the VM, its host and its enclosing resource pools as
collected. Every line carries its value, unit and the vSphere API path it comes from
(:mod:`balloon_audit.vsphere`), so the operator can check each figure in the client.

- **limit**: the VM's own and every enclosing pool's; the tightest one applies (a pool
  limit is shared by all the VMs in the pool, so it is an upper bound for this VM).
- **balloon cap**: the most the balloon driver may reclaim, the smallest of the host's
  ``Mem.CtlMaxPercent`` (65 % by default, 0 = no ballooning on the host) of configured
  memory, ``sched.mem.maxmemctl``, and configured minus reserved memory (a reserved page
  cannot be ballooned) -- the same model the rules use (``effective_balloon_cap_mb``).
- **host state**: the VMkernel's ``mem.state`` when it was read, else the estimate from
  free memory against minFree (:mod:`balloon_audit.memstate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from balloon_audit import memstate
from balloon_audit import vsphere as vs
from balloon_audit.model import VM, Host, ResourcePool
from balloon_audit.rules.common import effective_balloon_cap_mb, parse_int

DEFAULT_CTL_MAX_PCT = 65

ALLOCATION, RECLAIMED, USAGE, HOST = "allocation", "reclaimed", "usage", "host"
SECTIONS = (ALLOCATION, RECLAIMED, USAGE, HOST)
SECTION_TITLES = {
    ALLOCATION: "Allocation",
    RECLAIMED: "Reclaimed by the host",
    USAGE: "Usage",
    HOST: "Host",
}


@dataclass(frozen=True)
class Line:
    """One figure of the breakdown."""

    section: str
    key: str
    """Stable identifier (``ballooned``, ``limit_pool:resgroup-3``): the JSON's ``key``."""
    label: str
    value: Any
    unit: str = ""
    path: str = ""
    """Where the value comes from: a vSphere API path, or how it is derived."""
    note: str = ""


@dataclass(frozen=True)
class Segment:
    """A part of the configured memory in the stacked bar."""

    key: str
    label: str
    mb: float


@dataclass(frozen=True)
class BalloonCap:
    mb: float | None
    set_by: str
    """What sets the cap, in words: ``host Mem.CtlMaxPercent = 0 (ballooning off)`` ..."""
    ctl_max_pct: float
    ctl_max_read: bool
    """False when the host's Mem.CtlMaxPercent was not read and the default is assumed."""
    terms: dict[str, float | int | None]


@dataclass(frozen=True)
class HostMemoryState:
    state: str | None
    source: str
    """``mem.state`` (the VMkernel's own counter), ``estimate`` or ``unknown``."""
    free_mb: float | None
    min_free_mb: float | None
    min_free_rule: str
    free_pct_of_min_free: float | None


@dataclass(frozen=True)
class Breakdown:
    configured_mb: int | None
    lines: tuple[Line, ...]
    segments: tuple[Segment, ...]
    effective_limit_mb: int | None
    limit_set_by: str
    cap: BalloonCap
    host_state: HostMemoryState | None

    def section(self, name: str) -> list[Line]:
        return [line for line in self.lines if line.section == name]

    def value(self, key: str) -> Any:
        return next((line.value for line in self.lines if line.key == key), None)


def pool_chain(vm: VM, pools: Sequence[ResourcePool]) -> list[ResourcePool]:
    """The pools enclosing ``vm``, innermost first (root pools are not in the model)."""
    by_moid = {p.moid: p for p in pools if p.server == vm.server}
    chain: list[ResourcePool] = []
    moid = vm.resource_pool_moid
    while moid is not None and moid in by_moid and len(chain) < 64:
        chain.append(by_moid[moid])
        moid = by_moid[moid].parent_moid
    return chain


def effective_limit(vm: VM, chain: Sequence[ResourcePool]) -> tuple[int | None, str]:
    """The tightest memory limit over the VM and its pools, and what sets it."""
    candidates: list[tuple[int, str]] = []
    if vm.memory_limit_mb is not None:
        candidates.append((vm.memory_limit_mb, "the VM's own limit"))
    for pool in chain:
        if pool.memory_limit_mb is not None:
            kind = "vApp" if pool.is_vapp else "resource pool"
            candidates.append((pool.memory_limit_mb, f'{kind} "{pool.name}" (shared by its VMs)'))
    if not candidates:
        return None, "no limit: unlimited"
    return min(candidates, key=lambda c: c[0])


def balloon_cap(vm: VM, host: Host | None, default_pct: float = DEFAULT_CTL_MAX_PCT) -> BalloonCap:
    """The effective balloon cap and what sets it (see the module docstring)."""
    read_pct = host.ctl_max_pct if host is not None else None
    read = read_pct is not None
    pct = float(read_pct) if read_pct is not None else default_pct
    cap, terms = effective_balloon_cap_mb(vm, pct)
    if cap is None:
        return BalloonCap(None, "unknown: configured memory not reported", pct, read, terms)
    return BalloonCap(cap, _cap_reason(vm, cap, terms, pct, read), pct, read, terms)


def _cap_reason(
    vm: VM, cap: float, terms: dict[str, float | int | None], pct: float, read: bool
) -> str:
    source = "" if read else ", ESXi's default: not read from the host"
    if terms["host_ctl_max_mb"] == cap and pct <= 0:
        return "host Mem.CtlMaxPercent = 0: ballooning is off on this host"
    if terms["maxmemctl_mb"] == cap:
        if cap == 0:
            return "sched.mem.maxmemctl = 0: the balloon driver is disabled for this VM"
        return f"sched.mem.maxmemctl = {parse_int(vm.maxmemctl)} MB"
    if terms["host_ctl_max_mb"] == cap:
        return f"host Mem.CtlMaxPercent = {pct:g} % of configured memory{source}"
    return "the reservation: reserved memory cannot be ballooned"


def host_memory_state(host: Host | None) -> HostMemoryState | None:
    """The host's memory state, from ``mem.state`` when read, else estimated."""
    if host is None:
        return None
    min_pct = host.min_free_pct or 0
    rule = memstate.min_free_rule(host.product_version, min_pct)
    estimate = None
    if host.memory_size_mb and host.memory_usage_mb is not None:
        estimate = memstate.estimate(
            host.memory_size_mb, host.memory_usage_mb, host.product_version, min_pct
        )
    counted = memstate.state_from_counter(host.mem_state, host.product_version)
    if counted is not None:
        state, source = counted, "mem.state"
    elif estimate is not None:
        state, source = estimate.state, "estimate"
    else:
        state, source = None, "unknown"
    return HostMemoryState(
        state=state,
        source=source,
        free_mb=estimate.free_mb if estimate else None,
        min_free_mb=estimate.min_free_mb if estimate else None,
        min_free_rule=rule,
        free_pct_of_min_free=estimate.free_pct_of_min_free if estimate else None,
    )


def _prop_line(section: str, key: str, prop: vs.Prop, value: Any, note: str = "") -> Line:
    label = prop.label.rsplit(" (", 1)[0]
    return Line(section, key, label, value, prop.unit, prop.describe(), note)


def _allocation(
    vm: VM, chain: Sequence[ResourcePool], limit: tuple[int | None, str], cap: BalloonCap
) -> list[Line]:
    lines = [
        _prop_line(ALLOCATION, "configured", vs.VM_MEMORY, vm.memory_mb),
        _prop_line(ALLOCATION, "limit_vm", vs.VM_LIMIT, vm.memory_limit_mb, "unset = unlimited"),
    ]
    for pool in chain:
        kind = "vApp" if pool.is_vapp else "pool"
        lines.append(
            Line(ALLOCATION, f"limit_pool:{pool.moid}", f'Limit of {kind} "{pool.name}"',
                 pool.memory_limit_mb, "MB", f"{pool.moid} {vs.POOL_LIMIT.describe()}",
                 "unset = unlimited")
        )  # fmt: skip
    limit_mb, set_by = limit
    lines += [
        Line(ALLOCATION, "limit_effective", "Effective limit", limit_mb, "MB",
             "min(VM limit, pool limits)", set_by),
        _prop_line(ALLOCATION, "reservation", vs.VM_RESERVATION, vm.memory_reservation_mb),
        _prop_line(ALLOCATION, "locked_to_max", vs.VM_LOCKED_TO_MAX, vm.reservation_locked_to_max),
        Line(ALLOCATION, "maxmemctl", vs.MAXMEMCTL_KEY, vm.maxmemctl, "MB",
             vs.VM_MAXMEMCTL.path, "unset = no per-VM cap"),
        Line(ALLOCATION, "ctl_max_pct", "Host Mem.CtlMaxPercent", cap.ctl_max_pct, "%",
             vs.HOST_CTL_MAX.path,
             "read from the host" if cap.ctl_max_read else "not read: ESXi's default assumed"),
        Line(ALLOCATION, "balloon_cap", "Effective balloon cap", cap.mb, "MB",
             "min(CtlMaxPercent × configured, maxmemctl, configured − reservation)", cap.set_by),
    ]  # fmt: skip
    return lines


def _runtime(vm: VM) -> list[Line]:
    def value(v: float | int | None) -> float | int | None:
        return vm.runtime_value(v)

    return [
        _prop_line(RECLAIMED, "ballooned", vs.VM_BALLOONED, value(vm.ballooned_mb)),
        _prop_line(RECLAIMED, "compressed", vs.VM_COMPRESSED, value(vm.compressed_mb)),
        _prop_line(RECLAIMED, "swapped", vs.VM_SWAPPED, value(vm.swapped_mb)),
        _prop_line(RECLAIMED, "ssd_swapped", vs.VM_SSD_SWAPPED, value(vm.ssd_swapped_mb),
                   vs.VM_SSD_SWAPPED.note),
        _prop_line(USAGE, "consumed", vs.VM_HOST_MEMORY_USAGE, value(vm.host_memory_usage_mb),
                   "host memory backing the VM"),
        _prop_line(USAGE, "active", vs.VM_GUEST_MEMORY_USAGE, value(vm.guest_memory_usage_mb),
                   "memory the guest touched recently (estimate)"),
        _prop_line(USAGE, "overhead", vs.VM_OVERHEAD, value(vm.overhead_mb)),
    ]  # fmt: skip


def _host_lines(host: Host | None, state: HostMemoryState | None) -> list[Line]:
    if host is None or state is None:
        return [Line(HOST, "host", "Host", None, "", vs.VM_HOST.path, "unknown")]
    source = {
        "mem.state": "the VMkernel's realtime mem.state counter",
        "estimate": "estimated from free memory against minFree (mem.state not read)",
    }.get(state.source, "not known")
    effect = memstate.STATE_EFFECT.get(state.state or "", "")
    return [
        Line(HOST, "host", "Host", host.name, "", vs.VM_HOST.path, host.connection_state or ""),
        _prop_line(HOST, "host_memory", vs.HOST_MEMORY_SIZE, host.memory_size_mb),
        _prop_line(HOST, "host_used", vs.HOST_MEMORY_USAGE, host.memory_usage_mb),
        Line(HOST, "host_free", "Free", state.free_mb, "MB", "memory − used"),
        Line(HOST, "min_free", "minFree", state.min_free_mb, "MB", vs.HOST_MIN_FREE.path,
             state.min_free_rule),
        Line(HOST, "free_pct_of_min_free", "Free of minFree", state.free_pct_of_min_free, "%",
             "free ÷ minFree"),
        Line(HOST, "host_state", "Memory state", state.state, "", vs.HOST_MEM_STATE.path,
             f"{source}; {effect}" if effect else source),
    ]  # fmt: skip


def segments(vm: VM) -> list[Segment]:
    """Configured memory split into ballooned, compressed, swapped, backed and the rest."""
    configured = vm.memory_mb or 0
    parts = [  # reclaimed first: consumed may overlap them in a simulator's figures
        ("ballooned", "ballooned", vm.runtime_value(vm.ballooned_mb)),
        ("compressed", "compressed", vm.runtime_value(vm.compressed_mb)),
        ("swapped", "swapped", vm.runtime_value(vm.swapped_mb)),
        ("consumed", "in host memory", vm.runtime_value(vm.host_memory_usage_mb)),
    ]
    out: list[Segment] = []
    left = float(configured)
    for key, label, value in parts:
        mb = min(float(value or 0), left)
        if mb > 0:
            out.append(Segment(key, label, mb))
            left -= mb
    if left > 0:
        out.append(Segment("untouched", "not backed (never touched, shared or zero)", left))
    return out


def breakdown(
    vm: VM, host: Host | None, pools: Sequence[ResourcePool], default_pct: float = 65
) -> Breakdown:
    """The whole breakdown of ``vm`` (``pools``: every pool collected; the chain is found)."""
    chain = pool_chain(vm, pools)
    limit = effective_limit(vm, chain)
    cap = balloon_cap(vm, host, default_pct)
    state = host_memory_state(host)
    lines = _allocation(vm, chain, limit, cap) + _runtime(vm) + _host_lines(host, state)
    return Breakdown(
        configured_mb=vm.memory_mb,
        lines=tuple(lines),
        segments=tuple(segments(vm)),
        effective_limit_mb=limit[0],
        limit_set_by=limit[1],
        cap=cap,
        host_state=state,
    )
