"""HTML pieces for history: the "Since last run" section's data and its trend charts.

The trend charts are inline SVG polylines (no script, no network): fleet
ballooned / swapped / compressed MB, and finding counts, over the runs of the
same scope that the history holds (oldest first). The SVG only draws the lines and
stretches to its box; the axis labels are HTML beside it, so they keep the page's text
size on a phone and are never clipped, like the report's other charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from balloon_audit.formatting import fmt_num
from balloon_audit.history.changes import PERSISTING, STATUSES, Changes, TrendPoint, finding_ref
from balloon_audit.model import Finding
from balloon_audit.report.console_changes import change_detail, day, delta_text


@dataclass(frozen=True)
class Series:
    css: str
    label: str
    points: str
    """SVG polyline points, ``x,y x,y …``."""
    last: str
    """The newest value, as text."""


@dataclass(frozen=True)
class TrendChart:
    title: str
    series: tuple[Series, ...]
    first: str
    last: str
    """Dates of the oldest and newest run."""
    top: str
    """The value at the top of the plot."""
    runs: int


PLOT = 100
"""The SVG's coordinates run from 0 to PLOT both ways (stretched to the plot's box)."""


def _plot(values: list[float], chart_top: float) -> str:
    step = PLOT / max(len(values) - 1, 1)
    scale = PLOT / (chart_top or 1)
    return " ".join(f"{i * step:.2f},{PLOT - v * scale:.2f}" for i, v in enumerate(values))


def trend_chart(
    title: str, trend: tuple[TrendPoint, ...], fields: tuple[tuple[str, str, str], ...]
) -> TrendChart:
    """One chart of ``fields`` ((attribute, css class, label)) over ``trend``."""
    columns = {name: [float(getattr(p, name)) for p in trend] for name, _, _ in fields}
    top = max((max(v) for v in columns.values() if v), default=0.0) or 1.0
    base = TrendChart(title, (), day(trend[0].generated_at), day(trend[-1].generated_at),
                      fmt_num(round(top)), len(trend))  # fmt: skip
    series = tuple(
        Series(
            css,
            label,
            _plot(columns[name], top),
            fmt_num(round(columns[name][-1])),
        )
        for name, css, label in fields
    )
    return TrendChart(base.title, series, base.first, base.last, base.top, base.runs)


def trend_charts(changes: Changes | None) -> list[TrendChart]:
    if changes is None or len(changes.trend) < 2:
        return []
    return [
        trend_chart(
            "Fleet memory reclaimed over the last runs (MB)",
            changes.trend,
            (
                ("ballooned_mb", "b", "ballooned"),
                ("compressed_mb", "c", "compressed"),
                ("swapped_mb", "s", "swapped"),
            ),
        ),  # fmt: skip
        trend_chart(
            "Findings over the last runs",
            changes.trend,
            (
                ("critical", "critical", "critical"),
                ("warning", "warning", "warning"),
                ("info", "info", "info"),
            ),
        ),  # fmt: skip
    ]


def changes_context(changes: Changes | None) -> dict[str, Any]:
    """Template variables for the "Since last run" section and the first-seen notes."""
    if changes is None:
        return {"changes": None, "trend_charts": [], "since": lambda _f: None}
    if changes.previous is None:  # the first run: every finding is new, nothing to note per row
        return {"changes": changes, "trend_charts": [], "since": lambda _f: None}
    by_ref = changes.current_by_entity()

    def since(finding: Finding) -> Any:
        e = finding.entity
        return by_ref.get(finding_ref(finding.rule, e.type, e.server, e.moid, e.name))

    return {
        "changes": changes,
        "change_counts": changes.counts(),
        "change_statuses": STATUSES,
        "changed_findings": [c for c in changes.findings if c.status != PERSISTING],
        "change_detail": change_detail,
        "delta_text": delta_text,
        "day": day,
        "trend_charts": trend_charts(changes),
        "since": since,
    }
