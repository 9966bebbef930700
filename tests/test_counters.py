"""Live-counter series and the two verdicts (balloon trend, swapping now), on hand-built series."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from balloon_audit.counters import (
    ACTIVE,
    COUNTERS,
    HOST_COUNTERS,
    MEM_STATE,
    SWAPIN_RATE,
    SWAPOUT_RATE,
    VM_COUNTERS,
    VMMEMCTL,
    VMMEMCTLTARGET,
    LiveCounters,
    Series,
    balloon_trend,
    swapping_now,
)

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
STEP = timedelta(seconds=20)


def series(counter: str, values: list[float | None], start: datetime = T0) -> Series:
    spec = COUNTERS[counter]
    times = tuple(start + i * STEP for i in range(len(values)))
    return Series(counter, spec.entity, spec.label, spec.unit, 20, times, tuple(values))


def live(*many: Series) -> LiveCounters:
    until = max((s.times[-1] for s in many if s.times), default=T0)
    return LiveCounters(series=many, since=T0, until=until, notes=())


# --- counters and units -----------------------------------------------------------------


def test_every_counter_of_the_issue_with_its_vsphere_unit() -> None:
    units = {name: (spec.entity, spec.vsphere_unit, spec.unit) for name, spec in COUNTERS.items()}
    assert units == {
        "mem.vmmemctl.average": ("vm", "KB", "MB"),
        "mem.vmmemctltarget.average": ("vm", "KB", "MB"),
        "mem.swapinRate.average": ("vm", "KBps", "MB/s"),
        "mem.swapoutRate.average": ("vm", "KBps", "MB/s"),
        "mem.compressionRate.average": ("vm", "KBps", "MB/s"),
        "mem.decompressionRate.average": ("vm", "KBps", "MB/s"),
        "mem.active.average": ("vm", "KB", "MB"),
        "mem.consumed.average": ("vm", "KB", "MB"),
        "mem.state.latest": ("host", "state", "state"),
    }
    assert COUNTERS[VMMEMCTL].convert(2048) == 2.0
    assert COUNTERS[SWAPIN_RATE].convert(512) == 0.5
    assert COUNTERS[MEM_STATE].convert(3) == 3
    assert HOST_COUNTERS == (MEM_STATE,) and len(VM_COUNTERS) == 8


# --- Series and LiveCounters ----------------------------------------------------------------


def test_series_statistics_ignore_gaps() -> None:
    s = series(VMMEMCTL, [None, 4.0, None, 1.0, 9.0, None])
    assert (s.first, s.last, s.minimum, s.maximum) == (4.0, 9.0, 1.0, 9.0)
    assert s.since(T0 + 3 * STEP) == [1.0, 9.0]


@pytest.mark.parametrize("values", [[], [None, None]])
def test_series_without_samples_has_no_statistics(values: list[float | None]) -> None:
    s = series(VMMEMCTL, values)
    assert (s.first, s.last, s.minimum, s.maximum) == (None, None, None, None)


def test_series_refuses_values_that_do_not_match_the_times() -> None:
    with pytest.raises(ValueError, match="2 values for 1 times"):
        Series(VMMEMCTL, "vm", "Ballooned", "MB", 20, (T0,), (1.0, 2.0))


def test_json_round_trip_through_text() -> None:
    original = LiveCounters(
        series=(series(VMMEMCTL, [1.0, None, 3.5]), series(MEM_STATE, [2.0])),
        since=T0 - timedelta(minutes=30),
        until=T0 + 2 * STEP,
        notes=("mem.swapinRate.average: no samples in the window",),
    )
    data = json.loads(json.dumps(original.to_json()))
    assert data["series"][0]["times"][0] == "2026-11-30T12:00:00+00:00"
    assert data["series"][0]["values"] == [1.0, None, 3.5]
    assert (data["series"][0]["min"], data["series"][0]["max"], data["series"][0]["last"]) == (
        1.0,
        3.5,
        3.5,
    )
    again = LiveCounters.from_json(data)
    assert again == original
    assert again.get(MEM_STATE, "host") is not None and again.get(MEM_STATE, "vm") is None
    assert again.get(SWAPIN_RATE) is None and again.window == timedelta(minutes=30, seconds=40)


def test_json_refuses_naive_times() -> None:
    data = LiveCounters((series(VMMEMCTL, [1.0]),), T0, T0).to_json()
    data["series"][0]["times"] = ["2026-11-30T12:00:00"]
    with pytest.raises(ValueError, match="time zone"):
        LiveCounters.from_json(data)


def test_unavailable_keeps_its_reasons() -> None:
    nothing = LiveCounters.unavailable(T0, T0 + STEP, "VM is powered off")
    assert nothing.series == () and nothing.notes == ("VM is powered off",)
    assert balloon_trend(nothing)[0] == "unknown" and swapping_now(nothing)[0] == "unknown"


# --- balloon trend ---------------------------------------------------------------------------


def test_balloon_trend_unknown_without_balloon_samples() -> None:
    assert balloon_trend(live())[0] == "unknown"
    verdict, reason = balloon_trend(live(series(VMMEMCTL, [None, None]), series(ACTIVE, [1.0])))
    assert verdict == "unknown" and "mem.vmmemctl" in reason


def test_target_above_the_balloon_is_inflating_even_when_flat() -> None:
    verdict, reason = balloon_trend(
        live(series(VMMEMCTL, [1024.0] * 5), series(VMMEMCTLTARGET, [1024.0] * 4 + [2048.0]))
    )
    assert verdict == "inflating"
    assert "2,048 MB is above the current 1,024 MB" in reason


def test_target_below_the_balloon_is_deflating() -> None:
    verdict, reason = balloon_trend(
        live(series(VMMEMCTL, [900.0, 1000.0]), series(VMMEMCTLTARGET, [0.0, 0.0]))
    )
    assert verdict == "deflating" and "below" in reason


def test_balloon_at_its_target_uses_the_change_over_the_window() -> None:
    grew = live(series(VMMEMCTL, [100.0, 400.0, 800.0]), series(VMMEMCTLTARGET, [800.0] * 3))
    assert balloon_trend(grew) == (
        "inflating",
        "ballooned memory went from 100 MB to 800 MB in 1 min",
    )
    shrank = live(series(VMMEMCTL, [800.0, 100.0]))  # no target counter: the slope alone
    assert balloon_trend(shrank)[0] == "deflating"


def test_noise_is_steady() -> None:
    # 4 GB balloon wobbling by 40 MB (< 2 %), target 30 MB away: steady, not a trend
    wobble = [4096.0, 4120.0, 4080.0, 4136.0]
    verdict, reason = balloon_trend(
        live(series(VMMEMCTL, wobble), series(VMMEMCTLTARGET, [4106.0] * 4))
    )
    assert verdict == "steady" and "about 4,136 MB" in reason and "at its target" in reason


def test_no_balloon_is_steady() -> None:
    verdict, reason = balloon_trend(
        live(series(VMMEMCTL, [0.0] * 3), series(VMMEMCTLTARGET, [0.0] * 3))
    )
    assert (verdict, reason) == ("steady", "no balloon (0 MB) for the last 1 min")


def test_one_sample_is_enough_for_a_verdict() -> None:
    assert balloon_trend(live(series(VMMEMCTL, [512.0])))[0] == "steady"
    assert (
        balloon_trend(live(series(VMMEMCTL, [512.0]), series(VMMEMCTLTARGET, [2048.0])))[0]
        == "inflating"
    )


# --- swapping now ----------------------------------------------------------------------------

HALF_HOUR = 90  # samples of 20 s


def test_swapping_unknown_without_rate_samples() -> None:
    assert swapping_now(live())[0] == "unknown"
    assert swapping_now(live(series(SWAPIN_RATE, [None] * 3)), swapped_mb=100)[0] == "unknown"


def test_recent_swap_in_is_swapping_now() -> None:
    rates = [0.0] * (HALF_HOUR - 2) + [2.5, 0.0]
    verdict, reason = swapping_now(
        live(series(SWAPIN_RATE, rates), series(SWAPOUT_RATE, [0.0] * HALF_HOUR))
    )
    assert verdict == "swapping now"
    assert reason == "swap-in rate up to 2.5 MB/s, swap-out rate up to 0 KB/s in the last 5 min"


def test_one_kilobyte_per_second_counts() -> None:
    one_kb = 1 / 1024
    assert swapping_now(live(series(SWAPOUT_RATE, [0.0, one_kb])))[0] == "swapping now"


def test_a_spike_early_in_the_window_is_earlier_not_now() -> None:
    rates: list[float | None] = [0.0] * HALF_HOUR
    rates[10] = 40.0
    rates[50] = None
    verdict, reason = swapping_now(live(series(SWAPOUT_RATE, rates)), swapped_mb=900)
    assert verdict == "swapped earlier (stale)"
    spike_at = T0 + 10 * STEP
    assert f"last moved at {spike_at:%H:%M} UTC" in reason


def test_swapped_figure_without_moving_pages_is_stale() -> None:
    quiet = live(series(SWAPIN_RATE, [0.0] * HALF_HOUR), series(SWAPOUT_RATE, [0.0] * HALF_HOUR))
    verdict, reason = swapping_now(quiet, swapped_mb=1536)
    assert verdict == "swapped earlier (stale)"
    assert reason.startswith("1,536 MB is in the swap file but no pages moved in 30 min")
    assert swapping_now(quiet) == ("not swapping", "no pages swapped in or out in 30 min")
    assert swapping_now(quiet, swapped_mb=0)[0] == "not swapping"


def test_recent_means_the_last_five_minutes_of_the_samples() -> None:
    rates = [0.0] * HALF_HOUR
    rates[-17] = 1.0  # 16 samples (5 min 20 s) before the newest one: earlier
    assert swapping_now(live(series(SWAPIN_RATE, rates)))[0] == "swapped earlier (stale)"
    rates[-16] = 1.0  # 15 samples, exactly 5 min, before the newest one: now
    assert swapping_now(live(series(SWAPIN_RATE, rates)))[0] == "swapping now"
