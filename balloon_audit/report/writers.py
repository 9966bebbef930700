"""Show a result and write the requested report files (each atomically), via the format registry."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from balloon_audit.errors import ConfigError, ReportError
from balloon_audit.model import AuditResult
from balloon_audit.report.formats import file_formats, get_format

MAX_SAME_SECOND = 1000
"""How many runs may write into one directory within the same second."""


@dataclass(frozen=True)
class Emitted:
    """What :func:`emit` did."""

    written: list[Path]
    error: ReportError | None = None
    """The reports that could not be written (the others were)."""
    stdout_closed: bool = False
    """Standard output was closed by its reader before all was written to it."""


def emit(
    result: AuditResult,
    outputs: Mapping[str, Path | None],
    *,
    output_dir: Path | None,
    quiet: bool,
    rerender_only: bool = False,
) -> Emitted:
    """Write the report files, then show ``result`` on stdout, as the options ask.

    ``outputs`` maps a format name to its ``--<name>`` path. ``--<name> -`` shows that
    format on stdout instead of the console summary; ``quiet`` and ``rerender_only``
    (the ``report`` command) show no summary. Files come first: a console that fails
    must not cost them.
    """
    to_stdout = [n for n, path in outputs.items() if str(path) == "-" and get_format(n).show]
    files = {name: None if name in to_stdout else path for name, path in outputs.items()}
    written, error = _write_all(result, files, output_dir, rerender_only)
    summary = [] if quiet or rerender_only else ["console"]
    shows = [get_format(name).show for name in to_stdout or summary]
    try:
        for show in shows:
            if show is not None:
                show(result)
    except BrokenPipeError:
        _silence_stdout()
        return Emitted(written, error, stdout_closed=True)
    return Emitted(written, error)


def _write_all(
    result: AuditResult,
    files: Mapping[str, Path | None],
    output_dir: Path | None,
    rerender_only: bool,
) -> tuple[list[Path], ReportError | None]:
    """Every requested file is tried; one that fails does not stop the others."""
    targets = [(kind, path) for kind, path in files.items() if path is not None]
    failure: ReportError | None = None
    with contextlib.ExitStack() as stack:
        if output_dir is not None:
            kinds = [f.name for f in file_formats(rerender_only=rerender_only, dated_only=True)]
            try:
                dated = stack.enter_context(dated_paths(output_dir, result.generated_at))
                targets[:0] = [(kind, dated[kind]) for kind in kinds]
            except ReportError as exc:
                failure = exc
        try:
            return write_reports(result, targets), failure
        except ReportError as exc:
            return [], ReportError(f"{failure}; {exc}", hint=failure.hint) if failure else exc


def _silence_stdout() -> None:
    """Standard output was closed by its reader: send the rest (and the exit flush) nowhere."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)


def check_distinct(*paths: Path | None) -> None:
    """Two outputs (or an output and the input) naming one file would overwrite each other."""
    seen: dict[str, Path] = {}
    for path in paths:
        if path is None or str(path) == "-" or str(path).startswith("/dev/"):
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise ConfigError(
                f"{seen[key]} and {path} are the same file",
                hint="give each of --json, --html, --xlsx and --record its own file name, "
                "and never the input file",
            )
        seen[key] = path


@contextlib.contextmanager
def dated_paths(directory: Path, generated_at: datetime) -> Iterator[dict[str, Path]]:
    """Reserve ``balloon-audit-YYYYmmdd-HHMMSS+ZZZZ[-N].<format>`` in ``directory``, every
    dated file format.

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
    kinds = [f.name for f in file_formats(dated_only=True)]
    for n in range(1, MAX_SAME_SECOND + 1):
        stem = f"balloon-audit-{stamp}" + (f"-{n}" if n > 1 else "")
        paths = {kind: directory / f"{stem}.{kind}" for kind in kinds}
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
    """Write each (format name, path); returns the paths written.

    One report that cannot be written does not stop the others: every target is
    tried, then a ReportError names all that failed.
    """
    written: list[Path] = []
    failures: list[ReportError] = []
    for kind, path in targets:
        write = get_format(kind).write
        if write is None:
            raise ValueError(f"output format {kind!r} does not write files")
        try:
            write(result, path)
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
