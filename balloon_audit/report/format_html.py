"""Output format ``html``: the self-contained HTML report (``--html FILE``)."""

from __future__ import annotations

from pathlib import Path

from balloon_audit.model import AuditResult
from balloon_audit.report.formats import Format, register


def write_html(result: AuditResult, path: Path) -> None:
    from balloon_audit.report.html import write_html as write

    write(result, path)


register(Format("html", help="Write the HTML report here.", write=write_html, order=20))
