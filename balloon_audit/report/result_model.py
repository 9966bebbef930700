"""The ``balloon-audit/1`` JSON result as a declared model: what ``report`` reads back.

The entities are the dataclasses of ``model.py`` themselves, so a field added
there is part of the result (and of ``docs/result.schema.json``) at once.
Values are checked strictly: ``"memory_mb": "4096"`` is an error, never coerced;
NaN and infinities are refused. Keys this version does not know are ignored, so
a result written by a newer minor version still reads.

``docs/result.schema.json`` is generated from :class:`ResultDocument` by
``scripts/gen_schemas.py``; a test fails when the two drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from balloon_audit.history.changes import Changes
from balloon_audit.model import (
    RESULT_SCHEMA,
    VM,
    AuditResult,
    Cluster,
    Finding,
    Host,
    ResourcePool,
    RuleDoc,
    RuleStat,
    Severity,
    Snapshot,
    SourceInfo,
    WaivedFinding,
)

SCHEMA = RESULT_SCHEMA

_READ = ConfigDict(
    strict=True,
    extra="ignore",
    frozen=True,
    allow_inf_nan=False,
    use_attribute_docstrings=True,
)


class ResultSummary(BaseModel):
    """Counts derived from the rest of the document (recomputed when a report is rendered)."""

    model_config = _READ

    by_severity: dict[str, int] = {}
    """Findings per severity (``info``, ``warning``, ``critical``)."""
    by_rule: dict[str, int] = {}
    """Findings per rule ID."""
    rules: tuple[RuleStat, ...] = ()
    """Per rule: how many entities it checked and how many it flagged."""
    fleet: dict[str, int | float] = {}
    """Fleet totals: counts and memory in MB."""
    findings: int = 0
    waived: int = 0
    worst_severity: Severity | None = None


class ResultDocument(BaseModel):
    """A ``balloon-audit scan --json`` result: the archive format, read by ``report``."""

    model_config = ConfigDict(**_READ, title="balloon-audit/1 result", populate_by_name=True)

    schema_: Literal["balloon-audit/1"] = Field(alias="schema")
    """Format name and major version."""
    generated_at: AwareDatetime
    """When the audit ran, UTC, ``YYYY-MM-DDTHH:MM:SSZ``."""
    tool_version: str
    run_by: dict[str, str] = {}
    """Provenance: ``user``, ``host`` (machine), ``command``."""
    sources: tuple[SourceInfo, ...]
    thresholds: dict[str, dict[str, Any]] = {}
    """Rule ID -> the parameters in force for it."""
    summary: ResultSummary = ResultSummary()
    clusters: tuple[Cluster, ...] = ()
    hosts: tuple[Host, ...] = ()
    vms: tuple[VM, ...] = ()
    resource_pools: tuple[ResourcePool, ...] = ()
    """Resource pools and vApps below the root pools, with their memory allocation."""
    findings: tuple[Finding, ...]
    waived: tuple[WaivedFinding, ...] = ()
    """Findings a waiver accepted, with the waiver."""
    waiver_problems: tuple[str, ...] = ()
    """Expired waivers and waivers that matched nothing, one line each."""
    changes: Changes | None = None
    """What changed since the previous run of the same scope; absent without history.

    Statuses: ``new``, ``worsened``, ``improved``, ``persisting``, ``resolved``
    (see docs/history.md). ``first_seen`` and ``age_days`` say how long a finding has lasted.
    """
    rules: tuple[RuleDoc, ...] = ()
    """The rules that ran, as the reports describe them (absent in older results)."""

    def to_result(self) -> AuditResult:
        return AuditResult(
            generated_at=self.generated_at,
            tool_version=self.tool_version,
            snapshot=Snapshot(
                sources=self.sources,
                clusters=self.clusters,
                hosts=self.hosts,
                vms=self.vms,
                resource_pools=self.resource_pools,
            ),
            findings=self.findings,
            rule_stats=self.summary.rules,
            thresholds={rule: dict(params) for rule, params in self.thresholds.items()},
            waived=self.waived,
            waiver_problems=self.waiver_problems,
            run_by=dict(self.run_by),
            changes=self.changes,
            rules=self.rules,
        )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the result (what ``docs/result.schema.json`` holds)."""
    schema = ResultDocument.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
    }
