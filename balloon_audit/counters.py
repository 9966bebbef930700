"""Live memory counters of one VM and its host: the series, their units, and what they say.

The realtime PerformanceManager samples (20 s) that ``balloon-audit vm`` shows as sparklines,
and two verdicts an operator asks for first: is the balloon inflating or deflating, and is the
VM swapping right now or is its swapped figure stale? No pyVmomi and no I/O here: the series
are read by :mod:`balloon_audit.collect.realtime` and can be rebuilt from a ``vm --json`` file.

Units are those of the vSphere PerformanceManager memory counters (``PerfCounterInfo.unitInfo``:
``kiloBytes``, ``kiloBytesPerSecond``, ``number``), converted here to MB and MB/s (1 MB =
1,024 KB, as the vSphere Client counts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

VM_ENTITY = "vm"
HOST_ENTITY = "host"

VMMEMCTL = "mem.vmmemctl.average"
VMMEMCTLTARGET = "mem.vmmemctltarget.average"
SWAPIN_RATE = "mem.swapinRate.average"
SWAPOUT_RATE = "mem.swapoutRate.average"
COMPRESSION_RATE = "mem.compressionRate.average"
DECOMPRESSION_RATE = "mem.decompressionRate.average"
ACTIVE = "mem.active.average"
CONSUMED = "mem.consumed.average"
MEM_STATE = "mem.state.latest"

REALTIME_INTERVAL_S = 20
"""The realtime sampling interval of ESXi (``intervalId`` 20 in QueryPerf)."""
REALTIME_WINDOW = timedelta(hours=1)
"""How far back vCenter keeps realtime samples: a longer ``--since`` cannot be answered."""

KB_PER_MB = 1024


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """One counter that ``balloon-audit vm`` reads, and how its values are shown."""

    name: str
    """Full name ``group.counter.rollup``, as PerfCounterInfo spells it."""
    entity: str
    """``vm`` or ``host``: which entity it is asked for."""
    label: str
    vsphere_unit: str
    """The unit as the vSphere docs abbreviate it: ``KB``, ``KBps`` or ``state``."""
    api_unit: str
    """``PerfCounterInfo.unitInfo.key`` the server must report (else the values are not shown)."""
    unit: str
    """The display unit after :meth:`convert`: ``MB``, ``MB/s`` or ``state``."""
    divisor: float = 1.0

    def convert(self, raw: float) -> float:
        """A raw sample in the display unit."""
        return raw / self.divisor


def _kb(name: str, label: str) -> CounterSpec:
    return CounterSpec(name, VM_ENTITY, label, "KB", "kiloBytes", "MB", KB_PER_MB)


def _kbps(name: str, label: str) -> CounterSpec:
    return CounterSpec(name, VM_ENTITY, label, "KBps", "kiloBytesPerSecond", "MB/s", KB_PER_MB)


COUNTERS: Mapping[str, CounterSpec] = {
    spec.name: spec
    for spec in (
        _kb(VMMEMCTL, "Ballooned"),
        _kb(VMMEMCTLTARGET, "Balloon target"),
        _kbps(SWAPIN_RATE, "Swap-in rate"),
        _kbps(SWAPOUT_RATE, "Swap-out rate"),
        _kbps(COMPRESSION_RATE, "Compression rate"),
        _kbps(DECOMPRESSION_RATE, "Decompression rate"),
        _kb(ACTIVE, "Active"),
        _kb(CONSUMED, "Consumed"),
        CounterSpec(MEM_STATE, HOST_ENTITY, "Host memory state", "state", "number", "state"),
    )
}
"""Every counter read, by full name, in display order. Units checked against the vSphere
PerformanceManager "Memory Counters" reference (vmmemctl, vmmemctltarget, active, consumed:
absolute, kiloBytes; swapinRate, swapoutRate, compressionRate, decompressionRate: rate,
kiloBytesPerSecond; state: absolute, number, rollup latest, host only)."""

VM_COUNTERS = tuple(name for name, spec in COUNTERS.items() if spec.entity == VM_ENTITY)
HOST_COUNTERS = tuple(name for name, spec in COUNTERS.items() if spec.entity == HOST_ENTITY)


def _clean(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None]


@dataclass(frozen=True, slots=True)
class Series:
    """The samples of one counter for one entity, oldest first, in the display unit."""

    counter: str
    entity: str
    label: str
    unit: str
    interval_s: int
    times: tuple[datetime, ...]
    """UTC-aware sample times (the end of each sample's interval)."""
    values: tuple[float | None, ...]
    """One per time; None where the server had no sample."""

    def __post_init__(self) -> None:
        if len(self.times) != len(self.values):
            raise ValueError(
                f"{self.counter}: {len(self.values)} values for {len(self.times)} times"
            )

    @property
    def last(self) -> float | None:
        """The newest value that is not a gap."""
        present = _clean(self.values)
        return present[-1] if present else None

    @property
    def first(self) -> float | None:
        """The oldest value that is not a gap."""
        present = _clean(self.values)
        return present[0] if present else None

    @property
    def minimum(self) -> float | None:
        present = _clean(self.values)
        return min(present) if present else None

    @property
    def maximum(self) -> float | None:
        present = _clean(self.values)
        return max(present) if present else None

    def since(self, start: datetime) -> list[float]:
        """The values (gaps left out) of samples taken at or after ``start``."""
        return [
            v for t, v in zip(self.times, self.values, strict=True) if t >= start and v is not None
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "counter": self.counter,
            "entity": self.entity,
            "label": self.label,
            "unit": self.unit,
            "interval_s": self.interval_s,
            "times": [t.isoformat() for t in self.times],
            "values": list(self.values),
            "last": self.last,
            "min": self.minimum,
            "max": self.maximum,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Series:
        """The inverse of :meth:`to_json` (``last``/``min``/``max`` are recomputed)."""
        times = tuple(_parse_time(t) for t in data["times"])
        values = tuple(None if v is None else float(v) for v in data["values"])
        return cls(
            counter=str(data["counter"]),
            entity=str(data["entity"]),
            label=str(data["label"]),
            unit=str(data["unit"]),
            interval_s=int(data["interval_s"]),
            times=times,
            values=values,
        )


def _parse_time(text: str) -> datetime:
    parsed = datetime.fromisoformat(str(text))
    if parsed.tzinfo is None:
        raise ValueError(f"sample time without a time zone: {text!r}")
    return parsed


@dataclass(frozen=True, slots=True)
class LiveCounters:
    """The realtime series read for one VM (and its host) over ``since`` .. ``until``."""

    series: tuple[Series, ...]
    since: datetime
    until: datetime
    notes: tuple[str, ...] = ()
    """Why a counter is missing: not offered, no samples, the query failed, powered off."""

    @classmethod
    def unavailable(cls, since: datetime, until: datetime, *notes: str) -> LiveCounters:
        """No series at all, and why (e.g. the VM is powered off, or replaying a capture)."""
        return cls(series=(), since=since, until=until, notes=tuple(notes))

    def get(self, counter: str, entity: str | None = None) -> Series | None:
        """The series of ``counter`` (full name), of ``entity`` if given; None if not read."""
        for series in self.series:
            if series.counter == counter and entity in (None, series.entity):
                return series
        return None

    @property
    def window(self) -> timedelta:
        return self.until - self.since

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "series": [s.to_json() for s in self.series],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LiveCounters:
        """Rebuild what :meth:`to_json` wrote (replaying a ``vm --json`` file)."""
        return cls(
            series=tuple(Series.from_json(s) for s in data.get("series") or ()),
            since=_parse_time(data["since"]),
            until=_parse_time(data["until"]),
            notes=tuple(str(n) for n in data.get("notes") or ()),
        )


INFLATING, DEFLATING, STEADY, UNKNOWN = "inflating", "deflating", "steady", "unknown"

BALLOON_NOISE_MB = 16.0
"""Balloon changes or target gaps smaller than this are noise, not a trend: the driver moves
in pages, the 20 s average lags a moving target by a few MB, and ESXi rounds to whole KB."""
BALLOON_NOISE_FRACTION = 0.02
"""...or smaller than this fraction of the balloon (2 % of a 4 GB balloon is 82 MB): a large
balloon wobbles by more than a small one while it holds its size."""


def _balloon_noise_mb(*sizes: float) -> float:
    return max(BALLOON_NOISE_MB, BALLOON_NOISE_FRACTION * max(sizes, default=0.0))


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _minutes(window: timedelta) -> str:
    minutes = max(1, round(window.total_seconds() / 60))
    return f"{minutes} min"


def balloon_trend(live: LiveCounters) -> tuple[str, str]:
    """(``inflating``/``deflating``/``steady``/``unknown``, why).

    The VMkernel's target (``mem.vmmemctltarget``) says where the balloon is going: a target
    above the current balloon (``mem.vmmemctl``) means ESXi is asking the guest for more
    memory. When target and balloon agree, the change of the balloon over the window says
    whether it moved. Without balloon samples the trend is unknown.
    """
    balloon = live.get(VMMEMCTL)
    current = balloon.last if balloon else None
    if balloon is None or current is None:
        return UNKNOWN, "no ballooned-memory samples (mem.vmmemctl) in the window"
    target_series = live.get(VMMEMCTLTARGET)
    target = target_series.last if target_series else None
    if target is not None:
        gap = target - current
        if abs(gap) > _balloon_noise_mb(target, current):
            verdict = INFLATING if gap > 0 else DEFLATING
            direction = "above" if gap > 0 else "below"
            meaning = (
                "ESXi is asking the guest for more" if gap > 0 else "ESXi is giving memory back"
            )
            return verdict, (
                f"balloon target {_mb(target)} is {direction} the current {_mb(current)}: {meaning}"
            )
    first = balloon.first
    assert first is not None  # a series with a last value has a first one
    change = current - first
    span = _minutes(_present_span(balloon))
    if abs(change) > _balloon_noise_mb(first, current):
        verdict = INFLATING if change > 0 else DEFLATING
        return verdict, f"ballooned memory went from {_mb(first)} to {_mb(current)} in {span}"
    at_target = "" if target is None else f", at its target ({_mb(target)})"
    if current <= 0 and not target:
        return STEADY, f"no balloon (0 MB) for the last {span}"
    return STEADY, f"ballooned memory held at about {_mb(current)} for {span}{at_target}"


def _present_span(series: Series) -> timedelta:
    times = [t for t, v in zip(series.times, series.values, strict=True) if v is not None]
    if len(times) < 2:
        return timedelta(seconds=series.interval_s)
    return times[-1] - times[0]


SWAPPING_NOW = "swapping now"
SWAPPED_EARLIER = "swapped earlier (stale)"
NOT_SWAPPING = "not swapping"

SWAP_RATE_ACTIVE_MB_S = 1 / KB_PER_MB
"""A swap rate at or above 1 KB/s counts as swapping. ESXi reports whole KB/s, so this is any
non-zero sample: every page read from or written to the swap file made the guest wait on disk
(swap-in) or shows the host is still taking memory away (swap-out)."""
SWAP_RECENT = timedelta(minutes=5)
""""Now" means within the last 5 minutes of the window (15 realtime samples): long enough not
to miss a burst between two refreshes, short enough that an episode half an hour ago is
reported as earlier, not as current."""


def swapping_now(live: LiveCounters, swapped_mb: float | None = None) -> tuple[str, str]:
    """(``swapping now``/``swapped earlier (stale)``/``not swapping``/``unknown``, why).

    Swapped memory stays in the swap file until the guest touches it, so the swapped figure
    (``summary.quickStats.swappedMemory``, given as ``swapped_mb``) alone cannot say whether
    the VM swaps now. The swap-in and swap-out rates can: pages moved in the last
    :data:`SWAP_RECENT` mean swapping now; pages moved only earlier in the window, or a
    swapped figure with no pages moving, mean the figure is stale.
    """
    rates = [s for s in (live.get(SWAPIN_RATE), live.get(SWAPOUT_RATE)) if s and s.last is not None]
    if not rates:
        return UNKNOWN, "no swap-in/swap-out rate samples (mem.swapinRate, mem.swapoutRate)"
    newest = max(s.times[-1] for s in rates)
    recent_from = newest - SWAP_RECENT
    recent = {s.label: max(s.since(recent_from), default=0.0) for s in rates}
    if any(peak >= SWAP_RATE_ACTIVE_MB_S for peak in recent.values()):
        peaks = ", ".join(f"{label.lower()} up to {_rate(p)}" for label, p in recent.items())
        return SWAPPING_NOW, f"{peaks} in the last {_minutes(SWAP_RECENT)}"
    moved = [
        t
        for s in rates
        for t, v in zip(s.times, s.values, strict=True)
        if v is not None and v >= SWAP_RATE_ACTIVE_MB_S
    ]
    if moved:
        return SWAPPED_EARLIER, (
            f"pages last moved at {max(moved):%H:%M} UTC; none in the last {_minutes(SWAP_RECENT)}"
        )
    span = _minutes(max((_present_span(s) for s in rates), default=timedelta()))
    if swapped_mb:
        return SWAPPED_EARLIER, (
            f"{_mb(swapped_mb)} is in the swap file but no pages moved in {span}: "
            "swapped earlier, not now"
        )
    return NOT_SWAPPING, f"no pages swapped in or out in {span}"


def _rate(mb_s: float) -> str:
    if mb_s >= 1:
        return f"{mb_s:,.1f} MB/s"
    return f"{mb_s * KB_PER_MB:,.0f} KB/s"
