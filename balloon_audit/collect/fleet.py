"""Collect many endpoints concurrently; one failing endpoint never sinks the others."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from balloon_audit.collect.connection import wait_for_logouts
from balloon_audit.collect.deadline import LOGOUT_GRACE_S
from balloon_audit.collect.pagecall import streaming_enabled
from balloon_audit.collect.source import DuplicateSourceError, collect_source
from balloon_audit.collect.target import Target
from balloon_audit.errors import BalloonAuditError, FailureKind
from balloon_audit.gcpause import cycle_collection_paused
from balloon_audit.interrupts import stop_requested
from balloon_audit.model import Snapshot, SourceInfo, SourceStatus

Item = TypeVar("Item")
Result = TypeVar("Result")


def collect_all(
    targets: Sequence[Target],
    *,
    progress: Callable[[str], None] | None = None,
    perf: bool = True,
    max_workers: int = 4,
    page_size: int = 1000,
    count_vms: bool = False,
) -> Snapshot:
    """Collect every target (``max_workers`` at a time) and merge the snapshots.

    Never raises for a failing endpoint: it becomes a ``failed`` SourceInfo with the
    error and hint, and the other endpoints' data is kept. ``progress`` is called from
    worker threads. Results keep the order of ``targets``; a repeated endpoint
    (same label) is collected once, and so is one vCenter under two names (same
    instance UUID): the name that logs in first audits it, the other becomes its alias.
    ``count_vms``: see :func:`collect_source`.
    """
    unique: dict[str, Target] = {}
    for target in targets:
        unique.setdefault(target.label, target)
    if not unique:
        return Snapshot()
    claims = _Claims()
    aliases: dict[str, list[str]] = {}

    def one(target: Target) -> Snapshot:
        started = time.monotonic()
        try:
            return collect_source(
                target,
                progress=progress,
                perf=perf,
                page_size=page_size,
                claim=claims,
                count_vms=count_vms,
            )
        except DuplicateSourceError as exc:
            aliases.setdefault(exc.first, []).append(target.label)
            if progress is not None:
                progress(str(exc))
            return Snapshot()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a failed source
            source = _failed_source(target, exc, time.monotonic() - started)
        if progress is not None:
            progress(f"{target.label}: failed: {source.error}")
        return Snapshot(sources=(source,))

    # Millions of long-lived objects and next to no cycles, unless pyVmomi's deserialiser
    # reads the pages (it leaves cycles behind on every page).
    paused = cycle_collection_paused() if streaming_enabled() else contextlib.nullcontext()
    with paused:
        parts = _run_each(one, list(unique.values()), max_workers)
    merged = merge(parts)
    if not aliases:
        return merged
    return dataclasses.replace(
        merged,
        sources=tuple(
            dataclasses.replace(s, aliases=tuple(aliases.get(s.server, ()))) for s in merged.sources
        ),
    )


def _run_each(work: Callable[[Item], Result], items: list[Item], max_workers: int) -> list[Result]:
    """``work(item)`` for every item on up to ``max_workers`` threads; results in order.

    Daemon threads rather than a ThreadPoolExecutor: when the run is interrupted, the
    threads with a session log out (their sockets notice the stop within a fraction of
    a second) and are waited for; one blocked in a TCP connect to an unreachable host
    (up to the connect timeout) holds no session and cannot hold up the exit. Nothing
    new starts after a stop.
    """
    results: list[Result | None] = [None] * len(items)
    queue = list(enumerate(items))
    lock = threading.Lock()
    finished = threading.Semaphore(0)

    def worker() -> None:
        try:
            while not stop_requested():
                with lock:
                    if not queue:
                        return
                    index, item = queue.pop(0)
                results[index] = work(item)
        finally:
            finished.release()

    count = max(1, min(max_workers, len(items)))
    for n in range(count):
        threading.Thread(target=worker, name=f"collect-{n}", daemon=True).start()
    # A semaphore, not Thread.join(): a join interrupted by a signal marks the thread
    # as finished while it still runs (CPython 3.11), and the logouts would be cut off.
    waited = 0
    try:
        while waited < count:
            finished.acquire()
            waited += 1
    except BaseException:  # interrupted: give open sessions their logout, no more
        wait_for_logouts(LOGOUT_GRACE_S + 1)
        raise
    return [r for r in results if r is not None]


class _Claims:
    """First come, first served: which name audits each vCenter (by instance UUID)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}

    def __call__(self, uuid: str, label: str) -> str | None:
        with self._lock:
            owner = self._owners.setdefault(uuid, label)
        return None if owner == label else owner


def _failed_source(target: Target, exc: BaseException, duration_s: float) -> SourceInfo:
    kind = exc.kind if isinstance(exc, BalloonAuditError) else FailureKind.UNEXPECTED
    if isinstance(exc, BalloonAuditError):
        # SourceInfo names the server already: keep the error free of the "label: " prefix
        error, hint = str(exc).removeprefix(f"{target.label}: "), exc.hint
    else:
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        error = f"unexpected {type(exc).__name__}: {first_line}"
        hint = "run again; if it persists, report it with this message"
    return SourceInfo(
        server=target.label,
        status=SourceStatus.FAILED,
        error=error,
        hint=hint,
        error_kind=kind.value,
        duration_s=round(duration_s, 3),
    )


def merge(parts: Sequence[Snapshot]) -> Snapshot:
    """One snapshot with the sources, clusters, hosts and VMs of ``parts``, in order."""
    return Snapshot(
        sources=tuple(s for part in parts for s in part.sources),
        clusters=tuple(c for part in parts for c in part.clusters),
        hosts=tuple(h for part in parts for h in part.hosts),
        vms=tuple(v for part in parts for v in part.vms),
        resource_pools=tuple(r for part in parts for r in part.resource_pools),
    )
