"""The ESXi host memory-state model: minFree and the states high, clear, soft, hard, low.

Pure functions of a host's memory size, free memory and ESXi version, so that
BA501, the lab's scenario checks and the tests all use the same model.

- minFree (ESXi 5.0+): a sliding scale over the host's memory, 6 % of the first
  4 GB, 4 % of the next 8 GB, 2 % of the next 16 GB and 1 % of the rest (about
  1.9 GB on a 128 GB host); ``Mem.MemMinFreePct`` replaces it with a flat
  percentage; ESX before 5.0 used a flat 6 %.
- States (ESXi 6.0+): free memory ≥ 400 % of minFree is high, ≥ 100 % clear,
  ≥ 64 % soft (ballooning), ≥ 32 % hard (compression and swapping), else low.
  ESXi 5.x had no clear state; ESX before 5.0 used fixed 6 / 4 / 2 % of memory.
- The VMkernel's own state is the realtime counter ``mem.state``: 0 high, 1 clear,
  2 soft, 3 hard, 4 low (ESXi 5.x: 0 high, 1 soft, 2 hard, 3 low). Where it is read
  it beats the estimate from quickStats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from balloon_audit.formatting import fmt_num

MB_PER_GB = 1024
MINFREE_SCALE: tuple[tuple[float, float], ...] = (
    (4 * MB_PER_GB, 6.0),
    (8 * MB_PER_GB, 4.0),
    (16 * MB_PER_GB, 2.0),
    (math.inf, 1.0),
)
"""ESXi 5.0+ minFree: (band size in MB, percent of that band)."""
LEGACY_MINFREE_PCT = 6.0
"""ESX before 5.0: minFree was a flat 6 % of memory."""

HIGH, CLEAR, SOFT, HARD, LOW = "high", "clear", "soft", "hard", "low"
STATES = (HIGH, CLEAR, SOFT, HARD, LOW)
STATE_FLOORS_PCT: tuple[tuple[str, float], ...] = (
    (HIGH, 400),
    (CLEAR, 100),
    (SOFT, 64),
    (HARD, 32),
)
"""Lower bound of each state, in percent of minFree (ESXi 6.0 and later)."""
STATE_FLOORS_PCT_5X: tuple[tuple[str, float], ...] = ((HIGH, 100), (SOFT, 64), (HARD, 32))
"""ESXi 5.x had no clear state: high began at minFree."""
STATE_FLOORS_PCT_OF_MEMORY_LEGACY: tuple[tuple[str, float], ...] = ((HIGH, 6), (SOFT, 4), (HARD, 2))
"""ESX before 5.0: fixed percentages of host memory free."""

STATE_EFFECT = {
    HIGH: "no reclamation beyond page sharing",
    CLEAR: "ESXi breaks large pages so that page sharing can reclaim memory; no ballooning yet",
    SOFT: "ESXi is ballooning VMs to reclaim memory",
    HARD: (
        "ESXi compresses and swaps VM memory (sources differ on whether ballooning continues "
        "in this state)"
    ),
    LOW: "ESXi compresses and swaps VM memory and blocks VMs from allocating more",
}
"""What ESXi does in each state, for finding messages."""


MEM_STATE_VALUES = {0: HIGH, 1: CLEAR, 2: SOFT, 3: HARD, 4: LOW}
"""Realtime counter mem.state (ESXi 6.0 and later) -> state."""
MEM_STATE_VALUES_5X = {0: HIGH, 1: SOFT, 2: HARD, 3: LOW}
"""ESXi 5.x had no clear state, so its counter values are one lower from soft on."""
PRESSURE_STATES = frozenset({SOFT, HARD, LOW})
"""States in which the host itself reclaims memory from its VMs."""


def major_version(product_version: str | None) -> int | None:
    """``8`` for ``"8.0.3"``; ``None`` when unknown or unreadable."""
    if not product_version:
        return None
    head = product_version.strip().split(".", 1)[0]
    return int(head) if head.isdigit() else None


def state_from_counter(value: int | None, product_version: str | None = None) -> str | None:
    """The state a mem.state sample stands for; ``None`` when not read (or out of range)."""
    if value is None:
        return None
    values = MEM_STATE_VALUES_5X if major_version(product_version) == 5 else MEM_STATE_VALUES
    return values.get(value)


def _legacy(product_version: str | None) -> bool:
    major = major_version(product_version)
    return major is not None and major < 5


def min_free_mb(
    memory_mb: float, product_version: str | None = None, min_free_pct: float = 0
) -> float:
    """The host's minFree in MB.

    ``min_free_pct`` > 0 models a host with ``Mem.MemMinFreePct`` set (a flat
    percentage); otherwise ESXi 5.0+ uses the sliding scale and older ESX a flat 6 %.
    """
    if min_free_pct > 0:
        return memory_mb * min_free_pct / 100
    if _legacy(product_version):
        return memory_mb * LEGACY_MINFREE_PCT / 100
    total, remaining = 0.0, memory_mb
    for band_mb, band_pct in MINFREE_SCALE:
        part = min(remaining, band_mb)
        total += part * band_pct / 100
        remaining -= part
        if remaining <= 0:
            break
    return total


def min_free_rule(product_version: str | None = None, min_free_pct: float = 0) -> str:
    """Which minFree rule applies, in words (for evidence)."""
    if min_free_pct > 0:
        return f"flat {fmt_num(min_free_pct)} % (Mem.MemMinFreePct)"
    if _legacy(product_version):
        return "flat 6 % (ESX before 5.0)"
    return "sliding scale 6/4/2/1 %"


def memory_state(
    free_mb: float, min_free: float, memory_mb: float, product_version: str | None = None
) -> str:
    """The ESXi memory state for ``free_mb`` free (one of :data:`STATES`)."""
    major = major_version(product_version)
    if major is not None and major < 5:
        floors, base = STATE_FLOORS_PCT_OF_MEMORY_LEGACY, memory_mb
    else:
        floors = STATE_FLOORS_PCT_5X if major == 5 else STATE_FLOORS_PCT
        base = min_free
    for state, floor_pct in floors:
        if free_mb * 100 >= floor_pct * base:
            return state
    return LOW


@dataclass(frozen=True)
class HostMemory:
    """A host's estimated memory state and the figures it was derived from."""

    memory_mb: float
    free_mb: float
    min_free_mb: float
    state: str

    @property
    def free_pct_of_min_free(self) -> float | None:
        return 100 * self.free_mb / self.min_free_mb if self.min_free_mb > 0 else None


def estimate(
    memory_mb: float,
    used_mb: float,
    product_version: str | None = None,
    min_free_pct: float = 0,
) -> HostMemory:
    """The state of a host with ``memory_mb`` of which ``used_mb`` is in use (quickStats)."""
    free = max(memory_mb - used_mb, 0.0)
    min_free = min_free_mb(memory_mb, product_version, min_free_pct)
    state = memory_state(free, min_free, memory_mb, product_version)
    return HostMemory(memory_mb, free, min_free, state)
