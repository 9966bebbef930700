"""Live counters: realtime mem.swapinRate / mem.swapoutRate for swapping VMs, mem.state for hosts.

``swappedMemory`` in quickStats can be stale (swapped pages stay on disk until
touched), so for the few VMs that report swapped memory we ask the
PerformanceManager whether pages are moving right now. Best effort: any failure
leaves the rates unknown and is reported through ``progress``, never raised.
The server's counter table is read once per connection and shared with the
``mem.state`` pass and ``balloon-audit vm`` (:func:`.realtime.counter_ids_for`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pyVmomi import vim

from balloon_audit.collect.deadline import DeadlineExceeded
from balloon_audit.collect.realtime import counter_ids_for, full_name
from balloon_audit.counters import MEM_STATE, REALTIME_INTERVAL_S
from balloon_audit.counters import SWAPIN_RATE as SWAPIN
from balloon_audit.counters import SWAPOUT_RATE as SWAPOUT
from balloon_audit.model import VM, Host

BATCH = 200
"""QuerySpecs per QueryPerf call: one round trip per 200 swapping VMs."""


def needs_swap_rates(vm: VM) -> bool:
    return vm.powered_on and (vm.swapped_mb or 0) > 0


def counter_ids(perf_counters: Sequence[Any], names: Sequence[str]) -> dict[str, int]:
    """Counter ID per full name (``group.name.rollup``) for the names asked for."""
    wanted = set(names)
    found: dict[str, int] = {}
    for info in perf_counters or ():
        full = full_name(info)
        if full in wanted and full not in found:
            found[full] = info.key
    return found


def latest_values(metrics: Sequence[Any]) -> dict[str, dict[int, float]]:
    """{VM moid: {counter id: latest sample}} from a QueryPerf answer; -1 ("no data") dropped."""
    out: dict[str, dict[int, float]] = {}
    for entity_metric in metrics or ():
        per_counter: dict[int, float] = {}
        for series in getattr(entity_metric, "value", None) or ():
            values = list(getattr(series, "value", None) or ())
            if values and values[-1] >= 0:
                per_counter[series.id.counterId] = float(values[-1])
        out[entity_metric.entity._moId] = per_counter
    return out


def add_swap_rates(
    content: Any,
    vms: Sequence[VM],
    refs: Mapping[str, Any],
    *,
    label: str,
    progress: Callable[[str], None],
    counters: tuple[str, str] = (SWAPIN, SWAPOUT),
) -> list[VM]:
    """``vms`` with swapin/swapout rates filled for swapping VMs (``refs``: moid -> reference).

    ``counters`` names the (swap-in, swap-out) counters; tests swap in counters the
    simulator has samples for.
    """
    swapin_name, swapout_name = counters
    targets = [vm for vm in vms if needs_swap_rates(vm) and vm.moid in refs]
    if not targets:
        return list(vms)
    try:
        perf_manager = content.perfManager
        ids = counter_ids_for(content, counters)
        if not ids:
            progress(f"{label}: swap rate counters not offered; swap activity not confirmed")
            return list(vms)
        rates = _query_latest(perf_manager, [refs[vm.moid] for vm in targets], set(ids.values()))
    except Exception as exc:  # noqa: BLE001 - confirmation is optional; the audit goes on
        if isinstance(exc, DeadlineExceeded) and exc.kind != "request":
            raise  # the vCenter's time is up, or the run was stopped
        progress(f"{label}: could not read swap rates ({type(exc).__name__}); left unknown")
        return list(vms)
    swapin_id, swapout_id = ids.get(swapin_name), ids.get(swapout_name)
    sampled = sum(1 for got in rates.values() if got)
    progress(f"{label}: live swap rates: samples for {sampled:,} of {len(targets):,} swapping VMs")
    return [_with_rates(vm, rates.get(vm.moid), swapin_id, swapout_id) for vm in vms]


def _query_latest(
    perf_manager: Any, entities: Sequence[Any], counters: Iterable[int]
) -> dict[str, dict[int, float]]:
    """The latest realtime sample of each counter for each entity, ``BATCH`` entities a query."""
    metric_ids = [vim.PerformanceManager.MetricId(counterId=i, instance="") for i in counters]
    rates: dict[str, dict[int, float]] = {}
    for start in range(0, len(entities), BATCH):
        specs = [
            vim.PerformanceManager.QuerySpec(
                entity=entity,
                metricId=metric_ids,
                intervalId=REALTIME_INTERVAL_S,
                maxSample=1,
            )
            for entity in entities[start : start + BATCH]
        ]
        rates.update(latest_values(perf_manager.QueryPerf(querySpec=specs)))
    return rates


def _with_rates(
    vm: VM, got: Mapping[int, float] | None, swapin_id: int | None, swapout_id: int | None
) -> VM:
    if got is None:
        return vm
    return dataclasses.replace(
        vm,
        swapin_rate_kbps=got.get(swapin_id) if swapin_id is not None else None,
        swapout_rate_kbps=got.get(swapout_id) if swapout_id is not None else None,
    )


def add_host_memory_state(
    content: Any,
    hosts: Sequence[Host],
    refs: Mapping[str, Any],
    *,
    label: str,
    progress: Callable[[str], None],
    counter: str = MEM_STATE,
) -> list[Host]:
    """``hosts`` with ``mem_state`` from the realtime ``mem.state`` counter (one QueryPerf).

    The VMkernel's own state (0 high, 1 clear, 2 soft, 3 hard, 4 low) beats any estimate
    from quickStats. Best effort: hosts without a sample keep ``None``. ``counter`` lets
    tests use a counter the simulator has samples for.
    """
    targets = [h for h in hosts if h.connected and h.moid in refs]
    if not targets:
        return list(hosts)
    try:
        perf_manager = content.perfManager
        ids = counter_ids_for(content, [counter])
        if not ids:
            progress(f"{label}: mem.state counter not offered; host memory state estimated")
            return list(hosts)
        states = _query_latest(perf_manager, [refs[h.moid] for h in targets], ids.values())
    except Exception as exc:  # noqa: BLE001 - the estimate remains; the audit goes on
        if isinstance(exc, DeadlineExceeded) and exc.kind != "request":
            raise  # the vCenter's time is up, or the run was stopped
        progress(f"{label}: could not read mem.state ({type(exc).__name__}); estimated instead")
        return list(hosts)
    state_id = ids[counter]
    sampled = {m: int(v[state_id]) for m, v in states.items() if state_id in v}
    progress(f"{label}: host mem.state: samples for {len(sampled):,} of {len(targets):,} hosts")
    return [
        dataclasses.replace(h, mem_state=sampled[h.moid]) if h.moid in sampled else h for h in hosts
    ]
