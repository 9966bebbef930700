"""The JSON result: the archive format, read back by ``balloon-audit report``.

Schema ``balloon-audit/1``: snake_case keys, sorted keys and sorted lists, so two
runs diff well. Reading tolerates unknown keys (a newer minor version) but refuses
another schema.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from balloon_audit.errors import ResultFileError
from balloon_audit.fileio import atomic_write_text
from balloon_audit.model import AuditResult
from balloon_audit.report.formats import Format, register
from balloon_audit.report.result_model import SCHEMA, ResultDocument
from balloon_audit.summary import summary
from balloon_audit.validation import Loc, dotted, lookup, problems


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
        "resource_pools": _plain(sorted(snapshot.resource_pools, key=_by_identity)),
        "findings": _plain(result.findings),
        "waived": _plain(result.waived),
        "waiver_problems": list(result.waiver_problems),
        "rules": _plain(sorted(result.rules, key=lambda r: r.id)),
    }


def result_to_json(result: AuditResult) -> str:
    return json.dumps(result_to_dict(result), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- reading ------------------------------------------------------------------------

MAX_DEPTH = 64
"""Deeper nesting than any result has; a deeper document is damaged (or hostile)."""
_REWRITE_HINT = "re-run `balloon-audit scan --json FILE` to write a fresh one"
_JSON_HINT = "pass a file written by `balloon-audit scan --json`"


def read_result(path: Path) -> AuditResult:
    """Read and check the JSON result at ``path``; every problem names the file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultFileError(
            f"{path}: not a JSON result: not UTF-8 text (byte {exc.start})", hint=_JSON_HINT
        ) from None
    except OSError as exc:
        raise ResultFileError(f"{path}: cannot be read: {exc.strerror}", hint=_JSON_HINT) from None
    return result_from_json(text, source=str(path))


def result_from_json(text: str, source: str = "the result") -> AuditResult:
    """Check ``text`` against the ``balloon-audit/1`` model and build the result.

    Raises ResultFileError naming ``source`` and the key for anything that is not a
    well-formed result: bad JSON, NaN, deep nesting, another schema, a missing
    key or a value of the wrong type.
    """
    data = _parse(text, source)
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != SCHEMA:
        raise ResultFileError(
            f"{source}: not a balloon-audit result (schema {schema!r}, expected {SCHEMA!r})",
            hint=_JSON_HINT,
        )
    try:
        document = ResultDocument.model_validate_json(text)
    except ValidationError as exc:
        raise ResultFileError(
            f"{source}: the result is damaged: {_describe(exc, data)}", hint=_REWRITE_HINT
        ) from None
    return document.to_result()


class _Constant(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


def _parse(text: str, source: str) -> Any:
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ResultFileError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint=_JSON_HINT,
        ) from None
    except _Constant as exc:
        raise ResultFileError(
            f"{source}: not valid JSON: {_where_constant(text, str(exc))}", hint=_REWRITE_HINT
        ) from None
    except RecursionError:
        data = None
    if data is None or _depth(data) > MAX_DEPTH:
        raise ResultFileError(
            f"{source}: the result is damaged: nested deeper than {MAX_DEPTH} levels",
            hint=_REWRITE_HINT,
        )
    return data


def _where_constant(text: str, name: str) -> str:
    """``NaN at line 3 column 18 (key 'duration_s')``: JSON has no NaN or Infinity."""
    index = max(text.find(name), 0)
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)
    key = re.search(r'"((?:[^"\\]|\\.)*)"\s*:\s*-?$', text[:index])
    where = f" (key {key.group(1)!r})" if key else ""
    return f"{name} at line {line} column {column}{where}; JSON has no NaN or Infinity"


def _depth(data: Any) -> int:
    """How deeply ``data`` nests (iteratively: a hostile file must not exhaust the stack)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level <= MAX_DEPTH and isinstance(item, (dict, list)):
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _describe(exc: ValidationError, data: Any) -> str:
    """The first problems, each with its key path: ``vms[0] 'web-01'.memory_mb: ...``."""

    def label(loc: Loc) -> str:
        item = lookup(data, loc)
        if not isinstance(item, dict):
            return ""
        name = item.get("name", item.get("server"))
        return f" {name!r}" if isinstance(name, str) else ""

    found = problems(exc, ResultDocument)
    lines = [f"{dotted(p.loc, label)}: {p.message}" if p.loc else p.message for p in found[:5]]
    more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
    return "; ".join(lines) + more


def write_json(result: AuditResult, path: Path) -> None:
    """Write the JSON result to ``path`` atomically."""
    atomic_write_text(path, result_to_json(result))


def print_json(result: AuditResult) -> None:
    """The JSON result on stdout (``--json -``): nothing else is printed there."""
    sys.stdout.write(result_to_json(result))
    sys.stdout.flush()


register(
    Format(
        "json",
        help="Write the JSON result here ('-' for stdout).",
        write=write_json,
        show=print_json,
        rerender=False,
        order=10,
    )
)
