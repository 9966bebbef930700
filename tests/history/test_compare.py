"""Comparison of two runs, without a database: statuses, deltas, renames, first seen."""

from __future__ import annotations

from dataclasses import replace

from balloon_audit.history.compare import compare
from balloon_audit.history.view import key_result
from tests.history.conftest import day, result, vm

UUID_A, UUID_B, UUID_C, UUID_D = (f"5000aaaa-0000-0000-0000-00000000000{i}" for i in range(4))


def _before_after():
    before = result(
        [
            vm("app01", UUID_A, ballooned=1000),
            vm("db01", UUID_B, ballooned=2000),
            vm("web01", UUID_C, ballooned=500),
            vm("idle01", UUID_D),
        ],
        day(0),
    )
    after = result(
        [
            vm("app01", UUID_A, ballooned=3000),  # balloon grows
            vm("db01", UUID_B),  # fixed
            vm("web01-renamed", UUID_C, ballooned=500, moid="vm-99"),  # renamed, re-registered
            vm("idle01", UUID_D, swapped=900),  # starts swapping
        ],
        day(12),
    )
    return before, after


def _by(changes, rule: str) -> dict[str, str]:
    return {c.entity_name: c.status for c in changes.findings if c.rule == rule}


def test_statuses_deltas_and_renames() -> None:
    before, after = _before_after()
    changes = compare(key_result(before).view, key_result(after).view)
    assert _by(changes, "BA301") == {
        "app01": "worsened",
        "db01": "resolved",
        "web01-renamed": "persisting",
    }
    assert _by(changes, "BA302") == {"idle01": "new"}
    renamed = next(c for c in changes.findings if c.entity_name == "web01-renamed")
    assert renamed.previous_name == "web01"
    assert [(r.previous_name, r.name) for r in changes.renames] == [("web01", "web01-renamed")]
    deltas = {d.name: (d.ballooned_delta, d.swapped_delta) for d in changes.vm_deltas}
    assert deltas == {"app01": (2000, 0), "db01": (-2000, 0), "idle01": (0, 900)}
    assert changes.vms_added == changes.vms_removed == 0
    assert changes.has_new_or_worsened


def test_first_seen_and_age_follow_the_older_run() -> None:
    before, after = _before_after()
    old_view = key_result(before).view
    changes = compare(old_view, key_result(after).view)
    app = next(c for c in changes.findings if c.entity_name == "app01")
    assert (app.first_seen, app.age_days) == ("2026-11-01T02:00:00Z", 12)
    new = next(c for c in changes.findings if c.status == "new")
    assert (new.first_seen, new.age_days) == ("2026-11-13T02:00:00Z", 0)
    # A first-seen date carried by the older run (from the store or a JSON `changes`) wins.
    earlier = {
        k: replace(f, first_seen="2026-10-01T00:00:00Z") for k, f in old_view.findings.items()
    }
    changes = compare(replace(old_view, findings=earlier), key_result(after).view)
    app = next(c for c in changes.findings if c.entity_name == "app01")
    assert (app.first_seen, app.age_days) == ("2026-10-01T00:00:00Z", 43)


def test_severity_change_and_small_moves() -> None:
    before = result([vm("a", UUID_A, ballooned=1000)], day(0))
    slightly_more = result([vm("a", UUID_A, ballooned=1050)], day(1))
    much_less = result([vm("a", UUID_A, ballooned=300)], day(1))
    assert _by(compare(key_result(before).view, key_result(slightly_more).view), "BA301") == {
        "a": "persisting"
    }
    assert _by(compare(key_result(before).view, key_result(much_less).view), "BA301") == {
        "a": "improved"
    }


def test_failed_source_hides_nothing_and_invents_nothing() -> None:
    before = result([vm("a", UUID_A, ballooned=1000)], day(0))
    failed = result([], day(1), failed=True)
    changes = compare(key_result(before).view, key_result(failed).view)
    assert changes.findings == ()
    assert changes.sources_not_compared == ("vc1.example.test",)
    assert changes.vms_removed == 0


def test_first_run_everything_is_new() -> None:
    only = result([vm("a", UUID_A, ballooned=1000)], day(0))
    changes = compare(None, key_result(only).view)
    assert changes.previous is None
    assert {c.status for c in changes.findings} == {"new"}


def test_vm_without_uuid_falls_back_to_moid() -> None:
    before = result([vm("a", None, ballooned=1000, moid="vm-1")], day(0))
    renamed = result([vm("b", None, ballooned=1000, moid="vm-1")], day(1))
    moved = result([vm("a", None, ballooned=1000, moid="vm-2")], day(1))
    assert _by(compare(key_result(before).view, key_result(renamed).view), "BA301") == {
        "b": "persisting"
    }
    moved_changes = compare(key_result(before).view, key_result(moved).view)
    assert sorted((c.moid, c.status) for c in moved_changes.findings if c.rule == "BA301") == [
        ("vm-1", "resolved"),
        ("vm-2", "new"),
    ]
