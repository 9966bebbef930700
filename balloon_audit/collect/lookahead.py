"""Ask for the next result page while the current one is still being read.

A page's continuation token comes first in its answer (``<token>`` precedes the
``<objects>`` in a RetrieveResult), so ``ContinueRetrievePropertiesEx`` for page N+1
can go out, on a second pooled connection, as soon as page N's token is parsed: the
server prepares page N+1 while this client is still reading page N. It is still one
PropertyCollector pass, the same calls with the same tokens, only overlapped. Pages
are handed out in order, and at most :data:`AHEAD` pages beyond the one the consumer
holds are asked for, so memory stays bounded whatever the consumer does with a page.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from balloon_audit.collect.pagecall import call_page
from balloon_audit.collect.pageparser import Page

AHEAD = 2
"""Pages that may be asked for beyond the one the consumer holds."""

_Result = tuple[Page, Counter[str]]
"""A page and the enum values newer than this pyVmomi that it held."""


class _Fetch:
    """One ContinueRetrievePropertiesEx on its own (daemon) thread."""

    def __init__(self, run: Callable[[], _Result]) -> None:
        self._result: _Result | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(run,), name="page-ahead", daemon=True
        )
        self._thread.start()

    def _run(self, run: Callable[[], _Result]) -> None:
        try:
            self._result = run()
        except BaseException as exc:  # noqa: BLE001 - raised in the consumer by wait()
            self._error = exc

    def wait(self) -> _Result:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def token_left(self) -> str | None:
        """Once done: the token of the page it got (None if it failed or got the last)."""
        self._thread.join()
        return self._result[0].token if self._result is not None else None


class PageSequence:
    """The pages of one retrieval; each next one is asked for as soon as its token is read.

    Used by one consumer thread: :meth:`first`, then :meth:`next` with each page's token,
    then :meth:`close` (always). Enum values newer than this pyVmomi are counted into
    ``unknown_values`` as pages are handed out, in the consumer's thread.
    """

    def __init__(self, pc: Any, unknown_values: Counter[str]) -> None:
        self._pc = pc
        self._unknown = unknown_values
        self._lock = threading.Lock()
        self._held = 0
        """Number of the page the consumer holds (1 = the first)."""
        self._fetches: dict[str, _Fetch] = {}
        """Fetches started in the background and not handed out yet, by the token they
        continue (in page order)."""
        self._continued: set[str] = set()
        """Every token continued so far (each may be used once)."""
        self._deferred: list[tuple[int, str]] = []
        """(page number, its token) read while too far ahead of the consumer."""
        self._closed = False

    def first(self, **kwargs: Any) -> Page:
        return self._hand_out(1, self._call("RetrievePropertiesEx", 1, **kwargs))

    def next(self, token: str) -> Page:
        """The page that ``token`` leads to (asked for already, or asked for now)."""
        with self._lock:
            number = self._held + 1
            fetch = self._fetches.pop(token, None)  # handed out: this object lets it go
            if fetch is None:
                self._continued.add(token)
                self._deferred = [(n, t) for n, t in self._deferred if t != token]
        result = fetch.wait() if fetch is not None else self._continue(token, number)
        return self._hand_out(number, result)

    def close(self, unread_token: str | None) -> str | None:
        """Wait for the fetches still running; return the token to cancel, if any.

        ``unread_token`` is the token of the page the consumer holds and did not follow
        (it stopped early). If it was followed in the background already, the token at
        the end of that chain is the one the server still holds a result for.
        """
        with self._lock:
            self._closed = True  # no fetch starts from now on
            fetches = list(self._fetches.items())
            self._deferred.clear()
        pending = unread_token
        for token, fetch in fetches:  # page order
            left = fetch.token_left()
            if token == pending:
                pending = left
        return pending

    # -- internals

    def _hand_out(self, number: int, result: _Result) -> Page:
        page, unknown = result
        self._unknown.update(unknown)
        with self._lock:
            self._held = number
            ready = [(n, t) for n, t in self._deferred if n < number + AHEAD]
            self._deferred = [(n, t) for n, t in self._deferred if n >= number + AHEAD]
        for seen, token in ready:
            self._start(seen, token)
        return page

    def _call(self, method: str, number: int, **kwargs: Any) -> _Result:
        unknown: Counter[str] = Counter()  # one per page: pages are parsed on other threads
        page = call_page(
            self._pc,
            method,
            unknown,
            on_token=lambda token: self._token_read(number, token),
            **kwargs,
        )
        return page, unknown

    def _continue(self, token: str, number: int) -> _Result:
        return self._call("ContinueRetrievePropertiesEx", number, token=token)

    def _token_read(self, number: int, token: str) -> None:
        """Page ``number`` has ``token``: ask for the next page unless too far ahead."""
        with self._lock:
            if number >= self._held + AHEAD:
                self._deferred.append((number, token))
                return
        self._start(number, token)

    def _start(self, number: int, token: str) -> None:
        with self._lock:
            if self._closed or token in self._continued:
                return
            self._continued.add(token)
            self._fetches[token] = _Fetch(lambda: self._continue(token, number + 1))
