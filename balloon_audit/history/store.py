"""The history store: record a run, load runs, compare with the previous run, prune.

One code path for SQLite (the default, a file under ``$XDG_STATE_HOME``) and
PostgreSQL (``postgresql://`` URLs, through psycopg). Every database error
becomes a ``HistoryError`` with the URL (password hidden) and a hint, so the
caller can still write its reports and exit 3.

SQLite runs in WAL mode and takes its write lock at the start of a transaction
(``BEGIN IMMEDIATE``), waiting up to ``timeout`` seconds for another writer;
PostgreSQL takes a transaction-scoped advisory lock. So two scans that finish at once
are stored one after the other, and the second is compared with the first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, create_engine, delete, event, func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from balloon_audit import userdirs
from balloon_audit.errors import HistoryError
from balloon_audit.history import migrations, schema
from balloon_audit.history.changes import Changes, TrendPoint
from balloon_audit.history.compare import compare, first_seen_of
from balloon_audit.history.view import (
    FindingRow,
    KeyedRun,
    RunView,
    VmRow,
    iso,
    key_result,
    magnitude,
)
from balloon_audit.model import AuditResult
from balloon_audit.summary import fleet_totals

DEFAULT_TIMEOUT_S = 30.0
TREND_RUNS = 30
"""How many runs the trend charts show."""


def default_path() -> Path:
    """``$XDG_STATE_HOME/balloon-audit/history.sqlite`` (``~/.local/state`` by default)."""
    return userdirs.state_home() / "balloon-audit" / "history.sqlite"


def database_url(value: str | None) -> str:
    """A SQLAlchemy URL from ``--history``: a URL, a file path, or ``None`` for the default."""
    if not value:
        return f"sqlite:///{default_path()}"
    if value.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().absolute()}"


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


@dataclass(frozen=True)
class RunInfo:
    """One stored run, as ``history list`` shows it."""

    run_id: int
    generated_at: str
    scope: str
    tool_version: str
    vm_count: int
    host_count: int
    findings: int
    critical: int
    warning: int
    info: int
    waived: int
    ballooned_mb: float
    swapped_mb: float
    compressed_mb: float


def _hint(exc: BaseException) -> str:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "another balloon-audit is writing to it; retry, or give it more time"
    if "not a database" in text or "malformed" in text:
        return "the file is damaged: move it aside (a new one is created) or use --history"
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return "check that the directory exists and is writable, or use --history / --no-history"
    if "connection" in text or "password" in text:
        return "check the PostgreSQL URL, that the server is up, and PGPASSWORD or ~/.pgpass"
    return "use --no-history to run without it"


def _sqlite_engine(url: str, timeout: float) -> Engine:
    parsed = make_url(url)
    database = parsed.database
    if database and database != ":memory:":
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(
                f"cannot create the history directory {Path(database).parent}: {exc.strerror}",
                hint="use --history PATH for a writable place, or --no-history",
            ) from None
    connect_args: dict[str, Any] = {"check_same_thread": False}
    if "timeout" not in parsed.query:
        connect_args["timeout"] = timeout
    engine = create_engine(url, connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class HistoryStore:
    """A history database. Open it with ``HistoryStore.open(url)``; close it when done."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, value: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_S) -> HistoryStore:
        """Open (creating or upgrading) the database named by ``--history`` ``value``."""
        url = database_url(value)
        try:
            if make_url(url).get_backend_name() == "sqlite":
                engine = _sqlite_engine(url, timeout)
            else:
                engine = create_engine(
                    url, pool_pre_ping=True, connect_args={"connect_timeout": int(timeout)}
                )
        except (ArgumentError, SQLAlchemyError, ImportError) as exc:
            raise HistoryError(
                f"invalid history URL {safe_url(url)}: {exc}",
                hint="use a file path, sqlite:///PATH or postgresql://USER@HOST/DB",
            ) from None
        store = cls(engine, url)
        with store._transaction() as conn:
            migrations.upgrade(conn)
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except HistoryError:
            raise
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise HistoryError(
                f"history database {safe_url(self.url)}: {reason}", hint=_hint(exc)
            ) from None

    # ------------------------------------------------------------------ writing

    def record(self, result: AuditResult, trend_runs: int = TREND_RUNS) -> tuple[int, Changes]:
        """Store ``result`` and compare it with the previous run of the same scope."""
        keyed = key_result(result)
        with self._transaction() as conn:
            # serialised, so that of two scans of one scope the second compares with the first
            migrations.writer_lock(conn)
            run_id = self._insert_run(conn, result, keyed.view)
            view = replace(keyed.view, run_id=run_id)
            previous = self._previous(conn, view)
            changes = compare(previous, view, self._trend(conn, view, trend_runs))
            self._insert_children(conn, run_id, result, keyed, first_seen_of(changes, view))
        return run_id, changes

    def _insert_run(self, conn: Connection, result: AuditResult, view: RunView) -> int:
        counts = result.counts_by_severity()
        fleet = fleet_totals(result.snapshot)
        row = {
            "generated_at": view.generated_at,
            "recorded_at": iso(datetime.now(timezone.utc)),
            "scope": view.scope,
            "tool_version": result.tool_version,
            "run_by": json.dumps(result.run_by, sort_keys=True),
            "thresholds": json.dumps(result.thresholds, sort_keys=True, default=str),
            "vm_count": fleet["vms"],
            "host_count": fleet["hosts"],
            "findings": len(result.findings),
            "critical": counts["critical"],
            "warning": counts["warning"],
            "info": counts["info"],
            "waived": len(result.waived),
            "ballooned_mb": float(fleet["ballooned_mb"]),
            "swapped_mb": float(fleet["swapped_mb"]),
            "compressed_mb": float(fleet["compressed_mb"]),
        }
        key = conn.execute(schema.runs.insert().values(**row)).inserted_primary_key
        assert key is not None  # an INSERT always has one
        return int(key[0])

    def _insert_children(
        self,
        conn: Connection,
        run_id: int,
        result: AuditResult,
        keyed: KeyedRun,
        first_seen: Mapping[str, str],
    ) -> None:
        snapshot = result.snapshot
        sources = [
            {
                "run_id": run_id,
                "server": s.server,
                "source_key": keyed.source_keys[s.server],
                "status": s.status,
                "api_version": s.api_version,
                "product": s.product,
                "error": s.error,
                "vm_count": s.vm_count,
                "host_count": s.host_count,
            }
            for s in {s.server: s for s in snapshot.sources}.values()
        ]
        vms = [
            {
                "run_id": run_id,
                "vm_key": keyed.vm_keys[(vm.server, vm.moid)],
                "server": vm.server,
                "moid": vm.moid,
                "name": vm.name,
                "cluster": vm.cluster,
                "host": vm.host,
                "power_state": vm.power_state,
                "is_template": vm.is_template,
                "memory_mb": vm.memory_mb,
                "memory_limit_mb": vm.memory_limit_mb,
                "memory_reservation_mb": vm.memory_reservation_mb,
                "ballooned_mb": vm.ballooned_mb,
                "swapped_mb": vm.swapped_mb,
                "compressed_mb": vm.compressed_mb,
                "host_memory_usage_mb": vm.host_memory_usage_mb,
                "guest_memory_usage_mb": vm.guest_memory_usage_mb,
            }
            for vm in snapshot.vms
            if (vm.server, vm.moid) in keyed.vm_keys
        ]
        hosts = [
            {
                "run_id": run_id,
                "host_key": keyed.host_keys[(h.server, h.moid)],
                "server": h.server,
                "moid": h.moid,
                "name": h.name,
                "cluster": h.cluster,
                "connection_state": h.connection_state,
                "memory_size_mb": h.memory_size_mb,
                "memory_usage_mb": h.memory_usage_mb,
            }
            for h in snapshot.hosts
        ]
        now = keyed.view.generated_at
        findings = [
            _finding_row(run_id, key, finding, entity_key, waived, first_seen.get(key, now))
            for waived, rows in ((False, keyed.active), (True, keyed.waived))
            for key, finding, entity_key in rows
        ]
        for table, rows in (
            (schema.run_sources, sources),
            (schema.run_vms, _dedupe(vms, "vm_key")),
            (schema.run_hosts, _dedupe(hosts, "host_key")),
            (schema.run_findings, _dedupe(findings, "finding_key")),
        ):
            if rows:
                conn.execute(table.insert(), rows)

    # ------------------------------------------------------------------ reading

    def runs(self, limit: int | None = None) -> list[RunInfo]:
        """Stored runs, newest first."""
        query = select(*(getattr(schema.runs.c, f) for f in _RUN_INFO_COLUMNS)).order_by(
            schema.runs.c.generated_at.desc(), schema.runs.c.id.desc()
        )
        if limit:
            query = query.limit(limit)
        with self._transaction() as conn:
            return [_run_info(row) for row in conn.execute(query)]

    def run(self, run_id: int) -> RunInfo:
        query = select(*(getattr(schema.runs.c, f) for f in _RUN_INFO_COLUMNS)).where(
            schema.runs.c.id == run_id
        )
        with self._transaction() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise HistoryError(
                f"no run {run_id} in the history", hint="`balloon-audit history list` shows them"
            )
        return _run_info(row)

    def view(self, run_id: int) -> RunView:
        with self._transaction() as conn:
            view = self._load_view(conn, run_id)
        if view is None:
            raise HistoryError(
                f"no run {run_id} in the history", hint="`balloon-audit history list` shows them"
            )
        return view

    def changes(self, run_id: int, trend_runs: int = TREND_RUNS) -> Changes:
        """Run ``run_id`` compared with the run before it in the same scope."""
        with self._transaction() as conn:
            view = self._load_view(conn, run_id)
            if view is None:
                raise HistoryError(
                    f"no run {run_id} in the history",
                    hint="`balloon-audit history list` shows them",
                )
            previous = self._previous(conn, view)
            return compare(previous, view, self._trend(conn, view, trend_runs))

    def evidence(self, run_id: int) -> dict[str, dict[str, Any]]:
        """Finding key -> evidence of one run, for ``history show``."""
        query = select(schema.run_findings.c.finding_key, schema.run_findings.c.evidence).where(
            schema.run_findings.c.run_id == run_id
        )
        with self._transaction() as conn:
            return {row.finding_key: json.loads(row.evidence) for row in conn.execute(query)}

    def _previous(self, conn: Connection, view: RunView) -> RunView | None:
        runs = schema.runs
        query = (
            select(runs.c.id)
            .where(runs.c.scope == view.scope, _before(view))
            .order_by(runs.c.generated_at.desc(), runs.c.id.desc())
            .limit(1)
        )
        previous_id = conn.execute(query).scalar()
        return None if previous_id is None else self._load_view(conn, previous_id)

    def _trend(self, conn: Connection, view: RunView, count: int) -> list[TrendPoint]:
        runs = schema.runs
        query = (
            select(runs)
            .where(runs.c.scope == view.scope, or_(_before(view), runs.c.id == view.run_id))
            .order_by(runs.c.generated_at.desc(), runs.c.id.desc())
            .limit(count)
        )
        points = [
            TrendPoint(
                generated_at=r.generated_at,
                run_id=r.id,
                ballooned_mb=r.ballooned_mb or 0.0,
                swapped_mb=r.swapped_mb or 0.0,
                compressed_mb=r.compressed_mb or 0.0,
                findings=r.findings,
                critical=r.critical,
                warning=r.warning,
                info=r.info,
            )
            for r in conn.execute(query)
        ]
        return points[::-1]

    def _load_view(self, conn: Connection, run_id: int) -> RunView | None:
        run = conn.execute(select(schema.runs).where(schema.runs.c.id == run_id)).first()
        if run is None:
            return None
        sources = conn.execute(
            select(schema.run_sources.c.server, schema.run_sources.c.status).where(
                schema.run_sources.c.run_id == run_id
            )
        ).all()
        v = schema.run_vms.c
        vms = {
            r.vm_key: VmRow(
                r.vm_key, r.name, r.server, r.moid, r.ballooned_mb, r.swapped_mb, r.compressed_mb
            )
            for r in conn.execute(
                select(
                    v.vm_key,
                    v.name,
                    v.server,
                    v.moid,
                    v.ballooned_mb,
                    v.swapped_mb,
                    v.compressed_mb,
                ).where(v.run_id == run_id)
            )
        }
        h = schema.run_hosts.c
        hosts = {
            r.host_key: r.name
            for r in conn.execute(select(h.host_key, h.name).where(h.run_id == run_id))
        }
        f = schema.run_findings.c
        findings = {
            r.finding_key: FindingRow(
                key=r.finding_key,
                rule=r.rule,
                name=r.name,
                severity=r.severity,
                entity_type=r.entity_type,
                entity_key=r.entity_key,
                entity_name=r.entity_name,
                server=r.server,
                moid=r.moid,
                message=r.message,
                magnitude_mb=r.magnitude_mb,
                first_seen=r.first_seen,
            )
            for r in conn.execute(
                select(
                    f.finding_key,
                    f.rule,
                    f.name,
                    f.severity,
                    f.entity_type,
                    f.entity_key,
                    f.entity_name,
                    f.server,
                    f.moid,
                    f.message,
                    f.magnitude_mb,
                    f.first_seen,
                ).where(f.run_id == run_id, f.waived.is_(False))
            )
        }
        return RunView(
            generated_at=run.generated_at,
            scope=run.scope,
            thresholds=json.loads(run.thresholds),
            failed_servers=frozenset(s.server for s in sources if s.status != "ok"),
            vms=vms,
            findings=findings,
            host_names=hosts,
            run_id=run.id,
        )

    # ------------------------------------------------------------------ pruning

    def prune(
        self,
        keep_days: int | None = None,
        keep_runs: int | None = None,
        now: datetime | None = None,
    ) -> int:
        """Delete runs older than ``keep_days`` and all but the newest ``keep_runs`` per scope.

        Returns how many runs were deleted. First-seen dates of the findings that
        remain are kept (they are stored with each finding).
        """
        runs = schema.runs
        with self._transaction() as conn:
            doomed: set[int] = set()
            if keep_days is not None:
                cutoff = iso((now or datetime.now(timezone.utc)) - timedelta(days=keep_days))
                doomed.update(
                    conn.execute(select(runs.c.id).where(runs.c.generated_at < cutoff)).scalars()
                )
            if keep_runs is not None:
                doomed.update(_beyond_newest(conn, keep_runs))
            ids = sorted(doomed)
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for table in schema.RUN_CHILDREN:
                    conn.execute(delete(table).where(table.c.run_id.in_(chunk)))
                conn.execute(delete(runs).where(runs.c.id.in_(chunk)))
        return len(ids)


_RUN_INFO_COLUMNS = (
    "id",
    "generated_at",
    "scope",
    "tool_version",
    "vm_count",
    "host_count",
    "findings",
    "critical",
    "warning",
    "info",
    "waived",
    "ballooned_mb",
    "swapped_mb",
    "compressed_mb",
)


def _run_info(row: Any) -> RunInfo:
    values = dict(zip(_RUN_INFO_COLUMNS, row, strict=True))
    values["run_id"] = values.pop("id")
    for name in ("ballooned_mb", "swapped_mb", "compressed_mb"):
        values[name] = values[name] or 0.0
    return RunInfo(**values)


def _before(view: RunView) -> Any:
    """Runs strictly before ``view`` in (generated_at, id) order."""
    runs = schema.runs
    earlier = runs.c.generated_at < view.generated_at
    if view.run_id is None:
        return earlier
    return or_(earlier, and_(runs.c.generated_at == view.generated_at, runs.c.id < view.run_id))


def _beyond_newest(conn: Connection, keep: int) -> list[int]:
    runs = schema.runs
    ranked = select(
        runs.c.id,
        func.row_number()
        .over(partition_by=runs.c.scope, order_by=(runs.c.generated_at.desc(), runs.c.id.desc()))
        .label("rank"),
    ).subquery()
    return list(conn.execute(select(ranked.c.id).where(ranked.c.rank > keep)).scalars())


def _dedupe(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return list({row[key]: row for row in rows}.values())


def _finding_row(
    run_id: int, key: str, finding: Any, entity_key: str, waived: bool, first_seen: str
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "finding_key": key,
        "rule": finding.rule,
        "name": finding.name,
        "severity": finding.severity.value,
        "entity_type": finding.entity.type,
        "entity_key": entity_key,
        "entity_name": finding.entity.name,
        "server": finding.entity.server,
        "moid": finding.entity.moid,
        "message": finding.message,
        "evidence": json.dumps(finding.evidence, sort_keys=True, default=str),
        "magnitude_mb": magnitude(finding),
        "waived": waived,
        "first_seen": first_seen,
    }
