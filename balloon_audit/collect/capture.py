"""Record a scan's SOAP conversation to a scrubbed capture file, and audit from one offline.

A capture is a vcrpy cassette (YAML) with one extra top-level key, ``balloon_audit``,
naming the sources it holds. Usage::

    with recording(path, servers=["vc01:443"]):
        snapshot = collect_all(targets)

    with replaying(path):
        snapshot = collect_all(replay_targets(path))

Why the connection classes are our own: pyVmomi imports ``HTTPSConnection`` into its
own modules, so vcrpy's default patching of ``http.client`` records nothing. We patch
pyVmomi's and pyVim's references (and ``http.client`` for the collector's own probe)
with connection classes built on vcrpy's, minus vcrpy's habit of un-patching every
module while it talks to the real server: with several vCenters collected in parallel
threads, that un-patching lets another thread's request slip past the recorder.

Nothing unscrubbed reaches disk: interactions stay in memory until the recording ends,
then :class:`~balloon_audit.collect.capture_scrub.Scrubber` rewrites them and the file is
written atomically. Replay never opens a socket: a request the capture cannot answer
raises :class:`CaptureMismatchError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import gzip
import http.client
import logging
import os
import re
import types
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from balloon_audit import __version__
from balloon_audit.collect.capture_scrub import (
    PASSWORD_PLACEHOLDER,
    USER_PLACEHOLDER,
    Endpoint,
    Scrubber,
    is_placeholder_host,
    normalise_body,
    placeholder_index,
    soap_operation,
)
from balloon_audit.collect.target import Target
from balloon_audit.errors import CollectionError, ConfigError, ReportError
from balloon_audit.fileio import atomic_write_bytes
from balloon_audit.model import Snapshot, SourceInfo, SourceStatus
from balloon_audit.netloc import bracketed

CAPTURE_FORMAT = 1
META_KEY = "balloon_audit"
MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "soap_body")
_KEEP_REQUEST_HEADERS = ("soapaction", "content-type")
_KEEP_RESPONSE_HEADERS = ("content-type", "set-cookie")
DEFAULT_PAGE_SIZE = 1000
_MAX_OBJECTS_RE = re.compile(r"<maxObjects>(\d+)</maxObjects>")
_REAL_HTTP = http.client.HTTPConnection
_REAL_HTTPS = http.client.HTTPSConnection


class CaptureMismatchError(CollectionError):
    """The run asked for something the capture does not hold (replay never guesses)."""


@dataclass(frozen=True)
class CaptureInfo:
    """What a capture file says about itself."""

    sources: tuple[str, ...]
    """Placeholder server names, in the order the recording declared them."""
    recorded_at: str | None
    tool_version: str | None
    interactions: int
    page_size: int | None = None
    """Objects per PropertyCollector page the recording used (replay must ask the same)."""
    unreachable: tuple[str, ...] = ()
    """Sources that never answered while recording (refused, unresolvable, TLS failure)."""


@dataclass
class _Session:
    """Per-replay state shared by the connection objects (via their cassette)."""

    path: Path
    mismatches: list[CaptureMismatchError] = field(default_factory=list)


# --------------------------------------------------------------------------- public API


@contextmanager
def recording(path: Path, *, servers: Sequence[str | Target] = ()) -> Iterator[None]:
    """Record every vSphere request made inside the block; write a scrubbed capture at the end.

    ``servers`` fixes which placeholder each endpoint gets (``vcenter-1.invalid`` for the
    first, and so on); give ``host:port`` strings or Targets. Endpoints not listed get the
    next placeholder when first contacted. The file is written even when the block fails
    (a capture of a failing run is what a bug report needs).
    """
    vcr_mod = _import_vcr()
    path = Path(path)
    scrubber = Scrubber(_server_spec(s) for s in servers)
    persister = _Persister(None)
    cfg = _vcr_config(vcr_mod, persister)
    with _quiet_vcr_logs():
        cm = cfg.use_cassette(str(path), record_mode="all", custom_patches=_patches(vcr_mod))
        cassette = cm.__enter__()
        try:
            yield
        except Exception:
            _stop_recording(cm, cassette, path, scrubber)
            raise
        except BaseException:  # interrupted: stop, write nothing
            cm.__exit__(None, None, None)
            raise
        _stop_recording(cm, cassette, path, scrubber)


def _stop_recording(cm: Any, cassette: Any, path: Path, scrubber: Scrubber) -> None:
    data = list(cassette.data)
    cm.__exit__(None, None, None)
    write_capture(path, data, scrubber)


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


@contextmanager
def replaying(path: Path, *, strict: bool = False) -> Iterator[CaptureInfo]:
    """Answer every vSphere request made inside the block from the capture at ``path``.

    No request reaches the network. A request the capture cannot answer raises
    :class:`CaptureMismatchError` where it is made, and again when the block ends (the
    collector may have turned the first into a failed source). ``strict`` also fails
    when recorded requests were never asked for.
    """
    vcr_mod = _import_vcr()
    path = Path(path)
    info, requests, responses = _load(path)
    persister = _Persister((requests, responses))
    cfg = _vcr_config(vcr_mod, persister)
    session = _Session(path)
    with _quiet_vcr_logs():
        with cfg.use_cassette(
            str(path),
            record_mode="none",
            custom_patches=_patches(vcr_mod),
            allow_playback_repeats=False,
        ) as cassette:
            cassette._balloon_audit = session
            yield info
            unplayed = len(cassette.data) - len(cassette.play_counts)
        if session.mismatches:
            first = session.mismatches[0]
            more = len(session.mismatches) - 1
            suffix = f" (and {more} more unanswered request{'s' * (more > 1)})" if more else ""
            raise CaptureMismatchError(str(first) + suffix, hint=first.hint)
        if strict and unplayed:
            raise CaptureMismatchError(
                f"{path.name}: {unplayed} recorded request(s) were never asked for",
                hint="the collector asks less than when the capture was made; re-record it",
            )


def capture_info(path: Path) -> CaptureInfo:
    """Read a capture's header (sources, when and by which version it was recorded)."""
    return _load(Path(path))[0]


def replay_targets(path: Path) -> list[Target]:
    """Targets to collect from inside :func:`replaying`: one per source in the capture.

    Replay needs no ``--server``: the capture names its sources by placeholder, and the
    credentials are placeholders too (the recorded Login was scrubbed).
    """
    return _targets(capture_info(path))


def _targets(info: CaptureInfo) -> list[Target]:
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


def replay_snapshot(
    path: Path,
    *,
    progress: Callable[[str], None] | None = None,
    perf: bool = True,
    strict: bool = False,
) -> Snapshot:
    """Collect every source of the capture at ``path``, offline: the replay half of a scan."""
    from balloon_audit.collect.fleet import collect_all

    with replaying(path, strict=strict) as info:
        snapshot = collect_all(
            _targets(info),
            progress=progress,
            perf=perf,
            page_size=info.page_size or DEFAULT_PAGE_SIZE,
        )
    # A server that never answered left no traffic to replay: report it as it failed then.
    failed = [
        SourceInfo(
            server=name,
            status=SourceStatus.FAILED,
            error=f"{name}: did not answer while the capture was recorded",
            hint="the capture holds no traffic for this server; the recording run's "
            "own report says why it could not be reached",
        )
        for name in info.unreachable
    ]
    if not failed:
        return snapshot
    return dataclasses.replace(
        snapshot,
        sources=tuple(
            sorted((*snapshot.sources, *failed), key=lambda s: placeholder_index(s.server))
        ),
    )


# ----------------------------------------------------------------------- file format


def write_capture(path: Path, data: Sequence[tuple[Any, dict]], scrubber: Scrubber) -> CaptureInfo:
    """Scrub recorded (vcrpy Request, response dict) pairs and write them atomically."""
    import yaml

    items: list[tuple[Endpoint, Any, dict]] = []
    for request, response in data:
        endpoint = scrubber.endpoint(request.host or "", request.port or 443)
        scrubber.learn(
            _text(request.body), response.get("headers") or {}, _text(_resp_body(response))
        )
        items.append((endpoint, request, response))
    # One source after another (stable: each source keeps its own order), so that
    # re-recording several parallel sources does not shuffle the file.
    items.sort(key=lambda item: placeholder_index(item[0].placeholder))
    interactions = [_scrub_interaction(ep, req, resp, scrubber) for ep, req, resp in items]
    answered = {ep.placeholder for ep, _, _ in items}
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


def _scrub_interaction(ep: Endpoint, request: Any, response: dict, scrubber: Scrubber) -> dict:
    query = (
        f"?{scrubber.scrub_text(request.parsed_uri.query, ep)}" if request.parsed_uri.query else ""
    )
    body = _text(request.body)
    login = soap_operation(body) == "Login"
    req_headers = {
        name: [scrubber.scrub_text(str(_first(value)), ep)]
        for name, value in sorted(dict(request.headers).items())
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
            "method": request.method,
            "uri": f"{request.scheme}://{ep.placeholder}{request.path}{query}",
            "body": None if request.body is None else scrubber.scrub_text(body, ep, login=login),
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


def _check_gzip(path: Path) -> None:
    """Read a ``.gz`` capture through once (bounded) so that a damaged stream is reported as
    such (CRC or deflate error) rather than as whatever YAML its garbage happens to make."""
    with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) as stream:
        reader = _BoundedReader(stream, path)
        while reader.read(1 << 20):
            pass


def _parse_capture(path: Path, yaml: Any) -> Any:
    """The capture's YAML document; unreadable, oversized or non-UTF-8 files are ConfigErrors."""
    try:
        if _gzipped(path):
            _check_gzip(path)
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


def _load(path: Path) -> tuple[CaptureInfo, list[Any], list[dict]]:
    """Read and check a capture. Loading is bounded: captures are shared between people,
    so YAML aliases (which this tool never writes) are refused, as is anything that is
    not the capture structure."""
    import yaml
    from vcr.request import Request

    try:
        document = _parse_capture(path, yaml)
        meta = document.get(META_KEY) or {}
        raw = document["interactions"]
        requests = []
        responses = []
        for number, item in enumerate(raw):
            raw[number] = None  # each body is held once: as text, then as bytes
            req = item["request"]
            body = req.get("body")
            requests.append(
                Request(
                    method=_scalar(req["method"]),
                    uri=_scalar(req["uri"]),
                    body=body.encode("utf-8") if isinstance(body, str) else body,
                    headers={k: _first(v) for k, v in (req.get("headers") or {}).items()},
                )
            )
            resp = dict(item["response"])
            string = (resp.get("body") or {}).get("string")
            resp["body"] = {"string": string.encode("utf-8") if isinstance(string, str) else string}
            responses.append(resp)
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
        sources = sorted({r.host for r in requests if r.host}, key=placeholder_index)
    info = CaptureInfo(
        sources=tuple(str(s) for s in sources),
        recorded_at=meta.get("recorded_at"),
        tool_version=meta.get("tool_version"),
        interactions=len(requests),
        page_size=_page_size(requests),
        unreachable=tuple(str(s) for s in unreachable),
    )
    return info, requests, responses


def _page_size(requests: Sequence[Any]) -> int | None:
    for request in requests:
        match = _MAX_OBJECTS_RE.search(_text(request.body))
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


# ---------------------------------------------------------------------------- vcrpy glue


def _import_vcr() -> Any:
    try:
        import vcr
    except ImportError:
        raise ConfigError(
            "recording and replaying captures needs the vcrpy package",
            hint="install it next to balloon-audit: pip install vcrpy",
        ) from None
    return vcr


class _Persister:
    """Hands vcrpy pre-loaded interactions; saving is ours (scrubbed, atomic)."""

    def __init__(self, loaded: tuple[list[Any], list[dict]] | None) -> None:
        self._loaded = loaded

    def load_cassette(self, cassette_path: str, serializer: Any) -> tuple[list, list]:
        if self._loaded is None:
            from vcr.persisters.filesystem import CassetteNotFoundError

            raise CassetteNotFoundError()
        return self._loaded

    @staticmethod
    def save_cassette(cassette_path: str, cassette_dict: dict, serializer: Any) -> None:
        return None


def _vcr_config(vcr_mod: Any, persister: _Persister) -> Any:
    cfg = vcr_mod.VCR(
        match_on=MATCH_ON,
        decode_compressed_response=True,
    )
    cfg.register_matcher("soap_body", _match_soap_body)
    cfg.register_persister(persister)
    return cfg


@functools.lru_cache(maxsize=4096)
def _normalised(body: bytes | str | None) -> str:
    return normalise_body(body)


def _match_soap_body(r1: Any, r2: Any) -> None:
    if _normalised(_hashable(r1.body)) != _normalised(_hashable(r2.body)):
        raise AssertionError("SOAP bodies differ")


def _hashable(body: Any) -> bytes | str | None:
    if body is None or isinstance(body, (bytes, str)):
        return body
    return bytes(body)


@functools.lru_cache(maxsize=1)
def _connection_classes() -> tuple[type, type]:
    from vcr.stubs import VCRHTTPConnection, VCRHTTPResponse, VCRHTTPSConnection, serialize_headers

    class _CaptureConnection:
        """Replaces vcrpy's connect/getresponse so that no module is ever un-patched."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("strict", None)
            self.real_connection = _construct_real(self._baseclass, args, kwargs)
            self._sock = None

        def connect(self, *args: Any, **kwargs: Any) -> None:
            # Connecting waits until a request has to go to the real server (recording).
            return None

        def _real_host(self) -> str:
            # vcrpy writes an IPv6 host into the request URI without brackets.
            return bracketed(super()._real_host())

        def getresponse(self, _: bool = False, **kwargs: Any) -> Any:
            request = self._vcr_request
            cassette = self.cassette
            if cassette.can_play_response_for(request):
                recorded = cassette.play_response(request)
                answer = VCRHTTPResponse(recorded, request.uri)
                if not cassette.allow_playback_repeats:  # played once: let the memory go
                    recorded["body"] = {"string": b""}
                return answer
            if cassette.write_protected:
                error = _mismatch_error(cassette, request)
                session = getattr(cassette, "_balloon_audit", None)
                if session is not None:
                    session.mismatches.append(error)
                raise error
            real = self.real_connection
            real.request(
                method=request.method,
                url=self._url(request.uri),
                body=getattr(request, "body_bytes", request.body),
                headers=dict(request.headers),
            )
            answer = real.getresponse()
            recorded = {
                "status": {"code": answer.status, "message": answer.reason},
                "headers": serialize_headers(answer),
                "body": {"string": answer.read()},
            }
            cassette.append(request, recorded)
            return VCRHTTPResponse(recorded, request.uri)

    class CaptureHTTPConnection(_CaptureConnection, VCRHTTPConnection):
        pass

    class CaptureHTTPSConnection(_CaptureConnection, VCRHTTPSConnection):
        pass

    return CaptureHTTPConnection, CaptureHTTPSConnection


@functools.lru_cache(maxsize=4)
def _unpatched_init(baseclass: type) -> Any:
    """``baseclass.__init__`` bound to a copy of its module's globals with the real classes.

    ``http.client.HTTPSConnection.__init__`` calls ``super(HTTPSConnection, self)``, a
    global lookup that finds our patched class while a capture is active. vcrpy answers
    that by un-patching every module for a moment, which races with other threads; a
    private copy of the function with the real names needs no un-patching at all.
    """
    init = baseclass.__init__
    names = dict(init.__globals__)
    names.update(HTTPConnection=_REAL_HTTP, HTTPSConnection=_REAL_HTTPS)
    clone = types.FunctionType(
        init.__code__, names, init.__name__, init.__defaults__, init.__closure__
    )
    clone.__kwdefaults__ = init.__kwdefaults__
    return clone


def _construct_real(baseclass: type, args: tuple, kwargs: dict) -> Any:
    real = baseclass.__new__(baseclass)
    _unpatched_init(baseclass)(real, *args, **kwargs)
    return real


def _patches(vcr_mod: Any) -> tuple[tuple[Any, str, type], ...]:
    import pyVim.connect
    import pyVmomi.SoapAdapter

    http_cls, https_cls = _connection_classes()
    return tuple(
        (module, name, cls)
        for module in (pyVmomi.SoapAdapter, pyVim.connect, http.client)
        for name, cls in (("HTTPConnection", http_cls), ("HTTPSConnection", https_cls))
    )


def _mismatch_error(cassette: Any, request: Any) -> CaptureMismatchError:
    """Say which request the capture could not answer, and how it differs from the recording."""
    name = Path(str(cassette._path)).name
    op = soap_operation(request.body) or f"{request.method} {request.path}"
    host = request.host or "?"
    hint = (
        "the capture was made by another balloon-audit version or with other options "
        "(page size, performance data); record it again with 'balloon-audit scan --record'"
    )
    stored = [(i, r) for i, (r, _) in enumerate(cassette.data)]
    hosts = sorted({r.host for _, r in stored if r.host}, key=placeholder_index)
    if host not in hosts:
        return CaptureMismatchError(
            f"{name}: the capture holds no requests for {host} (it holds: {', '.join(hosts)})",
            hint="replay without --server: the capture knows its sources"
            if not is_placeholder_host(host)
            else hint,
        )
    same_op = [
        (i, r)
        for i, r in stored
        if r.host == host and (soap_operation(r.body) or f"{r.method} {r.path}") == op
    ]
    unplayed = [r for i, r in same_op if cassette.play_counts[i] == 0]
    if not same_op:
        return CaptureMismatchError(f"{name}: {host} was never asked {op} when recorded", hint=hint)
    if not unplayed:
        return CaptureMismatchError(
            f"{name}: {op} to {host} asked more often than when recorded ({len(same_op)} times)",
            hint=hint,
        )
    difference = _diff(unplayed[0].body, request.body)
    return CaptureMismatchError(
        f"{name}: {op} to {host} differs from the recording: {difference}", hint=hint
    )


def _diff(recorded: Any, asked: Any) -> str:
    def lines(body: Any) -> list[str]:
        return normalise_body(_hashable(body)).replace("><", ">\n<").splitlines()

    changes = [
        line
        for line in difflib.unified_diff(lines(recorded), lines(asked), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    text = " ".join(("recorded " + c[1:]) if c[0] == "-" else ("now " + c[1:]) for c in changes[:6])
    if len(changes) > 6:
        text += f" … ({len(changes) - 6} more)"
    return text[:400]


@contextmanager
def _quiet_vcr_logs() -> Iterator[None]:
    """vcrpy logs whole responses (session cookies) at INFO: keep it at WARNING here."""
    logger = logging.getLogger("vcr")
    previous = logger.level
    if logger.getEffectiveLevel() < logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


# ------------------------------------------------------------------------------- helpers


def _gzipped(path: Path) -> bool:
    """``.gz`` captures are gzip-compressed: SOAP XML of thousands of VMs shrinks a lot."""
    return path.suffix.lower() == ".gz"


def _server_spec(server: str | Target) -> str:
    return server.hostport if isinstance(server, Target) else server


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
