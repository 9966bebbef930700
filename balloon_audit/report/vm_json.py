"""``balloon-audit vm --json``: the report as JSON, schema ``balloon-audit-vm/1``.

Shape (docs/vm.md describes every key): ``schema``, ``generated_at``, ``tool_version``,
``pattern``, ``source`` (the vCenter, as in the scan result), ``names_read``,
``vms_read``, ``since_seconds``, ``notes`` and ``vms``: one object per explained VM
with ``vm`` (its collected properties), ``host``, ``resource_pools`` (innermost first),
``breakdown`` (lines with ``section``, ``key``, ``label``, ``value``, ``unit``, ``path``,
``note``), ``bar``, ``balloon_cap``, ``effective_limit``, ``host_state``, ``counters``
(the live series, or null), ``verdicts`` and ``findings`` (as in the scan result, in the
order to act on them). Memory is in MB, like the scan result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from balloon_audit.fileio import atomic_write_text
from balloon_audit.report.json_result import _iso, _plain
from balloon_audit.vmexplain import VmExplanation, VmReport


def _verdict(pair: tuple[str, str] | None) -> dict[str, str] | None:
    return None if pair is None else {"verdict": pair[0], "reason": pair[1]}


def explanation_to_dict(exp: VmExplanation) -> dict[str, Any]:
    b = exp.breakdown
    return {
        "vm": _plain(exp.vm),
        "host": _plain(exp.host),
        "resource_pools": [_plain(p) for p in exp.pools],
        "breakdown": [_plain(line) for line in b.lines],
        "bar": [_plain(seg) for seg in b.segments],
        "effective_limit": {"mb": b.effective_limit_mb, "set_by": b.limit_set_by},
        "balloon_cap": _plain(b.cap),
        "host_state": _plain(b.host_state),
        "counters": exp.live.to_json() if exp.live is not None else None,
        "verdicts": {"balloon": _verdict(exp.balloon), "swap": _verdict(exp.swap)},
        "findings": [_plain(f) for f in exp.findings],
        "rules": [_plain(r) for r in exp.rules],
        "notes": list(exp.notes),
    }


def report_to_dict(report: VmReport) -> dict[str, Any]:
    return {
        "schema": report.schema,
        "generated_at": _iso(report.generated_at),
        "tool_version": report.tool_version,
        "pattern": report.pattern,
        "source": _plain(report.source),
        "names_read": report.names_read,
        "vms_read": report.vms_read,
        "since_seconds": int(report.since.total_seconds()),
        "notes": list(report.notes),
        "vms": [explanation_to_dict(exp) for exp in report.explanations],
    }


def report_to_json(report: VmReport) -> str:
    """Indented, keys sorted; non-ASCII kept (names are UTF-8), ``<`` ``>`` ``&`` escaped so
    the text is safe to paste into HTML too."""
    text = json.dumps(report_to_dict(report), indent=2, sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def write_vm_json(report: VmReport, path: Path) -> None:
    """Write the JSON to ``path`` atomically (``-``: standard output)."""
    text = report_to_json(report)
    if str(path) == "-":
        import sys

        sys.stdout.write(text)
        sys.stdout.flush()
        return
    atomic_write_text(path, text, what="JSON report")
