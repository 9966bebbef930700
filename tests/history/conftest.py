"""History fixtures: a database URL for SQLite and for a real PostgreSQL, and small fleets."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from balloon_audit.config import Config
from balloon_audit.engine import evaluate
from balloon_audit.model import VM, AuditResult, Host, Snapshot, SourceInfo
from tests.factories import make_host, make_vm
from tests.pgserver import PgServer, find_pg_bin, start_pg

_db_numbers = itertools.count(1)

VC_UUID = "4c4c4544-0000-0000-0000-00000000vc01"
T0 = datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    if find_pg_bin() is None:
        reason = "PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(reason + " -- CI must not skip PostgreSQL tests")
        pytest.skip("SKIPPING POSTGRESQL TESTS: " + reason)
    server = start_pg()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A fresh, empty history database: a SQLite file, or a new database on real PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite")
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database(f"history_{os.getpid()}_{next(_db_numbers)}")


def vm(
    name: str,
    uuid: str | None,
    *,
    ballooned: int = 0,
    swapped: int = 0,
    moid: str | None = None,
    server: str = "vc1.example.test",
) -> VM:
    """A powered-on 8 GB VM on a healthy host, with the given reclaimed memory."""
    return make_vm(
        moid=moid or f"vm-{name}",
        name=name,
        server=server,
        datacenter="DC0",
        cluster="C0",
        host="esx1",
        guest_id=None,
        memory_mb=8192,
        tools_version_status=None,
        ballooned_mb=ballooned,
        swapped_mb=swapped,
        compressed_mb=0.0,
        host_memory_usage_mb=6000,
        guest_memory_usage_mb=2000,
        instance_uuid=uuid,
    )


def host(server: str = "vc1.example.test") -> Host:
    return make_host(
        name="esx1",
        server=server,
        datacenter="DC0",
        cluster="C0",
        in_maintenance_mode=False,
        memory_size_mb=262144,
        memory_usage_mb=100000,
        uuid="30313436-3631-5a43-3134-313130303031",
    )


def result(
    vms: list[VM],
    at: datetime = T0,
    *,
    failed: bool = False,
    server: str = "vc1.example.test",
    config: Config | None = None,
) -> AuditResult:
    source = SourceInfo(
        server=server,
        status="failed" if failed else "ok",
        api_type="VirtualCenter",
        instance_uuid=None if failed else VC_UUID,
        error="connection refused" if failed else None,
    )
    snapshot = Snapshot(
        sources=(source,),
        hosts=() if failed else (host(server),),
        vms=() if failed else tuple(vms),
    )
    return evaluate(snapshot, config, generated_at=at)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)
