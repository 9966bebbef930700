"""Deadlines that bound a whole request and a whole vCenter, and a stop switch for signals.

A socket timeout bounds each read, not a request: a server (or a stalled load balancer)
that sends one byte every few seconds never trips it. So every TLS socket of a target is
an :class:`_DeadlineSocket` (set through ``SSLContext.sslsocket_class``, which every
connection of pyVmomi and of the version probe uses). It waits in short slices and
between slices checks three limits:

- the whole-request deadline: a request starts when it is sent, and its answer must be
  complete within ``Clock.request_s`` seconds;
- the overall deadline of the vCenter (``Clock.overall_s`` from the first connection);
- the process-wide stop switch of :mod:`balloon_audit.interrupts` (SIGINT/SIGTERM).

Breaking a limit raises :class:`DeadlineExceeded` (a ``TimeoutError``) from the socket
call in progress, so pyVmomi drops the connection and the collector reports a failed
source. Logging out afterwards gets a short grace period of its own.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

from balloon_audit.interrupts import stop_requested

SLICE_S = 0.2
"""Longest single wait on a socket: how quickly a stop request or deadline is noticed."""
LOGOUT_GRACE_S = 5.0
"""Time allowed for logging out after a failure, a deadline or an interrupt."""


class DeadlineExceeded(TimeoutError):
    """A request, a vCenter or the whole run ran out of time. ``kind`` says which."""

    def __init__(self, kind: str, seconds: float) -> None:
        super().__init__(f"{kind} deadline of {seconds:g}s exceeded")
        self.kind = kind
        """``request``, ``overall`` or ``stopped``."""
        self.seconds = seconds


class Clock:
    """The limits of one target's connections (shared by all its sockets)."""

    def __init__(self, request_s: float, overall_s: float) -> None:
        self.request_s = request_s
        self.overall_s = overall_s
        self._overall_at = time.monotonic() + overall_s
        self._grace = False

    def grace(self, seconds: float = LOGOUT_GRACE_S) -> None:
        """From now on allow ``seconds`` in all, even after a stop request (to log out)."""
        self._grace = True
        self.request_s = min(self.request_s, seconds)
        self._overall_at = time.monotonic() + seconds

    def check(self, request_at: float | None) -> float:
        """Seconds left for the current step; raise DeadlineExceeded when none are."""
        if stop_requested() and not self._grace:
            raise DeadlineExceeded("stopped", 0)
        now = time.monotonic()
        left = self._overall_at - now
        if left <= 0:
            raise DeadlineExceeded("overall", self.overall_s)
        if request_at is not None:
            request_left = request_at - now
            if request_left <= 0:
                raise DeadlineExceeded("request", self.request_s)
            left = min(left, request_left)
        return left


class _DeadlineSocket(ssl.SSLSocket):
    """An SSLSocket whose waits obey a :class:`Clock` (see the module docstring)."""

    clock: Clock  # set on the per-target subclass made by install()
    _request_at: float | None = None
    _reading = True

    def _wait(self, operation: Any, *args: Any) -> Any:
        while True:
            left = self.clock.check(self._request_at)
            super().settimeout(min(SLICE_S, left))
            try:
                return operation(*args)
            except DeadlineExceeded:
                raise
            except (TimeoutError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue

    def do_handshake(self, block: bool = False) -> None:
        self._request_at = time.monotonic() + self.clock.request_s
        self._wait(super().do_handshake)

    def send(self, data: Any, flags: int = 0) -> int:
        if self._reading:  # a new request begins: its whole answer has request_s seconds
            self._reading = False
            self._request_at = time.monotonic() + self.clock.request_s
        return self._wait(super().send, data, flags)

    def read(self, len: int = 1024, buffer: Any = None) -> Any:  # noqa: A002 - ssl's name
        # recv() and recv_into() (used by http.client) end up here too.
        self._reading = True
        return self._wait(super().read, len, buffer)


def install(context: ssl.SSLContext, clock: Clock) -> ssl.SSLContext:
    """Make every socket that ``context`` wraps obey ``clock``; returns ``context``."""
    context.sslsocket_class = type("DeadlineSocket", (_DeadlineSocket,), {"clock": clock})
    return context
