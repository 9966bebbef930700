"""Unattended runs: one run at a time per output directory, retention, ``latest`` pointers.

- :func:`run_lock` takes an exclusive ``flock`` on the output directory itself; a second
  run exits with a clear message, or waits up to ``--wait-lock`` seconds. The kernel
  drops the lock when the process ends, however it ends: no stale lock files.
- :func:`prune` deletes old runs (``--keep N`` newest runs, ``--keep-days N``) and only
  files named like this tool's own dated reports; anything else in the directory stays.
- :func:`point_latest` makes ``balloon-audit-latest.<format>`` a relative symbolic link
  to the run just written, replaced atomically.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from balloon_audit.errors import BalloonAuditError, ReportError
from balloon_audit.model import AuditResult

LATEST_STEM = "balloon-audit-latest"
DATED = re.compile(
    r"balloon-audit-(?P<date>\d{8}-\d{6})(?P<zone>[+-]\d{4})?(?:-(?P<n>\d+))?"
    r"(?P<rest>(?:-vms)?\.(?:json|html|xlsx|csv|prom))\Z"
)
"""This tool's dated file names: ``balloon-audit-20261130-020000+0100[-2].html``."""


class LockBusyError(BalloonAuditError):
    """Another run holds the output directory's lock (exit code 3)."""


@contextlib.contextmanager
def run_lock(directory: Path, wait_s: float = 0.0) -> Iterator[Path | None]:
    """Hold the run lock of ``directory`` for the block; LockBusyError if another run has it.

    The lock is an exclusive ``flock`` on the directory itself: no lock file to leave
    behind, and the kernel releases it when the process ends, however it ends. Yields
    the directory, or None when it cannot be created or opened (then nothing can be
    written there either: the audit goes on, and writing the reports says why).
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield None
        return
    try:
        if not _acquire(fd, wait_s):
            waited = f" (waited {wait_s:g}s)" if wait_s else ""
            raise LockBusyError(
                f"another balloon-audit run is writing to {directory}{waited}",
                hint="this run stopped before contacting anything; "
                "pass --wait-lock SECONDS to wait for the other run instead",
            )
        yield directory
    finally:
        os.close(fd)  # closing releases the lock


def _acquire(fd: int, wait_s: float) -> bool:
    """True once the lock is held; False when another holder keeps it past ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def run_stamp(path: Path) -> datetime | None:
    """When the run that wrote ``path`` started, from its name; None if not this tool's."""
    found = DATED.match(path.name)
    if not found:
        return None
    moment = datetime.strptime(found["date"], "%Y%m%d-%H%M%S")
    zone = found["zone"]
    if zone is None:  # names before the offset was added were UTC
        return moment.replace(tzinfo=timezone.utc)
    sign = 1 if zone[0] == "+" else -1
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * sign
    return moment.replace(tzinfo=timezone(offset))


def _run_key(path: Path) -> str:
    found = DATED.match(path.name)
    assert found is not None
    return f"{found['date']}{found['zone'] or ''}-{found['n'] or 1}"


def prune(
    directory: Path,
    *,
    keep: int | None = None,
    keep_days: float | None = None,
    now: datetime | None = None,
    protect: Iterable[Path] = (),
) -> list[Path]:
    """Delete this tool's dated reports beyond the ``keep`` newest runs or older than
    ``keep_days``; never ``protect``-ed paths (this run's files). Returns what was deleted."""
    runs: dict[str, list[Path]] = {}
    stamps: dict[str, datetime] = {}
    for path in directory.iterdir():
        stamp = run_stamp(path)
        if stamp is None or not path.is_file() or path.is_symlink():
            continue
        key = _run_key(path)
        runs.setdefault(key, []).append(path)
        stamps[key] = stamp
    order = sorted(runs, key=lambda k: (stamps[k], int(k.rsplit("-", 1)[1])), reverse=True)
    doomed = set(order[keep:]) if keep is not None else set()
    if keep_days is not None:
        limit = (now or datetime.now(timezone.utc)) - timedelta(days=keep_days)
        doomed |= {k for k in order if stamps[k] < limit}
    kept = {Path(p).resolve() for p in protect}
    deleted = []
    for key in sorted(doomed):
        for path in runs[key]:
            if path.resolve() in kept:
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted.append(path)
    return deleted


def point_latest(written: Iterable[Path]) -> list[Path]:
    """``balloon-audit-latest.<ext>`` beside each dated file, pointing at it (atomically)."""
    links = []
    for path in written:
        found = DATED.match(path.name)
        if not found:
            continue
        link = path.with_name(LATEST_STEM + found["rest"])
        tmp = path.with_name(f".{link.name}.{os.getpid()}.tmp")
        try:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(path.name)
            os.replace(tmp, link)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise ReportError(
                f"cannot point {link} at {path.name}: {exc.strerror}",
                hint="the dated report itself was written",
            ) from None
        links.append(link)
    return links


def summary_line(result: AuditResult, code: int, fail_on: str, output_dir: Path | None) -> str:
    """What a quiet run says on stderr when it exits non-zero, so cron's mail says why."""
    from collections import Counter

    counts = Counter(f.severity.value for f in result.findings)
    found = ", ".join(f"{counts[s]} {s}" for s in ("critical", "warning", "info") if counts[s])
    failed = [s.server for s in result.snapshot.sources if not s.ok]
    parts = [f"balloon-audit: exit {code}:"]
    parts.append(f"{len(result.findings)} findings ({found or 'none'}), --fail-on {fail_on};")
    parts.append(
        f"{len(result.snapshot.sources) - len(failed)} of {len(result.snapshot.sources)}"
        " sources audited" + (f" ({', '.join(failed)} not)" if failed else "") + ";"
    )
    parts.append(f"reports in {output_dir}" if output_dir else "no --output-dir")
    return " ".join(parts)
