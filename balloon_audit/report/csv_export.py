"""CSV export: the findings at ``--csv FILE`` and the VMs beside it (``FILE-vms.csv``).

UTF-8 with a byte-order mark (spreadsheets then read names correctly), one header
row, RFC 4180 quoting. A cell that a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-``, ``@``, a tab or a line break) is prefixed with ``'``, as
OWASP advises for CSV injection; numbers stay numbers. Both files are written
atomically.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from balloon_audit.model import VM, AuditResult
from balloon_audit.report.formats import Format, register

RISKY_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
FINDING_COLUMNS = (
    "rule",
    "name",
    "severity",
    "entity_type",
    "entity",
    "moid",
    "server",
    "datacenter",
    "cluster",
    "host",
    "message",
    "remediation",
    "evidence",
)
VM_COLUMNS = tuple(f.name for f in dataclasses.fields(VM))


def cell(value: Any) -> Any:
    """A value safe to open in a spreadsheet: text that could run is quoted with ``'``."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(RISKY_PREFIXES) else text


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return "\ufeff" + out.getvalue()


def findings_csv(result: AuditResult) -> str:
    """One row per finding (waived findings are not included)."""
    rows = []
    for f in result.findings:
        e = f.entity
        rows.append(
            (
                f.rule,
                f.name,
                f.severity.value,
                e.type,
                e.name,
                e.moid,
                e.server,
                e.datacenter,
                e.cluster,
                e.host,
                f.message,
                f.remediation.summary,
                json.dumps(f.evidence, sort_keys=True, default=str),
            )
        )
    return _csv_text(FINDING_COLUMNS, rows)


def vms_csv(result: AuditResult) -> str:
    """One row per VM, every collected field."""
    rows = [tuple(getattr(vm, name) for name in VM_COLUMNS) for vm in result.snapshot.vms]
    return _csv_text(VM_COLUMNS, rows)


def vms_path(path: Path) -> Path:
    """Where the VMs go for findings at ``path``: ``report.csv`` -> ``report-vms.csv``."""
    return path.with_name(f"{path.stem}-vms{path.suffix or '.csv'}")


def write_csv(result: AuditResult, path: Path) -> None:
    """Write the findings to ``path`` and the VMs to :func:`vms_path`, each atomically."""
    from balloon_audit.fileio import atomic_write_text

    atomic_write_text(path, findings_csv(result), what="CSV")
    atomic_write_text(vms_path(path), vms_csv(result), what="CSV")


register(
    Format(
        "csv",
        help="Write the findings as CSV here, and the VMs beside it (NAME-vms.csv).",
        write=write_csv,
        order=70,
        dated=False,
    )
)
