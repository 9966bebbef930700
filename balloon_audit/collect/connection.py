"""Open and close one vSphere API session, and turn connection failures into project errors.

Every error raised from here is a :class:`~balloon_audit.errors.CollectionError` with a
one-line message and a hint. Messages never contain the password by construction: they
are built from the target's host, port and user and from exception types, and text the
server sent is only quoted for requests made after login (the password is sent once, in
the Login call). The original exception is not chained (its traceback frames hold the
password as a local variable).

Every TLS socket of a session obeys a :class:`~balloon_audit.collect.deadline.Clock`:
a whole-request deadline, an overall deadline per vCenter, and the stop switch.
"""

from __future__ import annotations

import errno
import http.client
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from balloon_audit.collect.deadline import Clock, DeadlineExceeded, install
from balloon_audit.collect.target import Target
from balloon_audit.errors import (
    AuthenticationError,
    CollectionError,
    CollectionTimeoutError,
    ConfigError,
    ConnectionFailedError,
    PermissionDeniedError,
    ProtocolError,
    TLSHandshakeError,
    TLSVerificationError,
)

SDK_PATH = "/sdk"
READ_ONLY_HINT = (
    "give the account a role with System.View and System.Read (the built-in Read-only role) "
    "on the vCenter root object, with 'Propagate to children' ticked"
)


def build_ssl_context(target: Target) -> ssl.SSLContext:
    """TLS settings for ``target``: verify by default, also for localhost / 127.0.0.1.

    pyVmomi skips verification for localhost, 127.0.0.1 and ::1 when it is given no
    context; passing our own context always makes the choice explicit. A CA bundle
    that cannot be read is a :class:`ConfigError` (the CLI checks it before connecting).
    """
    if target.insecure:
        return ssl._create_unverified_context()
    if target.ca_bundle is not None:
        try:
            return ssl.create_default_context(cafile=str(target.ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot read CA bundle {target.ca_bundle}: {exc.strerror or exc}",
                hint="pass a readable PEM file with the vCenter's CA certificate",
            ) from None
    return ssl.create_default_context()


def probe(target: Target, context: ssl.SSLContext) -> int:
    """Fetch the API version list once, with the connect timeout; return the HTTP status.

    SmartConnect's own version discovery has no timeout, so a host that accepts TCP
    but never answers would hang it; this probe fails first.
    """
    conn = http.client.HTTPSConnection(
        target.server, target.port, timeout=_tcp_connect_s(target), context=context
    )
    try:
        conn.request("GET", SDK_PATH + "/vimServiceVersions.xml")
        resp = conn.getresponse()
        resp.read(65536)
        return resp.status
    finally:
        conn.close()


@contextmanager
def open_session(target: Target) -> Iterator[Any]:
    """Log in to ``target`` and yield the ``ServiceInstance``; always log out afterwards.

    Failures while connecting are raised as CollectionError subclasses.
    """
    clock = Clock(target.connect_timeout_s, target.deadline_s)
    context = install(build_ssl_context(target), clock)
    failure: CollectionError | None = None
    status: int | None = None
    si = None
    try:
        status = probe(target, context)
        si = SmartConnect(
            host=target.server,
            port=target.port,
            user=target.user,
            pwd=target.password,
            sslContext=context,
            httpConnectionTimeout=_tcp_connect_s(target),
        )
    except Exception as exc:  # noqa: BLE001 - translated below, outside the except block
        failure = translate_error(exc, target, phase="connect")
        if isinstance(failure, ConnectionFailedError) and "not a VIM server" in str(exc):
            failure = _not_vsphere(target, status)
    if failure is not None:
        raise failure
    _session_opened()
    try:
        clock.request_s = target.request_timeout_s
        set_request_timeout(si, target.request_timeout_s)
        yield si
    finally:
        clock.grace()
        _logout(si, target.connect_timeout_s)
        _session_closed()


_SESSIONS = threading.Condition()
_open_sessions = 0


def _session_opened() -> None:
    global _open_sessions
    with _SESSIONS:
        _open_sessions += 1


def _session_closed() -> None:
    global _open_sessions
    with _SESSIONS:
        _open_sessions -= 1
        _SESSIONS.notify_all()


def wait_for_logouts(timeout_s: float) -> bool:
    """Wait until every session of this process is logged out (after an interrupt).

    Collectors still connecting hold no session and are not waited for.
    """
    with _SESSIONS:
        return _SESSIONS.wait_for(lambda: _open_sessions == 0, timeout_s)


def _tcp_connect_s(target: Target) -> float:
    """The TCP connect itself is outside the Clock's reach: bound it by both limits."""
    return min(target.connect_timeout_s, target.deadline_s)


def set_request_timeout(si: Any, timeout_s: float) -> None:
    """Use ``timeout_s`` per socket wait for every later request of this session."""
    stub = si._stub
    stub.schemeArgs["timeout"] = timeout_s
    for conn, _ in list(stub.pool):
        conn.timeout = timeout_s
        if conn.sock is not None:
            conn.sock.settimeout(timeout_s)


def _logout(si: Any, timeout_s: float) -> None:
    try:
        set_request_timeout(si, timeout_s)
        Disconnect(si)  # logs out; swallows errors of its own
    except Exception:  # noqa: BLE001 - logging out is best effort
        pass


def _not_vsphere(target: Target, status: int | None) -> ProtocolError:
    answer = f"HTTP {status}" if status is not None else "an answer"
    return ProtocolError(
        f"{target.label}: the server answered ({answer} for {SDK_PATH}/vimServiceVersions.xml) "
        "but is not a vSphere API endpoint",
        hint="check the host name and port: point --server at the vCenter or ESXi itself",
    )


def translate_error(exc: BaseException, target: Target, *, phase: str) -> CollectionError:
    """Map a pyVmomi / socket / TLS exception to a project error with a hint.

    ``phase`` is ``connect`` (before and during login) or ``collect``. Walks the
    exception's cause/context chain, because pyVmomi wraps socket errors in
    ``vim.fault.HostConnectFault``.
    """
    label = target.label
    for cause in _chain(exc):
        found = _translate_one(cause, target, label, phase)
        if found is not None:
            return found
    detail = _describe(exc, quote_server=phase != "connect")
    return CollectionError(
        f"{label}: {detail}",
        hint="run again with the same options; if it persists, report it with this message",
    )


def _translate_one(
    exc: BaseException, target: Target, label: str, phase: str
) -> CollectionError | None:
    if isinstance(exc, CollectionError):
        return exc
    if isinstance(exc, DeadlineExceeded):
        return _deadline_error(exc, label, phase)
    for translate in (_login_failure, _tls_failure, _network_failure):
        found = translate(exc, target, label, phase)
        if found is not None:
            return found
    if type(exc).__name__ in ("ExpatError", "IncompleteRead") and phase == "collect":
        return ConnectionFailedError(
            f"{label}: an answer was cut off (the connection closed in the middle of it)",
            hint="a proxy, load balancer or the vCenter dropped the connection: retry later",
        )
    if type(exc).__name__ == "ExpatError" or "not a VIM server" in str(exc):
        return _not_vsphere(target, None)
    return None


def _login_failure(
    exc: BaseException, target: Target, label: str, phase: str
) -> CollectionError | None:
    """vSphere faults about who is asking: a refused login, a missing privilege."""
    if isinstance(exc, vim.fault.InvalidLogin):
        who = f"user {target.user!r}" if target.user else "an empty user name"
        return AuthenticationError(
            f"{label}: login refused for {who} (wrong user name or password)",
            hint="check --user and BALLOON_AUDIT_PASSWORD; SSO users look like name@vsphere.local",
        )
    if isinstance(exc, (vim.fault.NoPermission, vmodl.fault.SecurityError)):
        privilege = getattr(exc, "privilegeId", None)
        missing = f" (missing privilege {privilege})" if privilege else ""
        return PermissionDeniedError(f"{label}: permission denied{missing}", hint=READ_ONLY_HINT)
    if isinstance(exc, vim.fault.NotAuthenticated):
        return PermissionDeniedError(
            f"{label}: the session is not authenticated or has expired", hint=READ_ONLY_HINT
        )
    return None


def _tls_failure(
    exc: BaseException, target: Target, label: str, phase: str
) -> CollectionError | None:
    """An untrusted certificate, or a server that does not speak TLS."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = getattr(exc, "verify_message", None) or "certificate verify failed"
        return TLSVerificationError(
            f"{label}: TLS certificate not trusted ({reason})",
            hint="pass --ca-bundle with the vCenter's CA certificate (from "
            f"https://{label}/certs/download.zip), or --insecure to skip verification",
        )
    if isinstance(exc, ssl.SSLError):
        if "WRONG_VERSION_NUMBER" in str(exc) or "record layer failure" in str(exc):
            return ProtocolError(
                f"{label}: the server does not speak TLS (a plain HTTP service?)",
                hint="check the port: vCenter and ESXi serve the API over HTTPS, normally on 443",
            )
        return TLSHandshakeError(
            f"{label}: TLS handshake failed ({getattr(exc, 'reason', None) or 'SSL error'})",
            hint="check the host and port, and that the server offers TLS 1.2 or later",
        )
    return None


_UNREACHABLE_ERRNOS = (
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EHOSTDOWN,
    errno.ECONNABORTED,
    errno.EADDRNOTAVAIL,
)


def _network_failure(
    exc: BaseException, target: Target, label: str, phase: str
) -> CollectionError | None:
    """Timeouts, refused or reset connections, DNS, and answers that are not vSphere's."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return _timeout(target, label, phase)
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionFailedError(
            f"{label}: connection refused on port {target.port}",
            hint="wrong port? vCenter and ESXi listen on 443; check the host too",
        )
    if isinstance(exc, socket.gaierror):
        return ConnectionFailedError(
            f"{label}: host name {target.server!r} could not be resolved (DNS)",
            hint="check the spelling of --server, or use the IP address",
        )
    if isinstance(exc, (ConnectionResetError, http.client.RemoteDisconnected)):
        return ConnectionFailedError(
            f"{label}: the server closed the connection",
            hint="check the host and port; a proxy or load balancer may be in the way",
        )
    if isinstance(exc, http.client.HTTPException):
        return ProtocolError(
            f"{label}: unexpected HTTP answer ({_http_status(exc)}); not a vSphere API endpoint?",
            hint="check the host name and port: point --server at the vCenter or ESXi itself",
        )
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE_ERRNOS:
        return ConnectionFailedError(
            f"{label}: host unreachable ({exc.strerror})",
            hint="check the network path (routing, firewall, VPN) to the vCenter",
        )
    return None


def _timeout(target: Target, label: str, phase: str) -> CollectionTimeoutError:
    if phase == "connect":
        return CollectionTimeoutError(
            f"{label}: no answer within {_tcp_connect_s(target):g}s while connecting",
            hint="check that the host is reachable (firewall, VPN) or raise the connect timeout",
        )
    return CollectionTimeoutError(
        f"{label}: an API request took longer than {target.request_timeout_s:g}s",
        hint="the vCenter may be overloaded: raise the request timeout or retry later",
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _deadline_error(exc: DeadlineExceeded, label: str, phase: str) -> CollectionError:
    if exc.kind == "stopped":
        return CollectionTimeoutError(
            f"{label}: interrupted", hint="the run was stopped by a signal (Ctrl-C or SIGTERM)"
        )
    if exc.kind == "overall":
        return CollectionTimeoutError(
            f"{label}: gave up after {exc.seconds:g}s, the deadline for one vCenter",
            hint="the vCenter is too slow or stalled: retry later, or raise --deadline",
        )
    if phase == "connect":
        return CollectionTimeoutError(
            f"{label}: no complete answer within {exc.seconds:g}s while connecting",
            hint="check that the host is reachable and answers (firewall, VPN, load "
            "balancer) or raise --connect-timeout",
        )
    return CollectionTimeoutError(
        f"{label}: an API request took longer than {exc.seconds:g}s (whole-request deadline)",
        hint="the vCenter or a load balancer in front of it is stalled or overloaded: "
        "retry later or raise --timeout",
    )


def _http_status(exc: BaseException) -> str:
    """The status code of pyVmomi's ``HTTPException("503 Service Unavailable")``, or its type."""
    first = str(exc).split(" ", 1)[0]
    return f"HTTP {first}" if first.isdigit() and len(first) == 3 else type(exc).__name__


def _describe(exc: BaseException, *, quote_server: bool) -> str:
    """Exception type and fault name; the server's text only when ``quote_server``.

    While connecting, the server has just been sent the password: an echo of it in a
    fault message must not reach a message, so only names are used then.
    """
    if isinstance(exc, vmodl.MethodFault):
        text = (getattr(exc, "msg", None) or "") if quote_server else ""
        return f"{exc._wsdlName} fault" + (f": {text}" if text else "")
    text = str(exc).splitlines()[0] if str(exc) and quote_server else ""
    return f"{type(exc).__name__}" + (f": {text}" if text else "")
