"""SIGINT and SIGTERM: stop promptly, log out, leave no temporary files, exit 130 / 143.

While :func:`handle_signals` is active, a signal sets the stop switch read by the
collector's sockets (every
socket gives up within a fraction of a second, then each session logs out with a short
grace period) and raises :class:`Interrupted` in the main thread. ``Interrupted`` is a
``BaseException``: ``except Exception`` blocks let it through, and the atomic writer
removes its temporary file on the way out.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Interrupted(BaseException):  # noqa: N818 - like KeyboardInterrupt
    """The run was stopped by a signal; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_STOP = threading.Event()


def request_stop() -> None:
    """Ask every collector socket to give up now."""
    _STOP.set()


def stop_requested() -> bool:
    return _STOP.is_set()


def reset_stop() -> None:
    """Clear the stop switch (tests run several audits in one process)."""
    _STOP.clear()


def _handler(signum: int, frame: FrameType | None) -> None:
    request_stop()
    raise Interrupted(signum)


@contextmanager
def handle_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
