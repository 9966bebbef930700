"""BA301–BA303: ballooning, host swapping, compression — thresholds, units, scope."""

from __future__ import annotations

import pytest

from balloon_audit.rules.common import effective_balloon_cap_mb
from tests.factories import make_vm, only_severity, powered_off, run, template

# --- BA301: 4096 MB configured; 10 % = 409.6 MB, 50 % = 2048 MB; effective cap 65 % = 2662.4


@pytest.mark.parametrize(
    ("ballooned", "expected"),
    [
        (None, None),
        (0, None),
        (1, "info"),
        (409, "info"),  # 9.99 %
        (409.6, "warning"),  # exactly 10 %
        (410, "warning"),
        (2047, "warning"),
        (2048, "critical"),  # exactly 50 %
        (3000, "critical"),
    ],
)
def test_ba301_thresholds_of_configured(ballooned, expected):
    vm = make_vm(memory_mb=4096, ballooned_mb=ballooned)
    assert only_severity("BA301", vm) == expected


def test_ba301_ten_percent_exact_and_just_below():
    assert only_severity("BA301", make_vm(memory_mb=10000, ballooned_mb=1000)) == "warning"
    assert only_severity("BA301", make_vm(memory_mb=10000, ballooned_mb=999)) == "info"


def test_effective_cap_is_the_smallest_term():
    vm = make_vm(memory_mb=4096, maxmemctl="1330", memory_reservation_mb=1024)
    cap, terms = effective_balloon_cap_mb(vm, 65)
    assert cap == 1330
    assert terms == {"host_ctl_max_mb": 2662.4, "maxmemctl_mb": 1330, "unreserved_mb": 3072}
    vm = make_vm(memory_mb=4096, maxmemctl=None, memory_reservation_mb=3072)
    assert effective_balloon_cap_mb(vm, 65)[0] == 1024
    vm = make_vm(memory_mb=4096, maxmemctl="-1", memory_reservation_mb=None)
    assert effective_balloon_cap_mb(vm, 65)[0] == pytest.approx(2662.4)
    vm = make_vm(memory_mb=4096, maxmemctl="junk")
    assert effective_balloon_cap_mb(vm, 65)[1]["maxmemctl_mb"] is None
    assert effective_balloon_cap_mb(make_vm(memory_mb=None), 65)[0] is None


@pytest.mark.parametrize(
    ("ballooned", "expected"),
    [(1000, "warning"), (1263, "warning"), (1263.5, "critical"), (1330, "critical")],
)
def test_ba301_critical_near_effective_cap(ballooned, expected):
    # cap = min(2662.4, 1330, 4096) = 1330; 95 % of it = 1263.5
    vm = make_vm(memory_mb=4096, maxmemctl="1330", ballooned_mb=ballooned)
    assert only_severity("BA301", vm) == expected


def test_ba301_cap_from_reservation():
    # cap = 4096 - 3700 = 396; 95 % = 376.2 -> 380 MB is 9.3 % of configured but at the cap
    vm = make_vm(memory_mb=4096, memory_reservation_mb=3700, ballooned_mb=380)
    [finding] = run("BA301", vm).findings
    assert finding.severity.value == "critical"
    assert finding.evidence["effective_balloon_cap_mb"] == 396
    assert "of the 396 MB effective balloon cap" in finding.message


@pytest.mark.parametrize(
    "settings",
    [
        {"maxmemctl": "0"},  # balloon disabled, change not yet applied by a power cycle
        {"memory_reservation_mb": 4096},  # all memory reserved
    ],
)
def test_ba301_any_ballooning_past_a_zero_cap_is_critical(settings):
    vm = make_vm(memory_mb=4096, ballooned_mb=8, **settings)
    assert only_severity("BA301", vm) == "critical"
    (finding,) = run("BA301", vm).findings
    assert "cap is 0 MB" in finding.message
    assert finding.evidence["effective_balloon_cap_mb"] == 0


def test_ba301_message_and_evidence():
    vm = make_vm(memory_mb=4096, ballooned_mb=1024)
    [finding] = run("BA301", vm).findings
    assert finding.message.startswith(
        "1,024 MB ballooned = 25.0 % of 4,096 MB configured (warning at 10 %, critical at 50 %)"
    )
    assert finding.evidence["summary.quickStats.balloonedMemory"] == 1024
    assert finding.evidence["config.hardware.memoryMB"] == 4096
    assert "memory leak" in finding.remediation.summary
    assert "BA401" in finding.remediation.summary


def test_ba301_thresholds_are_parameters():
    vm = make_vm(memory_mb=4096, ballooned_mb=1024)
    assert only_severity("BA301", vm, warning_pct=30) == "info"
    assert only_severity("BA301", vm, critical_pct=25) == "critical"
    assert "warning at 30 %" in run("BA301", vm, params={"warning_pct": 30}).findings[0].message


def test_ba301_scope_and_checked_count():
    vms = [
        make_vm(ballooned_mb=100),
        make_vm(ballooned_mb=None),
        powered_off(ballooned_mb=100),
        template(ballooned_mb=100),
        make_vm(ballooned_mb=100, quickstats_available=False),
        make_vm(ballooned_mb=100, host_connection_state="notResponding"),
        make_vm(ballooned_mb=100, power_state="suspended"),
    ]
    outcome = run("BA301", *vms)
    assert outcome.checked == 2
    assert [f.entity.moid for f in outcome.findings] == [vms[0].moid]


def test_ba301_unknown_configured_memory_is_info():
    [finding] = run("BA301", make_vm(memory_mb=None, ballooned_mb=500)).findings
    assert finding.severity.value == "info"
    assert "configured memory unknown" in finding.message


# --- BA302: 1 % of 4096 MB = 40.96 MB


@pytest.mark.parametrize(
    ("swapped", "expected"),
    [(None, None), (0, None), (1, "warning"), (40, "warning"), (41, "critical")],
)
def test_ba302_thresholds(swapped, expected):
    assert only_severity("BA302", make_vm(memory_mb=4096, swapped_mb=swapped)) == expected


def test_ba302_exactly_one_percent_is_critical():
    assert only_severity("BA302", make_vm(memory_mb=1000, swapped_mb=10)) == "critical"
    assert only_severity("BA302", make_vm(memory_mb=1000, swapped_mb=9)) == "warning"
    assert only_severity("BA302", make_vm(memory_mb=1000, swapped_mb=9), critical_pct=0.9) == (
        "critical"
    )


def test_ba302_swapping_now():
    vm = make_vm(swapped_mb=500, swapin_rate_kbps=0.0, swapout_rate_kbps=2048.0)
    [finding] = run("BA302", vm).findings
    assert "swapping NOW" in finding.message
    assert "right now" in finding.remediation.summary
    assert finding.severity.value == "critical"


def test_ba302_stale_swap_is_not_critical_and_says_stale():
    """Live rates read and zero: stale pages, warning at ≥ 1 % of configured, info below."""
    vm = make_vm(swapped_mb=500, swapin_rate_kbps=0.0, swapout_rate_kbps=0.0)
    [finding] = run("BA302", vm).findings
    assert finding.severity.value == "warning"
    assert "stale" in finding.message and "live swapping checked" in finding.message
    assert "live swap rates were zero" in finding.remediation.summary
    assert finding.evidence["live_swap_checked"] is True
    small = make_vm(swapped_mb=5, swapin_rate_kbps=0.0, swapout_rate_kbps=0.0)
    assert only_severity("BA302", small) == "info"
    # live traffic makes even a small figure critical
    live = make_vm(swapped_mb=5, swapin_rate_kbps=12.0, swapout_rate_kbps=0.0)
    assert only_severity("BA302", live) == "critical"


def test_ba302_advice_says_power_cycle_not_restart_or_vmotion():
    [finding] = run("BA302", make_vm(swapped_mb=500)).findings
    text = " ".join(finding.remediation.steps)
    assert "a guest reboot does not clear them" in text and "power cycle" in text
    assert "restart (or vMotion) clears" not in text


def test_ba302_shows_swap_to_host_cache():
    vm = make_vm(swapped_mb=500, ssd_swapped_mb=256.0)
    [finding] = run("BA302", vm).findings
    assert "256 MB of it swapped to the host cache (SSD)" in finding.message
    assert finding.evidence["summary.quickStats.ssdSwappedMemory"] == 262144  # KB
    assert "host cache on SSD" in finding.remediation.summary


def test_ba302_rates_not_read():
    [finding] = run("BA302", make_vm(swapped_mb=5)).findings
    assert finding.severity.value == "warning"
    assert "NOT checked" in finding.message and finding.evidence["live_swap_checked"] is False
    assert "SWR/s" in finding.remediation.summary
    assert "mem.swapinRate" in finding.remediation.summary
    assert finding.evidence["mem.swapinRate (KB/s)"] is None
    for cause in ("BA201", "BA101", "BA401", "BA501"):
        assert cause in finding.remediation.summary


def test_ba302_scope():
    outcome = run("BA302", powered_off(swapped_mb=5), template(swapped_mb=5), make_vm())
    assert (outcome.checked, outcome.findings) == (1, ())


# --- BA303: compressedMemory is KB in the API, MB in the model


def test_ba303_compressed_is_reported_in_mb_with_raw_kb_evidence():
    vm = make_vm(compressed_mb=0.5)  # 512 KB
    [finding] = run("BA303", vm).findings
    assert finding.severity.value == "warning"
    assert finding.message.startswith("0.5 MB compressed")
    assert finding.evidence["summary.quickStats.compressedMemory"] == 512
    assert finding.evidence["compressed_mb"] == 0.5
    assert any("ZIP/s" in c for c in finding.remediation.confirm)
    # esxtop shows CACHEUSD, ZIP/s and UNZIP/s only once the ZIP field group is added (f)
    assert any("ZIP fields" in c for c in finding.remediation.confirm)


def test_ba303_large_value_not_mistaken_for_kb():
    [finding] = run("BA303", make_vm(compressed_mb=2048.0, memory_mb=4096)).findings
    assert finding.message == "2,048 MB compressed by the host = 50.0 % of 4,096 MB configured"


@pytest.mark.parametrize(("compressed", "expected"), [(None, None), (0, None), (0.001, "warning")])
def test_ba303_edges(compressed, expected):
    assert only_severity("BA303", make_vm(compressed_mb=compressed)) == expected


def test_ba303_threshold_parameter():
    assert only_severity("BA303", make_vm(compressed_mb=10), warning_above_mb=10) is None
    assert only_severity("BA303", make_vm(compressed_mb=10.5), warning_above_mb=10) == "warning"
