"""The capture file: a vcrpy-compatible cassette (YAML, ``.gz`` optional) plus a header.

Reading and writing are plain data: :class:`Exchange` holds one request and its answer.
Scrubbing happens here, before anything reaches disk; the file is written atomically.
Loading is bounded (size, no YAML aliases): captures are shared between people. This
module knows the cassette *format*, not vcrpy: :mod:`.vcr_session` converts.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from balloon_audit import __version__
from balloon_audit.collect.capture.scrub import (
    PASSWORD_PLACEHOLDER,
    USER_PLACEHOLDER,
    Endpoint,
    Scrubber,
    placeholder_index,
    soap_operation,
)
from balloon_audit.collect.target import Target
from balloon_audit.errors import ConfigError, ReportError
from balloon_audit.fileio import atomic_write_bytes

CAPTURE_FORMAT = 1
META_KEY = "balloon_audit"
_KEEP_REQUEST_HEADERS = ("soapaction", "content-type")
_KEEP_RESPONSE_HEADERS = ("content-type", "set-cookie")
DEFAULT_PAGE_SIZE = 1000
_MAX_OBJECTS_RE = re.compile(r"<maxObjects>(\d+)</maxObjects>")
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Exchange:
    """One recorded request and the answer it got, as the cassette stores them."""

    method: str
    uri: str
    body: bytes | None
    headers: dict[str, Any]
    """Request headers: name -> value (or list of values)."""
    response: dict[str, Any]
    """``{"status": {"code", "message"}, "headers": {...}, "body": {"string": bytes}}``."""

    @property
    def host(self) -> str:
        return urlsplit(self.uri).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.uri)
        return parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)


@dataclass(frozen=True)
class CaptureInfo:
    """What a capture file says about itself."""

    sources: tuple[str, ...]
    """Placeholder server names, in the order the recording declared them."""
    recorded_at: str | None
    tool_version: str | None
    interactions: int
    page_size: int = DEFAULT_PAGE_SIZE
    """Objects per PropertyCollector page the recording used (replay must ask the same)."""
    unreachable: tuple[str, ...] = ()
    """Sources that never answered while recording (refused, unresolvable, TLS failure)."""


def check_capture_path(path: Path) -> None:
    """Refuse a --record path that cannot be written, before any vCenter is contacted."""
    parent = Path(path).absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # missing directories are created when the capture is written
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot write capture {path}: {parent} is not a writable directory",
            hint="choose a writable place for --record",
        )
    if Path(path).is_dir():
        raise ConfigError(
            f"cannot write capture {path}: it is a directory",
            hint="give --record a file name, e.g. capture.yaml.gz",
        )


def capture_info(path: Path) -> CaptureInfo:
    """Read a capture's header (sources, when and by which version it was recorded)."""
    return read_capture(Path(path))[0]


def replay_targets(capture: Path | CaptureInfo) -> list[Target]:
    """Targets to collect from while replaying: one per source in the capture.

    Replay needs no ``--server``: the capture names its sources by placeholder, and the
    credentials are placeholders too (the recorded Login was scrubbed). Pass the
    :class:`CaptureInfo` that replaying yields to avoid reading the file again.
    """
    info = capture if isinstance(capture, CaptureInfo) else capture_info(capture)
    return [
        Target(
            server=name,
            port=443,
            user=USER_PLACEHOLDER,
            password=PASSWORD_PLACEHOLDER,
            insecure=True,
        )
        for name in info.sources
    ]


def write_capture(path: Path, exchanges: Sequence[Exchange], scrubber: Scrubber) -> CaptureInfo:
    """Scrub recorded exchanges and write them to ``path`` atomically."""
    import yaml

    items: list[tuple[Endpoint, Exchange]] = []
    for exchange in exchanges:
        endpoint = scrubber.endpoint(exchange.host, exchange.port)
        response = exchange.response
        scrubber.learn(
            _text(exchange.body), response.get("headers") or {}, _text(_resp_body(response))
        )
        items.append((endpoint, exchange))
    # One source after another (stable: each source keeps its own order), so that
    # re-recording several parallel sources does not shuffle the file.
    items.sort(key=lambda item: placeholder_index(item[0].placeholder))
    interactions = [_scrub_interaction(ep, exchange, scrubber) for ep, exchange in items]
    answered = {ep.placeholder for ep, _ in items}
    declared = sorted({ep.placeholder for ep in scrubber.endpoints}, key=placeholder_index)
    info = CaptureInfo(
        sources=tuple(p for p in declared if p in answered),
        unreachable=tuple(p for p in declared if p not in answered),
        recorded_at=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        tool_version=__version__,
        interactions=len(interactions),
    )
    document = {
        META_KEY: {
            "capture_format": CAPTURE_FORMAT,
            "tool_version": info.tool_version,
            "recorded_at": info.recorded_at,
            "sources": list(info.sources),
            "unreachable": list(info.unreachable),
            "scrubbed": "login user name and password, session cookies and keys, "
            "server host names, addresses and ports",
        },
        "version": 1,
        "interactions": interactions,
    }
    text = yaml.dump(document, Dumper=_dumper(yaml), sort_keys=False, allow_unicode=True, width=120)
    payload = text.encode("utf-8")
    hint = "choose a writable place for --record"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise ReportError(f"cannot write capture {path}: {reason}", hint=hint) from None
    atomic_write_bytes(
        path,
        gzip.compress(payload, mtime=0) if _gzipped(path) else payload,
        what="capture",
        hint=hint,
    )
    return info


def _scrub_interaction(ep: Endpoint, exchange: Exchange, scrubber: Scrubber) -> dict:
    parts = urlsplit(exchange.uri)
    query = f"?{scrubber.scrub_text(parts.query, ep)}" if parts.query else ""
    response = exchange.response
    body = _text(exchange.body)
    login = soap_operation(body) == "Login"
    req_headers = {
        name: [scrubber.scrub_text(str(_first(value)), ep)]
        for name, value in sorted(exchange.headers.items())
        if name.lower() in _KEEP_REQUEST_HEADERS
    }
    resp_headers = {
        name: [
            scrubber.scrub_text(str(v), ep)
            for v in (values if isinstance(values, list) else [values])
        ]
        for name, values in sorted((response.get("headers") or {}).items())
        if name.lower() in _KEEP_RESPONSE_HEADERS
    }
    return {
        "request": {
            "method": exchange.method,
            "uri": f"{parts.scheme}://{ep.placeholder}{parts.path}{query}",
            "body": None if exchange.body is None else scrubber.scrub_text(body, ep, login=login),
            "headers": req_headers,
        },
        "response": {
            "status": dict(response.get("status") or {}),
            "headers": resp_headers,
            "body": {"string": scrubber.scrub_text(_text(_resp_body(response)), ep, login=login)},
        },
    }


MAX_CAPTURE_BYTES = 2 * 1024**3
"""Largest capture read (after decompression): far above any real fleet, far below a bomb."""


class _BoundedReader:
    """A capture file read as a stream (gunzipped when ``.gz``), refused past the limit.

    Streaming matters for large fleets: a 100,000-VM capture is hundreds of MB of YAML,
    and holding the whole text next to the parsed document doubled the peak memory.
    """

    def __init__(self, stream: Any, path: Path) -> None:
        self._stream = stream
        self._path = path
        self._read = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size if size >= 0 else MAX_CAPTURE_BYTES + 1)
        self._read += len(data)
        if self._read > MAX_CAPTURE_BYTES:
            raise ConfigError(
                f"capture {self._path} is larger than {MAX_CAPTURE_BYTES // 1024**3} GiB",
                hint=_CAPTURE_HINT,
            )
        return data


_CAPTURE_HINT = "pass the file written by 'balloon-audit scan --record FILE'"


def _parse_capture(path: Path, yaml: Any) -> Any:
    """The capture's YAML document; unreadable, oversized or non-UTF-8 files are ConfigErrors."""
    try:
        with open(path, "rb") as raw:
            stream = gzip.GzipFile(fileobj=raw) if _gzipped(path) else raw
            return yaml.load(_BoundedReader(stream, path), Loader=_no_alias_loader(yaml))
    except (OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConfigError(f"cannot read capture {path}: {reason}", hint=_CAPTURE_HINT) from None
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            f"cannot read capture {path}: not UTF-8 text (byte {exc.position})",
            hint=_CAPTURE_HINT,
        ) from None
    except yaml.YAMLError:
        _check_gzip(path)  # a damaged deflate stream can decode to bad YAML before it fails
        raise


def _check_gzip(path: Path) -> None:
    """Raise "cannot read capture" if ``path`` is a ``.gz`` capture whose stream is damaged."""
    if not _gzipped(path):
        return
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConfigError(f"cannot read capture {path}: {reason}", hint=_CAPTURE_HINT) from None


def read_capture(path: Path) -> tuple[CaptureInfo, list[Exchange]]:
    """The header and exchanges of a capture; ConfigError if it is not one.

    Loading is bounded: captures are shared between people, so YAML aliases (which
    this tool never writes) are refused, as is anything that is not the capture structure.
    """
    import yaml

    try:
        document = _parse_capture(path, yaml)
        meta = document.get(META_KEY) or {}
        raw = document["interactions"]
        exchanges = []
        for number, item in enumerate(raw):
            raw[number] = None  # each body is held once: as text, then as bytes
            exchanges.append(_exchange(item))
        sources = meta.get("sources")
        unreachable = meta.get("unreachable") or []
        for name in [*(sources or []), *unreachable]:
            _scalar(name)
    except (yaml.YAMLError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path} is not a balloon-audit capture ({_short_reason(exc)})",
            hint="pass the file written by 'balloon-audit scan --record FILE'",
        ) from None
    fmt = meta.get("capture_format", CAPTURE_FORMAT)
    if not isinstance(fmt, int) or fmt > CAPTURE_FORMAT:
        raise ConfigError(
            f"{path} uses capture format {fmt}; this balloon-audit reads format {CAPTURE_FORMAT}",
            hint="upgrade balloon-audit to replay this capture",
        )
    if not sources:  # a plain vcrpy cassette: derive the sources from the requests
        sources = sorted({e.host for e in exchanges if e.host}, key=placeholder_index)
    info = CaptureInfo(
        sources=tuple(str(s) for s in sources),
        recorded_at=meta.get("recorded_at"),
        tool_version=meta.get("tool_version"),
        interactions=len(exchanges),
        page_size=_page_size(exchanges) or DEFAULT_PAGE_SIZE,
        unreachable=tuple(str(s) for s in unreachable),
    )
    return info, exchanges


def _exchange(item: dict[str, Any]) -> Exchange:
    """One stored interaction; TypeError/ValueError/KeyError when it is malformed."""
    req = item["request"]
    body = req.get("body")
    response = dict(item["response"])
    string = (response.get("body") or {}).get("string")
    response["body"] = {"string": string.encode("utf-8") if isinstance(string, str) else string}
    exchange = Exchange(
        method=_scalar(req["method"]),
        uri=_scalar(req["uri"]),
        body=body.encode("utf-8") if isinstance(body, str) else body,
        headers={k: _first(v) for k, v in (req.get("headers") or {}).items()},
        response=response,
    )
    _ = exchange.host, exchange.port  # an unparsable URI raises ValueError here
    return exchange


def _page_size(exchanges: Sequence[Exchange]) -> int | None:
    for exchange in exchanges:
        match = _MAX_OBJECTS_RE.search(_text(exchange.body))
        if match:
            return int(match.group(1))
    return None


def _dumper(yaml: Any) -> Any:
    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class _Dumper(base):  # type: ignore[misc, valid-type]
        def ignore_aliases(self, data: Any) -> bool:
            return True  # the loader refuses aliases: never write one

    return _Dumper


def _no_alias_loader(yaml: Any) -> Any:
    """A safe loader that refuses YAML aliases (``*name``): nested alias chains make a
    small file expand into billions of nodes (the "billion laughs")."""
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _Loader(base):  # type: ignore[misc, valid-type]
        def construct_object(self, node: Any, deep: bool = False) -> Any:
            if node in self.constructed_objects or node in self.recursive_objects:
                raise yaml.constructor.ConstructorError(
                    None, None, "YAML aliases are not allowed in a capture", node.start_mark
                )
            return super().construct_object(node, deep=deep)

    return _Loader


def _scalar(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, found {type(value).__name__}")
    return value


def _short_reason(exc: BaseException) -> str:
    if hasattr(exc, "problem") and getattr(exc, "problem", None):
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return f"{exc.problem}{where}"  # type: ignore[attr-defined]
    first = (str(exc).splitlines() or [""])[0][:120]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _gzipped(path: Path) -> bool:
    """``.gz`` captures are gzip-compressed: SOAP XML of thousands of VMs shrinks a lot."""
    return path.suffix.lower() == ".gz"


def _text(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    return bytes(body).decode("utf-8", errors="replace")


def _resp_body(response: dict) -> Any:
    return (response.get("body") or {}).get("string")


def _first(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return value[0] if value else ""
    return value
