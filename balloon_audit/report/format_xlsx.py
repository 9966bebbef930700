"""Output format ``xlsx``: the Excel workbook (``--xlsx FILE``)."""

from __future__ import annotations

from pathlib import Path

from balloon_audit.model import AuditResult
from balloon_audit.report.formats import Format, register


def write_xlsx(result: AuditResult, path: Path) -> None:
    from balloon_audit.report.xlsx import write_xlsx as write

    write(result, path)


register(Format("xlsx", help="Write the Excel workbook here.", write=write_xlsx, order=30))
