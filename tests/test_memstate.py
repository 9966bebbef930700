"""The ESXi memory-state model: minFree sliding scale and the state boundaries."""

from __future__ import annotations

import pytest

from balloon_audit.memstate import estimate, memory_state, min_free_mb, min_free_rule


def test_min_free_on_a_128_gb_host_is_about_1_9_gb() -> None:
    # 6 % of 4096 + 4 % of 8192 + 2 % of 16384 + 1 % of (131072 - 28672) MB
    assert min_free_mb(131072) == pytest.approx(245.76 + 327.68 + 327.68 + 1024.0)
    assert min_free_mb(131072) == pytest.approx(1925.12)


@pytest.mark.parametrize(
    ("memory_mb", "expected"),
    [
        (2048, 122.88),  # inside the first band
        (4096, 245.76),  # first band full
        (12288, 245.76 + 327.68),  # second band full
        (28672, 245.76 + 327.68 + 327.68),  # third band full
        (28672 + 100, 901.12 + 1.0),  # 1 % of the rest
    ],
)
def test_min_free_sliding_scale_bands(memory_mb: float, expected: float) -> None:
    assert min_free_mb(memory_mb, "7.0.3") == pytest.approx(expected)


def test_min_free_older_esx_is_flat_six_percent() -> None:
    assert min_free_mb(131072, "4.1.0") == pytest.approx(131072 * 0.06)


def test_min_free_with_mem_min_free_pct_set() -> None:
    assert min_free_mb(10000, "8.0.3", min_free_pct=10) == pytest.approx(1000)


@pytest.mark.parametrize(
    ("free", "state"),
    [(4000, "high"), (3999, "clear"), (1000, "clear"), (999, "soft"), (640, "soft")]
    + [(639, "hard"), (320, "hard"), (319, "low"), (160, "low"), (0, "low")],
)
def test_state_boundaries_esxi6_plus(free: float, state: str) -> None:
    assert memory_state(free, 1000, 10000, "8.0.3") == state


def test_esxi5_has_no_clear_state() -> None:
    assert memory_state(2000, 1000, 10000, "5.5.0") == "high"
    assert memory_state(1000, 1000, 10000, "5.5.0") == "high"
    assert memory_state(999, 1000, 10000, "5.5.0") == "soft"


@pytest.mark.parametrize(
    ("free", "state"), [(600, "high"), (599, "soft"), (400, "soft"), (399, "hard"), (199, "low")]
)
def test_older_esx_uses_fixed_percentages(free: float, state: str) -> None:
    assert memory_state(free, 600, 10000, "4.1.0") == state


def test_estimate_reads_free_memory_against_min_free() -> None:
    est = estimate(131072, 131072 - 1925.12 * 0.5, "8.0.3")
    assert est.min_free_mb == pytest.approx(1925.12)
    assert est.state == "hard" and est.free_pct_of_min_free == pytest.approx(50)
    assert estimate(1000, 2000).free_mb == 0  # usage above size: nothing free, never negative


def test_min_free_rule_names_the_rule_in_force() -> None:
    assert min_free_rule("8.0.3") == "sliding scale 6/4/2/1 %"
    assert min_free_rule("4.1.0") == "flat 6 % (ESX before 5.0)"
    assert min_free_rule("8.0.3", 2.5) == "flat 2.5 % (Mem.MemMinFreePct)"
