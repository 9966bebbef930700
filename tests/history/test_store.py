"""The history store against SQLite and a real PostgreSQL: the same tests for both."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from balloon_audit.errors import HistoryError
from balloon_audit.history import schema
from balloon_audit.history.store import HistoryStore
from tests.history.conftest import day, result, vm

UUID_A, UUID_B, UUID_C, UUID_D = (f"5000bbbb-0000-0000-0000-00000000000{i}" for i in range(4))


def _fleet_before():
    return [
        vm("app01", UUID_A, ballooned=1000),
        vm("db01", UUID_B, ballooned=2000),
        vm("web01", UUID_C, ballooned=500),
        vm("idle01", UUID_D),
    ]


def _fleet_after():
    return [
        vm("app01", UUID_A, ballooned=3000),
        vm("db01", UUID_B),
        vm("web01-new", UUID_C, ballooned=500),
        vm("idle01", UUID_D, swapped=900),
    ]


def _statuses(changes, rule: str) -> dict[str, str]:
    return {c.entity_name: c.status for c in changes.findings if c.rule == rule}


def test_record_compare_and_first_seen(history_url: str) -> None:
    with HistoryStore.open(history_url) as store:
        first_id, first = store.record(result(_fleet_before(), day(0)))
        assert first.previous is None
        assert {c.status for c in first.findings} == {"new"}
        second_id, second = store.record(result(_fleet_after(), day(5)))
        assert second.previous is not None and second.previous.run_id == first_id
        assert _statuses(second, "BA301") == {
            "app01": "worsened",
            "db01": "resolved",
            "web01-new": "persisting",
        }
        assert _statuses(second, "BA302") == {"idle01": "new"}
        assert [(r.previous_name, r.name) for r in second.renames] == [("web01", "web01-new")]
        # a third run: first seen stays at the first run, the age grows
        third_id, third = store.record(result(_fleet_after(), day(12)))
        app = next(c for c in third.findings if c.entity_name == "app01")
        assert (app.status, app.first_seen, app.age_days) == (
            "persisting",
            "2026-11-01T02:00:00Z",
            12,
        )
        swap = next(c for c in third.findings if c.rule == "BA302")
        assert (swap.first_seen, swap.age_days) == ("2026-11-06T02:00:00Z", 7)
        assert [p.run_id for p in third.trend] == [first_id, second_id, third_id]
        assert [p.ballooned_mb for p in third.trend] == [3500.0, 3500.0, 3500.0]
        # what `history show` recomputes equals what `scan` saw
        assert store.changes(third_id) == third
        assert [r.run_id for r in store.runs()] == [third_id, second_id, first_id]


def test_renamed_vm_keeps_history_and_old_name(history_url: str) -> None:
    with HistoryStore.open(history_url) as store:
        store.record(result([vm("old-name", UUID_A, ballooned=1000)], day(0)))
        _, changes = store.record(
            result([vm("new-name", UUID_A, ballooned=1000, moid="vm-77")], day(1))
        )
        (change,) = [c for c in changes.findings if c.rule == "BA301"]
        assert (change.status, change.entity_name, change.previous_name) == (
            "persisting",
            "new-name",
            "old-name",
        )
        assert change.first_seen == "2026-11-01T02:00:00Z"


def test_failed_source_resolves_nothing(history_url: str) -> None:
    with HistoryStore.open(history_url) as store:
        store.record(result(_fleet_before(), day(0)))
        _, failed = store.record(result([], day(1), failed=True))
        assert failed.findings == ()
        assert failed.sources_not_compared == ("vc1.example.test",)


def test_scopes_are_compared_separately(history_url: str) -> None:
    with HistoryStore.open(history_url) as store:
        store.record(result(_fleet_before(), day(0)))
        other = [vm("x", UUID_A, ballooned=1000, server="vc2.example.test")]
        _, changes = store.record(result(other, day(1), server="vc2.example.test"))
        assert changes.previous is None


def test_waived_findings_are_stored_marked(history_url: str) -> None:
    from balloon_audit.config import Config
    from balloon_audit.model import Waiver

    config = Config(waivers=(Waiver("BA301", "app01", "batch job", "ops"),))
    with HistoryStore.open(history_url) as store:
        run_id, changes = store.record(result(_fleet_before(), day(0), config=config))
        assert "app01" not in _statuses(changes, "BA301")
        with store.engine.connect() as conn:
            waived = conn.execute(
                select(schema.run_findings.c.entity_name).where(
                    schema.run_findings.c.run_id == run_id, schema.run_findings.c.waived
                )
            ).scalars()
            assert list(waived) == ["app01"]


def test_prune_keeps_newest_and_first_seen(history_url: str) -> None:
    with HistoryStore.open(history_url) as store:
        ids = [store.record(result(_fleet_before(), day(n)))[0] for n in range(6)]
        assert store.prune(keep_runs=4) == 2
        assert [r.run_id for r in store.runs()] == ids[:1:-1]
        assert store.prune(keep_days=2, now=day(5)) == 1
        assert [r.run_id for r in store.runs()] == ids[:2:-1]
        _, changes = store.record(result(_fleet_before(), day(6)))
        app = next(c for c in changes.findings if c.entity_name == "app01")
        assert (app.first_seen, app.age_days) == ("2026-11-01T02:00:00Z", 6)
        with store.engine.connect() as conn:
            for table in schema.RUN_CHILDREN:
                orphans = conn.execute(
                    select(func.count()).where(table.c.run_id.in_(ids[:3]))
                ).scalar()
                assert orphans == 0, table.name


def test_unknown_run_is_a_clear_error(history_url: str) -> None:
    with HistoryStore.open(history_url) as store, pytest.raises(HistoryError, match="no run 42"):
        store.changes(42)


def test_two_writers_at_once_lose_nothing(history_url: str, tmp_path: Path) -> None:
    """Two processes record 15 runs each into the same database at the same moment."""
    HistoryStore.open(history_url).close()  # created once; both writers then upgrade nothing
    script = textwrap.dedent(
        f"""
        import sys
        from tests.history.conftest import day, result, vm
        from balloon_audit.history.store import HistoryStore
        store = HistoryStore.open({history_url!r})
        sys.stdout.write("ready\\n"); sys.stdout.flush(); sys.stdin.readline()
        for n in range(15):
            store.record(result([vm("a" + sys.argv[1], None, ballooned=1000 + n)], day(n),
                                server=sys.argv[1] + ".example.test"))
        store.close()
        """
    )
    root = Path(__file__).resolve().parents[2]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, name],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    for writer in writers:
        assert writer.stdout.readline() == "ready\n"
    for writer in writers:  # release both together
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        writer.stdin.close()
        assert writer.wait(timeout=120) == 0
    with HistoryStore.open(history_url) as store:
        runs = store.runs()
        assert len(runs) == 30
        assert {r.scope for r in runs} == {"left.example.test", "right.example.test"}
        for run in runs:
            assert len(store.view(run.run_id).vms) == 1


def test_no_secrets_in_the_database(history_url: str) -> None:
    run = result(_fleet_before(), day(0))
    run = type(run)(**{**run.__dict__, "run_by": {"user": "ops", "command": "balloon-audit scan"}})
    with HistoryStore.open(history_url) as store:
        run_id, _ = store.record(run)
        with store.engine.connect() as conn:
            row = conn.execute(select(schema.runs).where(schema.runs.c.id == run_id)).first()
        assert json.loads(row.run_by) == {"user": "ops", "command": "balloon-audit scan"}
