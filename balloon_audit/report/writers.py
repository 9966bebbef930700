"""Write the requested report files, each atomically."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from balloon_audit.errors import ReportError
from balloon_audit.model import AuditResult

KINDS = ("json", "html", "xlsx")


MAX_SAME_SECOND = 1000
"""How many runs may write into one directory within the same second."""


@contextlib.contextmanager
def dated_paths(directory: Path, generated_at: datetime) -> Iterator[dict[str, Path]]:
    """Reserve ``balloon-audit-YYYYmmdd-HHMMSS+ZZZZ[-N].{json,html,xlsx}`` in ``directory``.

    Times are local, with the UTC offset in the name (``20261130-020000+0100``).
    Names never collide: a run takes the first stem whose reports do not
    exist and whose hidden ``.STEM.reserved`` marker it could create exclusively
    (``O_EXCL``), so two runs in the same second (``-2``, ``-3`` ...) never overwrite
    each other. The marker is removed when the block ends. The directory is created if
    missing (cron jobs point at a fresh folder).
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"cannot create output directory {directory}: {exc.strerror}",
            hint="choose a writable --output-dir",
        ) from None
    stamp = generated_at.astimezone().strftime("%Y%m%d-%H%M%S%z")
    for n in range(1, MAX_SAME_SECOND + 1):
        stem = f"balloon-audit-{stamp}" + (f"-{n}" if n > 1 else "")
        paths = {kind: directory / f"{stem}.{kind}" for kind in KINDS}
        if any(os.path.lexists(p) for p in paths.values()):
            continue
        marker = directory / f".{stem}.reserved"
        try:
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        except OSError as exc:
            raise ReportError(
                f"cannot write to output directory {directory}: {exc.strerror}",
                hint="choose a writable --output-dir (permissions, read-only or full disk)",
            ) from None
        try:
            yield paths
        finally:
            with contextlib.suppress(OSError):
                marker.unlink()
        return
    raise ReportError(
        f"more than {MAX_SAME_SECOND} reports for {stamp} in {directory}",
        hint="write to another --output-dir",
    )


def write_reports(result: AuditResult, targets: Sequence[tuple[str, Path]]) -> list[Path]:
    """Write each (kind, path); returns the paths written.

    One report that cannot be written does not stop the others: every target is
    tried, then a ReportError names all that failed.
    """
    written: list[Path] = []
    failures: list[ReportError] = []
    for kind, path in targets:
        try:
            _WRITERS[kind](result, path)
        except ReportError as exc:
            failures.append(exc)
        else:
            written.append(path)
    if failures:
        message = "; ".join(str(f) for f in failures)
        if written:
            message += " (written: " + ", ".join(str(p) for p in written) + ")"
        raise ReportError(message, hint=failures[0].hint)
    return written


def _write_json(result: AuditResult, path: Path) -> None:
    from balloon_audit.fileio import atomic_write_text
    from balloon_audit.report.json_result import result_to_json

    atomic_write_text(path, result_to_json(result))


def _write_html(result: AuditResult, path: Path) -> None:
    from balloon_audit.report.html import write_html

    write_html(result, path)


def _write_xlsx(result: AuditResult, path: Path) -> None:
    from balloon_audit.report.xlsx import write_xlsx

    write_xlsx(result, path)


def _write_prometheus(result: AuditResult, path: Path) -> None:
    from balloon_audit.report.prometheus import write_prometheus

    write_prometheus(result, path)


def _write_csv(result: AuditResult, path: Path) -> None:
    from balloon_audit.report.csv_export import write_csv

    write_csv(result, path)


_WRITERS: dict[str, Callable[[AuditResult, Path], None]] = {
    "prometheus": _write_prometheus,
    "csv": _write_csv,
    "json": _write_json,
    "html": _write_html,
    "xlsx": _write_xlsx,
}
