"""The JSON result: the archive format, read back by ``balloon-audit report``.

Schema ``balloon-audit/1``: snake_case keys, sorted keys and sorted lists, so two
runs diff well. Reading tolerates unknown keys (a newer minor version) but refuses
another schema.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from balloon_audit.errors import ResultFileError
from balloon_audit.fileio import atomic_write_text
from balloon_audit.model import (
    VM,
    AuditResult,
    Cluster,
    Entity,
    Finding,
    Host,
    Remediation,
    RuleStat,
    Severity,
    Snapshot,
    SourceInfo,
    SourceStatus,
    WaivedFinding,
    Waiver,
)
from balloon_audit.report.formats import Format, register
from balloon_audit.summary import summary

SCHEMA = "balloon-audit/1"

T = TypeVar("T")


def _plain(obj: Any) -> Any:
    """Dataclasses, enums, tuples and datetimes to JSON-ready values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, datetime):
        return _iso(obj)
    return obj


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _by_identity(item: Any) -> tuple:
    return (item.server, item.name, item.moid)


def result_to_dict(result: AuditResult) -> dict[str, Any]:
    snapshot = result.snapshot
    return {
        "schema": SCHEMA,
        "generated_at": _iso(result.generated_at),
        "tool_version": result.tool_version,
        "run_by": dict(result.run_by),
        "sources": _plain(sorted(snapshot.sources, key=lambda s: s.server)),
        "thresholds": _plain(result.thresholds),
        "summary": summary(result),
        "clusters": _plain(sorted(snapshot.clusters, key=_by_identity)),
        "hosts": _plain(sorted(snapshot.hosts, key=_by_identity)),
        "vms": _plain(sorted(snapshot.vms, key=_by_identity)),
        "findings": _plain(result.findings),
        "waived": _plain(result.waived),
        "waiver_problems": list(result.waiver_problems),
    }


def result_to_json(result: AuditResult) -> str:
    return json.dumps(result_to_dict(result), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _build(cls: type[T], data: dict[str, Any]) -> T:
    """A dataclass from a dict, ignoring keys this version does not know."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def _tuple_fields(obj: T, *names: str) -> T:
    return dataclasses.replace(obj, **{n: tuple(getattr(obj, n)) for n in names})  # type: ignore[type-var]


def _finding(data: dict[str, Any]) -> Finding:
    remediation = _tuple_fields(
        _build(Remediation, data["remediation"]), "steps", "confirm", "references"
    )
    return Finding(
        rule=data["rule"],
        name=data["name"],
        severity=Severity(data["severity"]),
        entity=_build(Entity, data["entity"]),
        message=data["message"],
        evidence=dict(data.get("evidence") or {}),
        remediation=remediation,
    )


def _source(data: dict[str, Any]) -> SourceInfo:
    source = _build(SourceInfo, data)
    return dataclasses.replace(source, status=SourceStatus(source.status))


def result_from_dict(data: dict[str, Any]) -> AuditResult:
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != SCHEMA:
        raise ResultFileError(
            f"not a balloon-audit result (schema {schema!r}, expected {SCHEMA!r})",
            hint="pass a file written by `balloon-audit scan --json`",
        )
    try:
        snapshot = Snapshot(
            sources=tuple(_source(s) for s in data["sources"]),
            clusters=tuple(_build(Cluster, c) for c in data.get("clusters", [])),
            hosts=tuple(_build(Host, h) for h in data.get("hosts", [])),
            vms=tuple(_build(VM, v) for v in data.get("vms", [])),
        )
        generated_at = datetime.strptime(data["generated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc
        )
        stats = tuple(
            RuleStat(r["rule"], r["name"], r["checked"], r["flagged"])
            for r in data.get("summary", {}).get("rules", [])
        )
        return AuditResult(
            generated_at=generated_at,
            tool_version=data["tool_version"],
            snapshot=snapshot,
            findings=tuple(_finding(f) for f in data["findings"]),
            rule_stats=stats,
            thresholds=dict(data.get("thresholds", {})),
            waived=tuple(
                WaivedFinding(_finding(w["finding"]), _build(Waiver, w["waiver"]))
                for w in data.get("waived", [])
            ),
            waiver_problems=tuple(data.get("waiver_problems", [])),
            run_by=dict(data.get("run_by", {})),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResultFileError(
            f"the result file is damaged or incomplete ({type(exc).__name__}: {exc})",
            hint="re-run `balloon-audit scan --json FILE` to write a fresh one",
        ) from None


def result_from_json(text: str) -> AuditResult:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultFileError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint="pass a file written by `balloon-audit scan --json`",
        ) from None
    return result_from_dict(data)


def write_json(result: AuditResult, path: Path) -> None:
    """Write the JSON result to ``path`` atomically."""
    atomic_write_text(path, result_to_json(result))


register(
    Format(
        "json",
        help="Write the JSON result here ('-' for stdout).",
        write=write_json,
        show=lambda result: sys.stdout.write(result_to_json(result)),
        rerender=False,
        order=10,
    )
)
