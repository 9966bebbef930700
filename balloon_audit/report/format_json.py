"""Output format ``json``: the JSON result (``--json FILE``, or ``--json -`` for stdout)."""

from __future__ import annotations

from pathlib import Path

from balloon_audit.model import AuditResult
from balloon_audit.report.formats import Format, register


def write_json(result: AuditResult, path: Path) -> None:
    from balloon_audit.report.json_result import write_json as write

    write(result, path)


def print_json(result: AuditResult) -> None:
    from balloon_audit.report.json_result import print_json as show

    show(result)


register(
    Format(
        "json",
        help="Write the JSON result here ('-' for stdout).",
        write=write_json,
        show=print_json,
        rerender=False,
        order=10,
    )
)
