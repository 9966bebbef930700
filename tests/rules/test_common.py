"""Scope, formatting and parsing helpers shared by the rules."""

from __future__ import annotations

import pytest

from balloon_audit.formatting import fmt_mb, fmt_pct, fmt_threshold_pct
from balloon_audit.model import Snapshot
from balloon_audit.rules.common import (
    at_least_pct,
    config_vms,
    fully_reserved,
    parse_int,
    pct,
    runtime_vms,
)
from balloon_audit.rules.registry import all_rules
from tests.factories import bare_vm, make_vm, powered_off, run, snapshot, template


def test_scope_helpers():
    on = make_vm()
    vms = [
        on,
        powered_off(),
        template(),
        make_vm(quickstats_available=False),
        make_vm(host_connection_state="disconnected"),
        make_vm(power_state="suspended"),
        make_vm(is_template=True),
    ]
    snap = snapshot(*vms)
    assert runtime_vms(snap) == [on]
    assert config_vms(snap) == vms


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "unknown"), (0, "0 MB"), (1024, "1,024 MB"), (0.5, "0.5 MB"), (2662.4, "2,662.4 MB")],
)
def test_fmt_mb(value, text):
    assert fmt_mb(value) == text


def test_percentages():
    assert fmt_pct(pct(1024, 4096)) == "25.0 %"
    assert pct(1, 0) is None and pct(None, 10) is None and fmt_pct(None) == "unknown"
    assert fmt_threshold_pct(10) == "10 %" and fmt_threshold_pct(0.5) == "0.5 %"
    # exact at the edge where float division would round: 10 % of 4096 is 409.6
    assert at_least_pct(409.6, 4096, 10)
    assert not at_least_pct(409.59, 4096, 10)
    assert at_least_pct(7, 700, 1) and not at_least_pct(6.99, 700, 1)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("0", 0), (" 0 ", 0), ("1330", 1330), ("-1", -1), ("", None), ("abc", None), (None, None)],
)
def test_parse_int(raw, value):
    assert parse_int(raw) == value


RULE_IDS = [r.meta.id for r in all_rules()]


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_rule_survives_vms_that_say_nothing(rule_id: str) -> None:
    """No rule may crash on missing data, count what is not there, or flag a stranger."""
    bare = bare_vm("vm-1", "bare")
    on_unknown = bare_vm("vm-2", "on", power_state="poweredOn", quickstats_available=True)
    outcome = run(rule_id, snap=Snapshot(vms=(bare, on_unknown)))
    assert outcome.checked <= 2, "only two VMs (and no host, cluster or source) exist"
    for finding in outcome.findings:
        assert finding.rule == rule_id
        assert finding.entity.moid in {"vm-1", "vm-2"}
        assert finding.remediation.summary


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (dict(memory_mb=4096, memory_reservation_mb=4096), True),
        (dict(memory_mb=4096, memory_reservation_mb=4095), False),
        (dict(memory_mb=4096, memory_reservation_mb=None), False),
        # An unset reservation is unknown, not 0: not even a 0 MB VM counts as fully reserved.
        (dict(memory_mb=0, memory_reservation_mb=None), False),
        (dict(memory_mb=None, memory_reservation_mb=4096), False),
        (dict(memory_mb=None, memory_reservation_mb=None, reservation_locked_to_max=True), True),
    ],
)
def test_fully_reserved_is_one_rule_for_ba402_and_ba601(overrides, expected):
    assert fully_reserved(make_vm(**overrides)) is expected
