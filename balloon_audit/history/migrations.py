"""Versioned schema migrations: upgrade a history database in place, refuse a newer one.

The applied versions are rows of ``balloon_audit_schema``. Each step runs in the
caller's transaction, under a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory
lock on PostgreSQL), so two processes that open a fresh database at once do not
both create it. Table and column declarations live in ``schema``; a step adds
what its version introduced and fills it in for the runs already stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import Column, Connection, Index, MetaData, Table, func, inspect, select, text

from balloon_audit import __version__
from balloon_audit.errors import HistoryError
from balloon_audit.history import schema

ADVISORY_LOCK_ID = 0x62616C6C  # "ball": one lock for all balloon-audit migrations


def _since(column: Column) -> int:
    return int(column.info.get("since", 1))


def table_at(table: Table, version: int, metadata: MetaData) -> Table:
    """``table`` as it was at schema ``version`` (columns and indexes), bound to ``metadata``."""
    columns = [
        Column(
            c.name,
            c.type,
            primary_key=c.primary_key,
            nullable=c.nullable,
            autoincrement=c.autoincrement,
        )
        for c in table.columns
        if _since(c) <= version
    ]
    copy = Table(table.name, metadata, *columns)
    for index in table.indexes:
        if all(_since(c) <= version for c in index.columns):
            Index(index.name, *(copy.c[c.name] for c in index.columns))
    return copy


def _create_initial_tables(conn: Connection) -> None:
    frozen = MetaData()
    for table in schema.metadata.sorted_tables:
        if table is not schema.schema_versions:
            table_at(table, 1, frozen)
    frozen.create_all(conn)


def _add_fleet_totals(conn: Connection) -> None:
    """Version 2: fleet ballooned/swapped/compressed MB on each run, for fast trend charts."""
    preparer = conn.dialect.identifier_preparer
    for column in schema.runs.columns:
        if _since(column) == 2:
            type_sql = column.type.compile(dialect=conn.dialect)
            conn.execute(
                text(f"ALTER TABLE runs ADD COLUMN {preparer.quote(column.name)} {type_sql}")
            )
    vms = schema.run_vms
    on = (vms.c.run_id == schema.runs.c.id) & (vms.c.power_state == "poweredOn")
    on = on & vms.c.is_template.is_(False)

    def total(column: Column) -> object:
        return select(func.coalesce(func.sum(column), 0.0)).where(on).scalar_subquery()

    conn.execute(
        schema.runs.update().values(
            ballooned_mb=total(vms.c.ballooned_mb),
            swapped_mb=total(vms.c.swapped_mb),
            compressed_mb=total(vms.c.compressed_mb),
        )
    )


STEPS: dict[int, tuple[str, Callable[[Connection], None]]] = {
    1: ("initial tables", _create_initial_tables),
    2: ("fleet totals per run", _add_fleet_totals),
}
assert max(STEPS) == schema.LATEST_VERSION


def writer_lock(conn: Connection) -> None:
    """One writer at a time until the transaction ends (SQLite: ``BEGIN IMMEDIATE`` does it)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID})


def current_version(conn: Connection) -> int:
    """The newest applied version, 0 for an empty database."""
    if not inspect(conn).has_table(schema.schema_versions.name):
        if inspect(conn).has_table(schema.runs.name):
            raise HistoryError(
                "the history database has balloon-audit tables but no schema version",
                hint="it was not created by balloon-audit; point --history at another database",
            )
        return 0
    version = conn.execute(select(func.max(schema.schema_versions.c.version))).scalar()
    return int(version or 0)


def upgrade(conn: Connection, target: int = schema.LATEST_VERSION) -> int:
    """Bring the database to ``target``; returns the version it had before.

    Refuses a database whose version is newer than this balloon-audit knows.
    """
    writer_lock(conn)
    found = current_version(conn)
    if found > schema.LATEST_VERSION:
        raise HistoryError(
            f"the history database has schema version {found}, newer than this "
            f"balloon-audit {__version__} understands (up to {schema.LATEST_VERSION})",
            hint="upgrade balloon-audit, or use --no-history / another --history database",
        )
    if found == 0:
        schema.schema_versions.create(conn)
    for version in range(found + 1, target + 1):
        _title, step = STEPS[version]
        step(conn)
        conn.execute(
            schema.schema_versions.insert().values(
                version=version,
                applied_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                tool_version=__version__,
            )
        )
    return found
