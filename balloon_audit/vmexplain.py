"""The application service of ``balloon-audit vm``: explain one VM's memory, now.

``explain`` reads the matched VMs live (collect/vmcontext.py: their names, then the VMs,
hosts, pools and neighbours, never the fleet); ``watch`` keeps the session open and reads
again every sample; ``explain_replay`` explains VMs from a recorded capture. Each gives a
:class:`VmReport`: per VM the memory breakdown (vmmemory.py), the live counters and their
verdicts, and the diagnosis (vmdiagnosis.py). The CLI renders it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balloon_audit import __version__
from balloon_audit.model import VM, Finding, Host, ResourcePool, RuleDoc, Snapshot, SourceInfo

if TYPE_CHECKING:  # the rules load only when a VM is explained: `report` never needs them
    from balloon_audit.collect.target import Target
    from balloon_audit.collect.vmcontext import VmCollection, VmSession
    from balloon_audit.config import Config
    from balloon_audit.counters import LiveCounters, Series
    from balloon_audit.vmmemory import Breakdown

Progress = Callable[[str], None]

VM_SCHEMA = "balloon-audit-vm/1"
SAMPLE_INTERVAL_S = 20
"""vCenter's realtime interval: ``--watch`` reads again after each new sample."""
MAX_SINCE = timedelta(hours=1)
"""vCenter keeps realtime samples for about an hour."""


@dataclass(frozen=True)
class VmExplanation:
    """Everything ``balloon-audit vm`` says about one VM."""

    vm: VM
    host: Host | None
    pools: tuple[ResourcePool, ...]
    """Enclosing pools and vApps, innermost first."""
    breakdown: Breakdown
    findings: tuple[Finding, ...]
    """In the order to act on them (vmdiagnosis.action_order)."""
    rules: tuple[RuleDoc, ...]
    """The rules behind ``findings``."""
    live: LiveCounters | None = None
    """The realtime series, or ``None`` when not read."""
    balloon: tuple[str, str] | None = None
    """(verdict, reason): inflating, deflating, steady or unknown."""
    swap: tuple[str, str] | None = None
    """(verdict, reason): swapping now, swapped earlier (stale), not swapping or unknown."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class VmReport:
    generated_at: datetime
    pattern: str
    source: SourceInfo
    explanations: tuple[VmExplanation, ...]
    names_read: int = 0
    """VM names read to find the pattern (the only thing read from every VM)."""
    vms_read: int = 0
    """VMs whose properties were read: the matches and their neighbours."""
    since: timedelta = timedelta(minutes=30)
    tool_version: str = __version__
    notes: tuple[str, ...] = field(default_factory=tuple)
    schema: str = VM_SCHEMA


def parse_since(text: str) -> timedelta:
    """``30m``, ``1h``, ``90s``, ``45`` (minutes): at most an hour; ValueError otherwise."""
    raw = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    unit = raw[-1:] if raw[-1:] in units else "m"
    number = raw[:-1] if raw[-1:] in units else raw
    if not number.isdigit():
        raise ValueError(f"{text!r} is not a duration such as 30m, 1h or 300s")
    window = timedelta(seconds=int(number) * units[unit])
    if window < timedelta(seconds=SAMPLE_INTERVAL_S) or window > MAX_SINCE:
        raise ValueError(f"{text!r} is outside 20s..1h (vCenter keeps realtime samples an hour)")
    return window


def explain_snapshot(
    snapshot: Snapshot,
    moids: Sequence[str],
    config: Config | None = None,
    live: dict[str, LiveCounters] | None = None,
) -> tuple[VmExplanation, ...]:
    """Explain the VMs ``moids`` of ``snapshot`` (with their counters from ``live``)."""
    from balloon_audit.rules.registry import get_rule
    from balloon_audit.vmdiagnosis import diagnose
    from balloon_audit.vmmemory import DEFAULT_CTL_MAX_PCT, breakdown, pool_chain

    by_moid = {vm.moid: vm for vm in snapshot.vms}
    default_pct = DEFAULT_CTL_MAX_PCT
    if config is not None:
        defaults = get_rule("BA301").meta.defaults
        default_pct = config.params_for("BA301", defaults).get("ctl_max_pct", default_pct)
    out = []
    for moid in moids:
        vm = by_moid[moid]
        host = next((h for h in snapshot.hosts if h.moid == vm.host_moid), None)
        findings, result = diagnose(snapshot, vm, config)
        shown = {f.rule for f in findings}
        counters = (live or {}).get(moid)
        out.append(
            VmExplanation(
                vm=vm,
                host=host,
                pools=tuple(pool_chain(vm, snapshot.resource_pools)),
                breakdown=breakdown(vm, host, snapshot.resource_pools, default_pct),
                findings=tuple(findings),
                rules=tuple(r for r in result.rules if r.id in shown),
                live=counters,
                **_verdicts(counters, vm),
            )
        )
    return tuple(out)


def _verdicts(live: LiveCounters | None, vm: VM) -> dict[str, Any]:
    """Balloon and swap verdicts from the live counters (none without them)."""
    if live is None:
        return {}
    from balloon_audit.counters import balloon_trend, swapping_now

    return {
        "balloon": balloon_trend(live),
        "swap": swapping_now(live, vm.runtime_value(vm.swapped_mb)),
    }


def _report(
    pattern: str, collection: VmCollection, config: Config | None, live: dict[str, Any] | None,
    since: timedelta, notes: Sequence[str],
) -> VmReport:  # fmt: skip
    snapshot = collection.snapshot
    return VmReport(
        generated_at=datetime.now(timezone.utc),
        pattern=pattern,
        source=snapshot.sources[0],
        explanations=explain_snapshot(snapshot, collection.targets, config, live),
        names_read=collection.names_read,
        vms_read=len(snapshot.vms),
        since=since,
        notes=tuple([*collection.notes, *notes]),
    )


def watch(  # noqa: PLR0913 - all but the target and pattern are keyword-only options
    target: Target,
    pattern: str,
    config: Config | None = None,
    *,
    since: timedelta = timedelta(minutes=30),
    perf: bool = True,
    limit: int = 10,
    interval_s: float | None = None,
) -> Generator[VmReport, None, None]:
    """Reports on the VMs ``pattern`` matches, one read at a time, in one session.

    With ``interval_s`` it reads again after that many seconds, for ever (the caller
    stops by closing the generator or by a signal); without it, once.
    """
    from balloon_audit.collect.vmcontext import vm_session

    with vm_session(target) as session:
        found = session.find(pattern, limit)
        while True:
            collection = session.read(found)
            live, notes = _live(session, collection, since, perf)
            if live:
                collection = _with_live_values(collection, live)
            yield _report(pattern, collection, config, live, since, notes)
            if interval_s is None:
                return
            time.sleep(interval_s)


def explain(
    target: Target,
    pattern: str,
    config: Config | None = None,
    *,
    since: timedelta = timedelta(minutes=30),
    perf: bool = True,
    limit: int = 10,
) -> VmReport:
    """One report on the VMs ``pattern`` matches on ``target``."""
    return next(watch(target, pattern, config, since=since, perf=perf, limit=limit))


def _live(
    session: VmSession, collection: VmCollection, since: timedelta, perf: bool
) -> tuple[dict[str, LiveCounters] | None, list[str]]:
    """Live counters per matched VM (one QueryPerf each), or a note saying why not."""
    if not perf:
        return None, ["live counters not read (--no-perf)"]
    from balloon_audit.collect.realtime import read_live_counters
    from balloon_audit.counters import LiveCounters

    now = session.server_time()
    live: dict[str, LiveCounters] = {}
    by_moid = {vm.moid: vm for vm in collection.snapshot.vms}
    for moid in collection.targets:
        vm = by_moid[moid]
        if not vm.powered_on:
            state = vm.power_state or "not running"
            note = f"the VM is {state}: no live samples"
            live[moid] = LiveCounters.unavailable(now - since, now, note)
            continue
        host_ref = collection.host_refs.get(vm.host_moid or "")
        vm_ref = collection.vm_refs[moid]
        live[moid] = read_live_counters(session.content, vm_ref, host_ref, since=since, now=now)
    return live, []


def _with_live_values(collection: VmCollection, live: dict[str, LiveCounters]) -> VmCollection:
    """Hosts' ``mem_state`` and VMs' swap rates from the live counters' latest samples, so
    the rules judge with the VMkernel's own state and confirmed swapping, as a scan does."""
    from balloon_audit.counters import HOST_ENTITY, MEM_STATE, SWAPIN_RATE, SWAPOUT_RATE

    snapshot = collection.snapshot
    states: dict[str, int] = {}
    rates: dict[str, tuple[float | None, float | None]] = {}
    by_moid = {vm.moid: vm for vm in snapshot.vms}
    for moid, counters in live.items():
        state = counters.get(MEM_STATE, HOST_ENTITY)
        host_moid = by_moid[moid].host_moid
        if state is not None and state.last is not None and host_moid:
            states[host_moid] = int(state.last)
        rates[moid] = (_kbps(counters.get(SWAPIN_RATE)), _kbps(counters.get(SWAPOUT_RATE)))
    hosts = tuple(
        dataclasses.replace(h, mem_state=states[h.moid]) if h.moid in states else h
        for h in snapshot.hosts
    )
    vms = tuple(
        dataclasses.replace(
            vm, swapin_rate_kbps=rates[vm.moid][0], swapout_rate_kbps=rates[vm.moid][1]
        )
        if vm.moid in rates
        else vm
        for vm in snapshot.vms
    )
    changed = dataclasses.replace(snapshot, hosts=hosts, vms=vms)
    return dataclasses.replace(collection, snapshot=changed)


def _kbps(series: Series | None) -> float | None:
    """The newest sample of a rate series in KB/s (the model's unit)."""
    if series is None or series.last is None:
        return None
    per_second = {"KB/s": 1.0, "MB/s": 1024.0}.get(series.unit)
    return None if per_second is None else series.last * per_second


def explain_replay(
    capture: Path,
    pattern: str,
    config: Config | None = None,
    *,
    limit: int = 10,
    progress: Progress | None = None,
) -> VmReport:
    """Explain the VMs ``pattern`` matches in a recorded capture, offline.

    A scan's capture holds the whole fleet, so the VM is found in it and cut down to its
    surroundings exactly as a live read would have read them. Realtime series are not
    part of a scan's capture: the report says so.
    """
    from balloon_audit.audit import replay_snapshot
    from balloon_audit.vmmatch import Named, select

    snapshot = replay_snapshot(capture, progress=progress)
    ok = [s for s in snapshot.sources if s.ok]
    if not ok:
        from balloon_audit.errors import CollectionError

        failed = snapshot.sources[0] if snapshot.sources else None
        raise CollectionError(
            f"{capture}: no source in the capture could be replayed"
            + (f" ({failed.error})" if failed and failed.error else ""),
            hint=failed.hint if failed else None,
        )
    named = [Named(vm.name, vm.moid) for vm in snapshot.vms]
    found = select(pattern, named, where=f"the capture {capture.name}", limit=limit)
    moids = [n.ref for n in found]
    first = next(vm for vm in snapshot.vms if vm.moid == moids[0])
    source = next((s for s in ok if s.server == first.server), ok[0])
    explanations = explain_snapshot(snapshot, moids, config)
    return VmReport(
        generated_at=datetime.now(timezone.utc),
        pattern=pattern,
        source=source,
        explanations=explanations,
        names_read=len(named),
        vms_read=len(snapshot.vms),
        notes=(
            "replayed from a capture: the figures are those of the recording; a scan's "
            "capture holds no realtime series, so no live counters are shown",
        ),
    )
