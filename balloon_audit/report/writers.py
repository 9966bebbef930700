"""Write the requested report files, each atomically."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from balloon_audit.errors import ReportError
from balloon_audit.model import AuditResult

KINDS = ("json", "html", "xlsx")


def dated_paths(directory: Path, generated_at: datetime) -> dict[str, Path]:
    """``balloon-audit-YYYYmmdd-HHMMSS.{json,html,xlsx}`` in ``directory`` (UTC time).

    The directory is created if missing (cron jobs point at a fresh folder).
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"cannot create output directory {directory}: {exc.strerror}",
            hint="choose a writable --output-dir",
        ) from None
    stamp = generated_at.strftime("%Y%m%d-%H%M%S")
    return {kind: directory / f"balloon-audit-{stamp}.{kind}" for kind in KINDS}


def write_reports(result: AuditResult, targets: Mapping[str, Path]) -> list[Path]:
    """Write each kind in ``targets``; returns the paths written."""
    from balloon_audit.report.files import atomic_write_bytes

    written: list[Path] = []
    for kind in KINDS:
        path = targets.get(kind)
        if path is None:
            continue
        if kind == "json":
            from balloon_audit.report.json_result import result_to_json

            atomic_write_bytes(path, result_to_json(result).encode("utf-8"))
        elif kind == "html":
            from balloon_audit.report.html import write_html

            write_html(result, path)
        else:
            from balloon_audit.report.xlsx import write_xlsx

            write_xlsx(result, path)
        written.append(path)
    return written
