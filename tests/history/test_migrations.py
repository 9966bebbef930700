"""Schema migrations: a database made by the first schema version is upgraded in place."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, create_engine, inspect, select

from balloon_audit.errors import HistoryError
from balloon_audit.history import migrations, schema
from balloon_audit.history.store import HistoryStore, database_url
from tests.history.conftest import day, result, vm

UUID = "5000cccc-0000-0000-0000-000000000001"
VC = "vc:4c4c4544-0000-0000-0000-00000000vc01"
VM_KEY = f"{VC}/vm:{UUID}"


def _engine(history_url: str):  # type: ignore[no-untyped-def]
    return create_engine(database_url(history_url))


def _make_version_1(history_url: str) -> None:
    """A database exactly as schema version 1 left it, with one run of two VMs."""
    engine = _engine(history_url)
    v1 = MetaData()
    tables = {t.name: migrations.table_at(t, 1, v1) for t in schema.metadata.sorted_tables}
    with engine.begin() as conn:
        assert migrations.upgrade(conn, target=1) == 0
        assert "ballooned_mb" not in {c["name"] for c in inspect(conn).get_columns("runs")}
        run_id = conn.execute(
            tables["runs"]
            .insert()
            .values(
                generated_at="2026-10-01T02:00:00Z",
                recorded_at="2026-10-01T02:00:05Z",
                scope="vc1.example.test",
                tool_version="0.1.0",
                run_by="{}",
                thresholds="{}",
                vm_count=2,
                host_count=1,
                findings=1,
                critical=0,
                warning=1,
                info=0,
                waived=0,
            )
        ).inserted_primary_key[0]
        conn.execute(
            tables["run_sources"]
            .insert()
            .values(
                run_id=run_id,
                server="vc1.example.test",
                source_key=VC,
                status="ok",
                vm_count=2,
                host_count=1,
            )
        )
        vm_row = dict(run_id=run_id, server="vc1.example.test", cluster="C0", host="esx1",
                      power_state="poweredOn", is_template=False, memory_mb=8192,
                      swapped_mb=0, compressed_mb=0.0)  # fmt: skip
        conn.execute(
            tables["run_vms"].insert(),
            [
                {**vm_row, "vm_key": VM_KEY,
                 "moid": "vm-app01", "name": "app01", "ballooned_mb": 1000},
                {**vm_row, "vm_key": f"{VC}/moid:vm-x",
                 "moid": "vm-x", "name": "x", "ballooned_mb": 24},
            ],
        )  # fmt: skip
        conn.execute(
            tables["run_findings"].insert().values(
                run_id=run_id, finding_key=f"BA301|{VM_KEY}",
                rule="BA301", name="ballooning", severity="warning",
                entity_type="VirtualMachine",
                entity_key=VM_KEY,
                entity_name="app01", server="vc1.example.test", moid="vm-app01",
                message="1000 MB ballooned", evidence="{}", magnitude_mb=1000.0,
                waived=False, first_seen="2026-10-01T02:00:00Z",
            )
        )  # fmt: skip
    engine.dispose()


def test_first_version_is_upgraded_in_place(history_url: str) -> None:
    _make_version_1(history_url)
    with HistoryStore.open(history_url) as store:
        (old,) = store.runs()
        assert (old.vm_count, old.ballooned_mb) == (2, 1024.0)  # filled in by version 2
        _, changes = store.record(result([vm("app01", UUID, ballooned=1000)], day(0)))
        app = next(c for c in changes.findings if c.rule == "BA301")
        assert (app.status, app.first_seen, app.age_days) == (
            "persisting",
            "2026-10-01T02:00:00Z",
            31,
        )
    with _engine(history_url).connect() as conn:
        versions = conn.execute(select(schema.schema_versions.c.version)).scalars().all()
        assert sorted(versions) == [1, 2]


def test_opening_twice_changes_nothing(history_url: str) -> None:
    HistoryStore.open(history_url).close()
    HistoryStore.open(history_url).close()
    with _engine(history_url).connect() as conn:
        assert migrations.current_version(conn) == schema.LATEST_VERSION


def test_newer_schema_is_refused(history_url: str) -> None:
    HistoryStore.open(history_url).close()
    engine = _engine(history_url)
    with engine.begin() as conn:
        conn.execute(
            schema.schema_versions.insert().values(
                version=99, applied_at="2027-01-01T00:00:00Z", tool_version="9.9"
            )
        )
    engine.dispose()
    with pytest.raises(HistoryError, match="schema version 99, newer than") as caught:
        HistoryStore.open(history_url)
    assert "upgrade balloon-audit" in (caught.value.hint or "")
