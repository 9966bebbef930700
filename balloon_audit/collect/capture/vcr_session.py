"""The one module that touches vcrpy: record a scan's HTTP traffic, or answer it from a capture.

Why the connection classes are our own: pyVmomi imports ``HTTPSConnection`` into its
own modules, so vcrpy's default patching of ``http.client`` records nothing. We patch
pyVmomi's and pyVim's references (and ``http.client`` for the collector's own probe)
with connection classes built on vcrpy's, minus vcrpy's habit of un-patching every
module while it talks to the real server: with several vCenters collected in parallel
threads, that un-patching lets another thread's request slip past the recorder.

This module uses vcrpy internals (``vcr.stubs``, ``Cassette.data``/``play_counts``/
``_path``, custom patches and persisters), which is why pyproject pins vcrpy to the
tested major version. Everything about the file itself is in :mod:`.fileformat`.
"""

from __future__ import annotations

import difflib
import functools
import http.client
import logging
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balloon_audit.collect.capture.fileformat import (
    CaptureInfo,
    Exchange,
    read_capture,
    write_capture,
)
from balloon_audit.collect.capture.scrub import (
    Scrubber,
    is_placeholder_host,
    normalise_body,
    placeholder_index,
    soap_operation,
)
from balloon_audit.collect.target import Target
from balloon_audit.errors import CollectionError, ConfigError, FailureKind
from balloon_audit.netloc import bracketed

MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "soap_body")
_REAL_HTTP = http.client.HTTPConnection
_REAL_HTTPS = http.client.HTTPSConnection


class CaptureMismatchError(CollectionError):
    """The run asked for something the capture does not hold (replay never guesses)."""

    kind = FailureKind.CAPTURE


@dataclass
class _Session:
    """Per-replay state shared by the connection objects (via their cassette)."""

    path: Path
    mismatches: list[CaptureMismatchError] = field(default_factory=list)


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
    exchanges = [_to_exchange(request, response) for request, response in cassette.data]
    cm.__exit__(None, None, None)
    write_capture(path, exchanges, scrubber)


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
    info, exchanges = read_capture(path)
    persister = _Persister(_to_vcr(exchanges))
    del exchanges  # vcrpy's requests and responses hold the same bodies
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
            # vcrpy also keeps the loaded interactions for drop_unused_requests (not used
            # here); holding them would keep every body to the end, played or not.
            if isinstance(getattr(cassette, "_old_interactions", None), list):
                cassette._old_interactions.clear()
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


def _to_exchange(request: Any, response: dict[str, Any]) -> Exchange:
    return Exchange(
        method=request.method,
        uri=request.uri,
        body=request.body,
        headers=dict(request.headers),
        response=response,
    )


def _to_vcr(exchanges: Sequence[Exchange]) -> tuple[list[Any], list[dict[str, Any]]]:
    from vcr.request import Request

    requests = [Request(e.method, e.uri, e.body, e.headers) for e in exchanges]
    return requests, [e.response for e in exchanges]


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
        # vcrpy copies the responses (sharing the bodies), and each body goes once it is
        # played: keeping ours would hold every body to the end.
        loaded, self._loaded = self._loaded, ([], [])
        return loaded

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


if TYPE_CHECKING:
    # vcrpy is untyped: to mypy the mixin below sees vcrpy's stub connection (cassette,
    # _vcr_request, _baseclass, _url, _real_host) as Any, as it is at run time.
    _VcrStubMixin = Any
else:
    _VcrStubMixin = object


@functools.lru_cache(maxsize=1)
def _connection_classes() -> tuple[type, type]:
    from vcr.stubs import VCRHTTPConnection, VCRHTTPResponse, VCRHTTPSConnection, serialize_headers

    class _CaptureConnection(_VcrStubMixin):
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
def _unpatched_init(baseclass: Any) -> Any:
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


def _construct_real(baseclass: Any, args: tuple, kwargs: dict) -> Any:
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


def _server_spec(server: str | Target) -> str:
    return server.hostport if isinstance(server, Target) else server
