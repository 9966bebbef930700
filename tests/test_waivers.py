"""Waivers: matching (name, glob, moid, server), expiry edges, unused waivers, engine wiring."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from balloon_audit.config import Config
from balloon_audit.engine import evaluate
from balloon_audit.model import (
    VM,
    Entity,
    Finding,
    Remediation,
    Severity,
    Snapshot,
    SourceInfo,
    Waiver,
)
from balloon_audit.waivers import apply_waivers, waiver_matches
from tests.factories import bare_vm

TODAY = date(2026, 3, 15)


def finding(name: str, moid: str, rule: str = "BA201", server: str = "vc01.example.com"):
    return Finding(
        rule=rule,
        name="balloon-driver-disabled",
        severity=Severity.WARNING,
        entity=Entity("VirtualMachine", name, moid, server, "DC0", "C0", "esx01"),
        message="m",
        evidence={},
        remediation=Remediation(summary="s"),
    )


def waiver(entity: str, **kw) -> Waiver:
    values = {"rule": "BA201", "reason": "approved CHG0042", "owner": "dba-team"}
    values.update(kw)
    return Waiver(entity=entity, **values)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("sql-01", True),  # exact name
        ("SQL-01", True),  # names compare case-insensitively
        ("sql-*", True),  # glob
        ("sql-0?", True),
        ("sql-[0-9]*", True),
        ("vm-42", True),  # moid
        ("vm-4*", False),  # a moid is exact, and the name does not match the glob
        ("sql", False),  # no substring matching
        ("web-*", False),
        ("vm-43", False),
    ],
)
def test_entity_matching(pattern: str, expected: bool) -> None:
    assert waiver_matches(waiver(pattern), finding("sql-01", "vm-42")) is expected


def test_rule_must_match() -> None:
    assert not waiver_matches(waiver("sql-01", rule="BA301"), finding("sql-01", "vm-42"))


def test_server_scope() -> None:
    f = finding("sql-01", "vm-42", server="vc01.example.com")
    assert waiver_matches(waiver("sql-01", server="vc01.example.com"), f)
    assert waiver_matches(waiver("sql-01", server="VC01.example.com"), f)
    assert not waiver_matches(waiver("sql-01", server="vc02.example.com"), f)
    assert waiver_matches(waiver("sql-01"), f)  # no server: every vCenter


def test_same_moid_on_two_vcenters_is_scoped_by_server() -> None:
    a = finding("a", "vm-42", server="vc01")
    b = finding("b", "vm-42", server="vc02")
    kept, waived, problems = apply_waivers([a, b], [waiver("vm-42", server="vc02")], TODAY)
    assert kept == [a]
    assert [w.finding for w in waived] == [b]
    assert problems == []


@pytest.mark.parametrize(
    ("expires", "applies"),
    [
        ("2026-03-14", False),  # yesterday: expired
        ("2026-03-15", True),  # today: still valid through the day
        ("2026-03-16", True),  # tomorrow
        (None, True),  # never expires
    ],
)
def test_expiry_edges(expires: str | None, applies: bool) -> None:
    f = finding("sql-01", "vm-42")
    w = waiver("sql-*", expires=expires)
    kept, waived, problems = apply_waivers([f], [w], TODAY)
    if applies:
        assert kept == [] and len(waived) == 1 and problems == []
        assert waived[0].waiver == w and waived[0].finding == f
    else:
        assert kept == [f] and waived == []
        assert problems == ["waiver BA201 sql-* (owner dba-team) expired on 2026-03-14"]


def test_unused_waiver_is_reported_and_findings_are_kept() -> None:
    f = finding("web-01", "vm-7")
    kept, waived, problems = apply_waivers([f], [waiver("sql-*", server="vc01.example.com")], TODAY)
    assert kept == [f] and waived == []
    assert problems == [
        "waiver BA201 sql-* on vc01.example.com (owner dba-team) matched no finding"
    ]


def test_first_matching_waiver_wins_and_overlaps_are_not_unused() -> None:
    f = finding("sql-01", "vm-42")
    first, second = waiver("sql-*", owner="first"), waiver("vm-42", owner="second")
    kept, waived, problems = apply_waivers([f], [first, second], TODAY)
    assert kept == [] and waived[0].waiver == first
    assert problems == []


def test_invalid_expiry_is_a_problem_not_a_crash() -> None:
    f = finding("sql-01", "vm-42")
    kept, waived, problems = apply_waivers([f], [waiver("sql-01", expires="31/03/2027")], TODAY)
    assert kept == [f] and waived == []
    assert "invalid expiry date" in problems[0]


def _vm(name: str, moid: str) -> VM:
    return bare_vm(
        moid,
        name,
        server="vc01",
        datacenter="DC0",
        host="esx01",
        host_moid="host-1",
        power_state="poweredOn",
        guest_id="darwin21_64Guest",
        memory_mb=8192,
        memory_reservation_mb=0,
        tools_version="11264",
        quickstats_available=True,
    )


def test_engine_puts_waived_findings_in_result_waived() -> None:
    snapshot = Snapshot(
        sources=(SourceInfo(server="vc01", status="ok"),),
        vms=(_vm("mac-build-01", "vm-1"), _vm("mac-build-02", "vm-2")),
    )
    config = Config(
        waivers=(
            Waiver(rule="BA601", entity="mac-build-01", reason="CI runner", owner="ci-team"),
            Waiver(
                rule="BA601",
                entity="vm-2",
                reason="old",
                owner="ci-team",
                expires="2026-01-31",
            ),
            Waiver(rule="BA301", entity="*", reason="noise", owner="ops"),
        )
    )
    result = evaluate(
        snapshot, config, generated_at=datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)
    )
    ba601 = [f for f in result.findings if f.rule == "BA601"]
    assert [f.entity.name for f in ba601] == ["mac-build-02"]
    assert [(w.finding.rule, w.finding.entity.name) for w in result.waived] == [
        ("BA601", "mac-build-01")
    ]
    assert result.waived[0].waiver.owner == "ci-team"
    assert result.waiver_problems == (
        "waiver BA601 vm-2 (owner ci-team) expired on 2026-01-31",
        "waiver BA301 * (owner ops) matched no finding",
    )
    # The rule still counts what it flagged, waived or not.
    stat = next(s for s in result.rule_stats if s.rule == "BA601")
    assert (stat.checked, stat.flagged) == (2, 2)
