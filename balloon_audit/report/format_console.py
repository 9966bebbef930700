"""Output format ``console``: the summary on the terminal (what ``scan`` prints)."""

from __future__ import annotations

from balloon_audit.model import AuditResult
from balloon_audit.report.formats import Format, register


def show_console(result: AuditResult) -> None:
    from balloon_audit.report.console import show_console as show

    show(result)


register(Format("console", help="The summary on the terminal.", show=show_console, order=0))
