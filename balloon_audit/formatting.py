"""How numbers and shared values are written as text, for every output.

Sentences (finding messages, the terminal summary) say ``unknown`` for a value
the server did not send; table cells (HTML) show a dash. The Excel workbook keeps
numbers as numbers and only borrows :func:`tools_status_text`.
"""

from __future__ import annotations

from balloon_audit.model import VM

UNKNOWN = "unknown"
"""An unknown value inside a sentence."""
DASH = "—"
"""An unknown value in a table cell."""


def fmt_num(value: float | int) -> str:
    """``1,024`` for whole numbers, ``1,024.5`` otherwise."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def fmt_mb(value: float | int | None) -> str:
    """``1,024 MB``; ``unknown`` for ``None``."""
    return UNKNOWN if value is None else f"{fmt_num(value)} MB"


def fmt_mb_whole(value: float | int) -> str:
    """``1,025 MB``: rounded to whole MB, for fleet totals."""
    return f"{value:,.0f} MB"


def fmt_pct(value: float | None) -> str:
    """``25.0 %``; ``unknown`` for ``None``."""
    return UNKNOWN if value is None else f"{value:.1f} %"


def fmt_threshold_pct(value: float | int) -> str:
    """A configured percentage threshold as written by the user: ``10 %``, ``0.5 %``."""
    return f"{fmt_num(value)} %"


# ------------------------------------------------------------------ table cells


def cell_mb(value: float | None) -> str:
    """Whole MB without the unit (the column header has it): ``1,024``; a dash if unknown."""
    return DASH if value is None else f"{value:,.0f}"


def cell_num(value: float | None) -> str:
    """Like :func:`fmt_num` (one decimal only when needed); a dash if unknown."""
    return DASH if value is None else fmt_num(value)


def cell_count(value: int | None) -> str:
    """A count with thousands separators; empty if unknown."""
    return "" if value is None else f"{value:,}"


def cell_pct(value: float | None) -> str:
    """``25 %``; a dash if unknown."""
    return DASH if value is None else f"{value:.0f} %"


def cell_ratio(value: float | None) -> str:
    """``1.50``; a dash if unknown."""
    return DASH if value is None else f"{value:.2f}"


# ------------------------------------------------------------------ shared values


def tools_status_text(vm: VM) -> str:
    """The VMware Tools status every output shows, and the one BA103 judges.

    guest.toolsVersionStatus2; when the server did not send it, the deprecated
    guest.toolsVersionStatus (the only one with ``guestToolsNeedUpgrade``); empty
    when neither was sent.
    """
    return vm.tools_version_status2 or vm.tools_version_status or ""
