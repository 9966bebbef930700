"""Read the realtime memory counters of one VM and its host: one QueryPerf round trip.

Two QuerySpecs (the VM's counters, the host's ``mem.state``) at the 20 s realtime interval,
from ``now - since`` to the server's present. Best effort like :mod:`.perf`: a counter the
server does not offer, a series without samples, a failed query become ``notes`` of the
:class:`~balloon_audit.counters.LiveCounters`, never exceptions -- except a vCenter or run
deadline and a stop request, which end the command as everywhere else.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pyVmomi import vim, vmodl

from balloon_audit.collect.deadline import DeadlineExceeded
from balloon_audit.counters import (
    COUNTERS,
    HOST_COUNTERS,
    HOST_ENTITY,
    REALTIME_INTERVAL_S,
    REALTIME_WINDOW,
    VM_COUNTERS,
    VM_ENTITY,
    LiveCounters,
    Series,
)


@dataclass(frozen=True, slots=True)
class _CounterInfo:
    key: int
    unit: str


_tables: weakref.WeakKeyDictionary[Any, dict[str, _CounterInfo]] = weakref.WeakKeyDictionary()
_tables_lock = threading.Lock()


def full_name(info: Any) -> str:
    """``group.name.rollup`` of a PerfCounterInfo, e.g. ``mem.vmmemctl.average``."""
    return f"{info.groupInfo.key}.{info.nameInfo.key}.{info.rollupType}"


def _counter_table(content: Any) -> dict[str, _CounterInfo]:
    """Every counter the server offers, by full name; read once per connection.

    ``perfManager.perfCounter`` is several hundred CounterInfo objects (about 600 KB of XML
    on a vCenter), so it is kept per SOAP stub (one per login) for as long as that lives.
    """
    perf_manager = content.perfManager
    stub = getattr(perf_manager, "_stub", None)
    with _tables_lock:
        cached = _tables.get(stub) if stub is not None else None
    if cached is not None:
        return cached
    table: dict[str, _CounterInfo] = {}
    for info in perf_manager.perfCounter or ():
        full = full_name(info)
        unit = getattr(getattr(info, "unitInfo", None), "key", None) or ""
        table.setdefault(full, _CounterInfo(info.key, unit))
    if stub is not None:
        with _tables_lock:
            _tables[stub] = table
    return table


def counter_ids_for(content: Any, names: Sequence[str]) -> dict[str, int]:
    """Counter ID per full name (``group.name.rollup``) for the names this server offers.

    Reads ``perfManager.perfCounter`` at most once per connection (see :func:`_counter_table`).
    """
    table = _counter_table(content)
    return {name: table[name].key for name in names if name in table}


def read_live_counters(  # noqa: PLR0913 - all but the references are keyword-only options
    content: Any,
    vm_ref: Any,
    host_ref: Any | None,
    *,
    since: timedelta,
    now: datetime | None = None,
    counter_ids: Mapping[str, int] | None = None,
) -> LiveCounters:
    """The realtime series of :data:`~balloon_audit.counters.COUNTERS` over the last ``since``.

    ``now`` should be the server's time (``si.CurrentTime()``), so that a skewed local clock
    does not shift the window; without it the local UTC time is used. ``since`` is capped at
    the hour of realtime samples vCenter keeps. ``counter_ids`` (full name -> counter ID)
    skips reading the counter table and its unit check; tests use it to point a name at a
    counter the simulator has samples for.
    """
    until = _utc(now or datetime.now(timezone.utc))
    window = min(since, REALTIME_WINDOW)
    start = until - window
    notes: list[str] = []
    if window < since:
        kept = _duration(REALTIME_WINDOW)
        notes.append(f"window capped at {kept}: vCenter keeps no older realtime samples")
    try:
        ids = dict(counter_ids) if counter_ids is not None else _offered_ids(content, notes)
        wanted = {VM_ENTITY: _present(VM_COUNTERS, ids), HOST_ENTITY: _present(HOST_COUNTERS, ids)}
        if host_ref is None and wanted[HOST_ENTITY]:
            notes.append("host not known: mem.state not read")
            wanted[HOST_ENTITY] = []
        specs = [
            _spec(ref, [ids[n] for n in wanted[entity]], start)
            for entity, ref in ((VM_ENTITY, vm_ref), (HOST_ENTITY, host_ref))
            if ref is not None and wanted[entity]
        ]
        answer = content.perfManager.QueryPerf(querySpec=specs) if specs else []
    except Exception as exc:  # noqa: BLE001 - live counters are optional; the command goes on
        if isinstance(exc, DeadlineExceeded) and exc.kind != "request":
            raise  # the vCenter's time is up, or the run was stopped
        notes.append(f"live counters could not be read: {_reason(exc)}")
        return LiveCounters.unavailable(start, until, *notes)
    series = _parse_answer(answer, vm_ref, wanted, ids, notes)
    latest = max((s.times[-1] for s in series), default=until)
    return LiveCounters(tuple(series), since=start, until=max(until, latest), notes=tuple(notes))


def _offered_ids(content: Any, notes: list[str]) -> dict[str, int]:
    """IDs of the counters offered with the unit this module converts from; notes the rest."""
    table = _counter_table(content)
    ids: dict[str, int] = {}
    for name, spec in COUNTERS.items():
        info = table.get(name)
        if info is None:
            notes.append(f"{name}: not offered by this server")
        elif info.unit != spec.api_unit:
            got = info.unit or "unknown"
            notes.append(f"{name}: unit {got}, expected {spec.api_unit}; not shown")
        else:
            ids[name] = info.key
    return ids


def _present(names: Sequence[str], ids: Mapping[str, int]) -> list[str]:
    return [n for n in names if n in ids]


def _spec(entity: Any, counter_ids: Sequence[int], start: datetime) -> Any:
    return vim.PerformanceManager.QuerySpec(
        entity=entity,
        metricId=[vim.PerformanceManager.MetricId(counterId=i, instance="") for i in counter_ids],
        intervalId=REALTIME_INTERVAL_S,
        startTime=start,
    )


def _parse_answer(
    answer: Sequence[Any],
    vm_ref: Any,
    wanted: Mapping[str, list[str]],
    ids: Mapping[str, int],
    notes: list[str],
) -> list[Series]:
    """Series in COUNTERS order; a note for every wanted counter without one."""
    vm_moid = getattr(vm_ref, "_moId", None)
    found: dict[tuple[str, int], Series] = {}
    for entity_metric in answer or ():
        entity = VM_ENTITY if entity_metric.entity._moId == vm_moid else HOST_ENTITY
        by_id = {ids[n]: n for n in wanted[entity]}
        for series in _entity_series(entity_metric, entity, by_id, notes):
            found[(entity, ids[series.counter])] = series
    out: list[Series] = []
    for entity, names in wanted.items():
        for name in names:
            got = found.get((entity, ids[name]))
            if got is not None:
                out.append(got)
            elif not any(n.startswith(f"{name}:") for n in notes):
                notes.append(f"{name}: no samples in the window")
    order = list(COUNTERS)
    return sorted(out, key=lambda s: order.index(s.counter) if s.counter in order else len(order))


def _entity_series(
    entity_metric: Any, entity: str, by_id: Mapping[int, str], notes: list[str]
) -> list[Series]:
    """The series of one PerfEntityMetric, oldest sample first.

    A real vCenter sends one value per sample time (-1 where it has none); vcsim leaves out
    zero values, so a shorter series cannot be lined up with its times and is not shown.
    """
    infos = list(getattr(entity_metric, "sampleInfo", None) or ())
    order = sorted(range(len(infos)), key=lambda i: infos[i].timestamp)
    times = tuple(_utc(infos[i].timestamp) for i in order)
    out: list[Series] = []
    for metric in getattr(entity_metric, "value", None) or ():
        name = by_id.get(metric.id.counterId)
        if name is None or (metric.id.instance or "") != "":
            continue
        raw = list(getattr(metric, "value", None) or ())
        if not raw:
            continue  # noted as "no samples" by the caller
        if len(raw) != len(infos):
            notes.append(f"{name}: {len(raw)} values for {len(infos)} sample times; not shown")
            continue
        spec = COUNTERS[name]
        values = tuple(None if raw[i] < 0 else spec.convert(float(raw[i])) for i in order)
        if all(v is None for v in values):
            continue
        interval = int(getattr(infos[0], "interval", 0) or REALTIME_INTERVAL_S)
        out.append(Series(name, entity, spec.label, spec.unit, interval, times, values))
    return out


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _reason(exc: BaseException) -> str:
    """The fault or exception name, and a vSphere fault's message (never a request body)."""
    name = type(exc).__name__.rsplit(".", 1)[-1]  # vim.fault.NotAuthenticated -> NotAuthenticated
    message = getattr(exc, "msg", None) if isinstance(exc, vmodl.MethodFault) else None
    if message:
        return f"{name}: {message}"
    return name


def _duration(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
