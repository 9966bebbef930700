"""The workbook's history parts: the Changes sheet's rows and the findings' First seen / Age.

Pure data (headers and row values); ``xlsx.py`` writes them with its table helper.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from balloon_audit.history.changes import Changes, FindingChange, finding_ref
from balloon_audit.model import Finding
from balloon_audit.report.console_changes import change_detail

CHANGE_HEADERS = (
    ("Change", 12),
    ("Rule", 8),
    ("Name", 26),
    ("Entity type", 18),
    ("Entity", 32),
    ("Previous name", 24),
    ("vCenter", 22),
    ("Severity", 11),
    ("Previous severity", 11),
    ("Reclaimed before (MB)", 14),
    ("Reclaimed now (MB)", 14),
    ("What moved", 34),
    ("First seen", 12),
    ("Age (days)", 10),
    ("Message", 60),
)
"""(header, width) of the Changes sheet."""

DELTA_HEADERS = (
    ("VM", 32),
    ("Previous name", 24),
    ("vCenter", 22),
    ("Ballooned before (MB)", 14),
    ("Ballooned now (MB)", 14),
    ("Swapped before (MB)", 14),
    ("Swapped now (MB)", 14),
    ("Compressed before (MB)", 14),
    ("Compressed now (MB)", 14),
)

FINDING_HISTORY_HEADERS = (("Change", 12), ("First seen", 12), ("Age (days)", 10))
"""Extra columns of the Findings sheet when the result carries changes."""


def first_seen_date(change: FindingChange) -> datetime:
    """The first-seen day (UTC) as a spreadsheet date."""
    return datetime.strptime(change.first_seen[:10], "%Y-%m-%d")


def change_rows(changes: Changes) -> Iterable[list[Any]]:
    """Every finding of either run, new and worsened first, persisting ones included."""
    for c in changes.findings:
        yield [
            c.status,
            c.rule,
            c.name,
            c.entity_type,
            c.entity_name,
            c.previous_name,
            c.server,
            c.severity,
            c.previous_severity,
            c.previous_magnitude_mb,
            c.magnitude_mb,
            change_detail(c),
            first_seen_date(c),
            c.age_days,
            c.message,
        ]


def delta_rows(changes: Changes) -> Iterable[list[Any]]:
    for d in changes.vm_deltas:
        yield [
            d.name,
            d.previous_name,
            d.server,
            d.ballooned_before,
            d.ballooned_after,
            d.swapped_before,
            d.swapped_after,
            d.compressed_before,
            d.compressed_after,
        ]


def finding_history(lookup: Mapping[tuple, FindingChange], finding: Finding) -> list[Any]:
    """Change, First seen, Age (days) of one finding; ``lookup`` is ``current_by_entity()``."""
    e = finding.entity
    change = lookup.get(finding_ref(finding.rule, e.type, e.server, e.moid, e.name))
    if change is None:
        return [None, None, None]
    return [change.status, first_seen_date(change), change.age_days]
