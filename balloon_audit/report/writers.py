"""Show a result and write the requested report files (each atomically), via the format registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from balloon_audit.errors import ReportError
from balloon_audit.model import AuditResult
from balloon_audit.report.formats import file_formats, get_format


def emit(
    result: AuditResult,
    outputs: Mapping[str, Path | None],
    *,
    output_dir: Path | None,
    quiet: bool,
    rerender_only: bool = False,
) -> list[Path]:
    """Show and write ``result`` as the options ask; returns the files written.

    ``outputs`` maps a format name to its ``--<name>`` path. ``--<name> -`` shows that
    format on stdout instead of the console summary; ``quiet`` and ``rerender_only``
    (the ``report`` command) show no summary. Paths are only returned when not ``quiet``.
    """
    to_stdout = [n for n, path in outputs.items() if str(path) == "-" and get_format(n).show]
    for name in to_stdout or ([] if quiet or rerender_only else ["console"]):
        show = get_format(name).show
        assert show is not None
        show(result)
    files = {name: None if name in to_stdout else path for name, path in outputs.items()}
    written = write_reports(result, report_targets(result, files, output_dir, rerender_only))
    return [] if quiet else written


def dated_paths(
    directory: Path, generated_at: datetime, kinds: Sequence[str] | None = None
) -> dict[str, Path]:
    """``balloon-audit-YYYYmmdd-HHMMSS.<kind>`` in ``directory`` (UTC time) for each kind.

    ``kinds`` defaults to every file format. The directory is created if missing
    (cron jobs point at a fresh folder).
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"cannot create output directory {directory}: {exc.strerror}",
            hint="choose a writable --output-dir",
        ) from None
    stamp = generated_at.strftime("%Y%m%d-%H%M%S")
    if kinds is None:
        kinds = [f.name for f in file_formats()]
    return {kind: directory / f"balloon-audit-{stamp}.{kind}" for kind in kinds}


def report_targets(
    result: AuditResult,
    paths: Mapping[str, Path | None],
    output_dir: Path | None,
    rerender_only: bool = False,
) -> list[tuple[str, Path]]:
    """(format name, path) pairs to write: the dated files of ``output_dir`` first, then
    the explicit ``paths`` (``--json FILE``, ``--html FILE`` ...) that are set.

    ``rerender_only`` limits ``output_dir`` to what ``report`` can re-render (not JSON).
    """
    targets: list[tuple[str, Path]] = []
    if output_dir is not None:
        kinds = [f.name for f in file_formats(rerender_only=rerender_only)]
        targets.extend(dated_paths(output_dir, result.generated_at, kinds).items())
    targets.extend((kind, path) for kind, path in paths.items() if path is not None)
    return targets


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
