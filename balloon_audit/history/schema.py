"""The history database's tables at the newest schema version (SQLAlchemy Core).

Each column says in ``info["since"]`` the schema version that added it; the
migrations create and alter tables from these declarations, so there is one
place to read the schema. Times are UTC ISO 8601 strings, which sort as text on
every database. Credentials are never stored: ``run_sources`` holds server names,
UUIDs and errors (already free of secrets), nothing else.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()


def col(name: str, type_: object, since: int = 1, **kwargs: object) -> Column:
    return Column(name, type_, info={"since": since}, **kwargs)  # type: ignore[arg-type]


schema_versions = Table(
    "balloon_audit_schema",
    metadata,
    col("version", Integer, primary_key=True, autoincrement=False),
    col("applied_at", String(20), nullable=False),
    col("tool_version", String(40), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    col("id", Integer, primary_key=True, autoincrement=True),
    col("generated_at", String(20), nullable=False),
    col("recorded_at", String(20), nullable=False),
    col("scope", Text, nullable=False),
    col("tool_version", String(40), nullable=False),
    col("run_by", Text, nullable=False),
    col("thresholds", Text, nullable=False),
    col("vm_count", Integer, nullable=False),
    col("host_count", Integer, nullable=False),
    col("findings", Integer, nullable=False),
    col("critical", Integer, nullable=False),
    col("warning", Integer, nullable=False),
    col("info", Integer, nullable=False),
    col("waived", Integer, nullable=False),
    col("ballooned_mb", Float, since=2),
    col("swapped_mb", Float, since=2),
    col("compressed_mb", Float, since=2),
    Index("ix_runs_scope_time", "scope", "generated_at"),
    Index("ix_runs_time", "generated_at"),
)

run_sources = Table(
    "run_sources",
    metadata,
    col("run_id", Integer, primary_key=True, autoincrement=False),
    col("server", String(255), primary_key=True),
    col("source_key", String(300), nullable=False),
    col("status", String(20), nullable=False),
    col("api_version", String(40)),
    col("product", String(200)),
    col("error", Text),
    col("vm_count", Integer, nullable=False),
    col("host_count", Integer, nullable=False),
)

run_vms = Table(
    "run_vms",
    metadata,
    col("run_id", Integer, primary_key=True, autoincrement=False),
    col("vm_key", String(400), primary_key=True),
    col("server", String(255), nullable=False),
    col("moid", String(80), nullable=False),
    col("name", String(400), nullable=False),
    col("cluster", String(400)),
    col("host", String(400)),
    col("power_state", String(20)),
    col("is_template", Boolean, nullable=False),
    col("memory_mb", Integer),
    col("memory_limit_mb", Integer),
    col("memory_reservation_mb", Integer),
    col("ballooned_mb", Float),
    col("swapped_mb", Float),
    col("compressed_mb", Float),
    col("host_memory_usage_mb", Float),
    col("guest_memory_usage_mb", Float),
)

run_hosts = Table(
    "run_hosts",
    metadata,
    col("run_id", Integer, primary_key=True, autoincrement=False),
    col("host_key", String(400), primary_key=True),
    col("server", String(255), nullable=False),
    col("moid", String(80), nullable=False),
    col("name", String(400), nullable=False),
    col("cluster", String(400)),
    col("connection_state", String(20)),
    col("memory_size_mb", Float),
    col("memory_usage_mb", Float),
)

run_findings = Table(
    "run_findings",
    metadata,
    col("run_id", Integer, primary_key=True, autoincrement=False),
    col("finding_key", String(500), primary_key=True),
    col("rule", String(10), nullable=False),
    col("name", String(80), nullable=False),
    col("severity", String(10), nullable=False),
    col("entity_type", String(40), nullable=False),
    col("entity_key", String(400), nullable=False),
    col("entity_name", String(400), nullable=False),
    col("server", String(255), nullable=False),
    col("moid", String(80)),
    col("message", Text, nullable=False),
    col("evidence", Text, nullable=False),
    col("magnitude_mb", Float),
    col("waived", Boolean, nullable=False),
    col("first_seen", String(20), nullable=False),
)

RUN_CHILDREN = (run_sources, run_vms, run_hosts, run_findings)
"""Tables keyed by ``run_id``: deleted with their run."""

LATEST_VERSION = 2
