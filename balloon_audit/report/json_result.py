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
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from balloon_audit.errors import ResultFileError
from balloon_audit.fileio import atomic_writer
from balloon_audit.model import RESULT_SCHEMA as SCHEMA
from balloon_audit.model import AuditResult
from balloon_audit.summary import summary

if TYPE_CHECKING:
    from pydantic import ValidationError

    from balloon_audit.validation import Loc


_SCALARS = (str, int, float, bool, type(None))
_PLAIN_TYPES = frozenset(_SCALARS)
"""Exactly these types are JSON-ready as they are (checked first: most values are)."""


def _plain(obj: Any) -> Any:
    """Dataclasses, enums, tuples and datetimes to JSON-ready values."""
    if type(obj) in _PLAIN_TYPES:
        return obj
    names = _field_names(type(obj))
    if names is not None:
        plain = {}
        for name in names:
            value = getattr(obj, name)
            plain[name] = value if type(value) in _PLAIN_TYPES else _plain(value)
        return plain
    if isinstance(obj, _SCALARS) and not isinstance(obj, enum.Enum):
        return obj
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, datetime):
        return _iso(obj)
    return obj


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """A dataclass's field names (looked up once per class: 10,000 VMs ask 10,000 times)."""
    try:
        return _FIELD_NAMES[cls]
    except KeyError:
        names = None
        if dataclasses.is_dataclass(cls):
            names = tuple(f.name for f in dataclasses.fields(cls))
        _FIELD_NAMES[cls] = names
        return names


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _by_identity(item: Any) -> tuple:
    return (item.server, item.name, item.moid)


def _sections(result: AuditResult) -> dict[str, tuple[bool, Any]]:
    """Top-level keys: (True, objects to convert one by one) or (False, a plain value)."""
    snapshot = result.snapshot
    return {
        "schema": (False, SCHEMA),
        "generated_at": (False, _iso(result.generated_at)),
        "tool_version": (False, result.tool_version),
        "run_by": (False, dict(result.run_by)),
        "sources": (True, sorted(snapshot.sources, key=lambda s: s.server)),
        "thresholds": (False, _plain(result.thresholds)),
        "summary": (False, summary(result)),
        "clusters": (True, sorted(snapshot.clusters, key=_by_identity)),
        "hosts": (True, sorted(snapshot.hosts, key=_by_identity)),
        "vms": (True, sorted(snapshot.vms, key=_by_identity)),
        "resource_pools": (True, sorted(snapshot.resource_pools, key=_by_identity)),
        "findings": (True, result.findings),
        "waived": (True, result.waived),
        "waiver_problems": (False, list(result.waiver_problems)),
        "rules": (True, sorted(result.rules, key=lambda r: r.id)),
        **({"changes": (False, _plain(result.changes))} if result.changes is not None else {}),
    }


def result_to_dict(result: AuditResult) -> dict[str, Any]:
    return {
        key: [_plain(item) for item in value] if items else value
        for key, (items, value) in _sections(result).items()
    }


def result_to_json(result: AuditResult) -> str:
    """The result as JSON text (see :func:`json_chunks`)."""
    return "".join(json_chunks(result))


def write_result_json(result: AuditResult, stream: IO[bytes]) -> None:
    """Write the result as UTF-8 JSON to a binary stream, a piece at a time."""
    for chunk in json_chunks(result):
        stream.write(chunk.encode("utf-8"))


def json_chunks(result: AuditResult) -> Iterator[str]:
    """The result's JSON text in pieces: top-level keys one per line, list items (a VM, a
    finding) one per line.

    ``json.dumps(indent=...)`` would use the pure-Python encoder: for 10,000 VMs it took
    longer than collecting them. Items are converted and encoded (by the C encoder) one at
    a time, so neither the whole result as a dict nor the whole text has to exist at once
    (together they held about 300 MB for 10,000 VMs); the file stays readable and
    diff-friendly.
    """
    sections = _sections(result)
    keys = sorted(sections)
    yield "{"
    for number, key in enumerate(keys, 1):
        items, value = sections[key]
        yield f"\n  {_encode(key)}: "
        if items and value:
            yield "["
            for index, item in enumerate(value):
                yield ("\n    " if index == 0 else ",\n    ") + _encode(_plain(item))
            yield "\n  ]"
        else:
            yield _encode(value if not items else [])
        if number < len(keys):
            yield ","
    yield "\n}\n"


_encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
"""What ``json.dumps(obj, sort_keys=True, ensure_ascii=False)`` does, without making an
encoder for every VM and finding."""


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
    # Reading needs pydantic and the result model; writing (every scan) does not: imported
    # here, they stay out of the start of a scan.
    from pydantic import ValidationError

    from balloon_audit.report.result_model import ResultDocument

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
    from balloon_audit.report.result_model import ResultDocument
    from balloon_audit.validation import dotted, lookup, problems

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
    """Write the JSON result to ``path`` atomically, a piece at a time."""
    with atomic_writer(path) as stream:
        write_result_json(result, stream)


def print_json(result: AuditResult) -> None:
    """The JSON result on stdout (``--json -``): nothing else is printed there."""
    for chunk in json_chunks(result):
        sys.stdout.write(chunk)
    sys.stdout.flush()
