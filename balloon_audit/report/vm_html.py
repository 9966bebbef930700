"""``balloon-audit vm --html FILE``: one VM (or a few) as a self-contained page for a ticket.

The report's stylesheet (templates/report.css) and conventions: jinja2 with autoescaping on,
every vCenter value escaped, no network access (a Content-Security-Policy forbids it), live
counters as inline SVG sparklines (report/sparkline.py escapes its title). Written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from balloon_audit.fileio import atomic_write_bytes
from balloon_audit.report.html import _asset, _environment
from balloon_audit.report.json_result import _iso
from balloon_audit.report.sparkline import svg_sparkline
from balloon_audit.report.vm_console import series_value, value_text
from balloon_audit.vmexplain import VmExplanation, VmReport
from balloon_audit.vmmemory import SECTION_TITLES, SECTIONS

TEMPLATE = "vm.html.j2"


@dataclass(frozen=True)
class SparkRow:
    label: str
    counter: str
    svg: Markup
    minimum: str
    maximum: str
    last: str


def _bar(exp: VmExplanation) -> list[tuple[str, float, str]]:
    """(css class, width %, title) for each part of configured memory."""
    total = exp.breakdown.configured_mb or 0
    if total <= 0:
        return []
    return [
        (seg.key, round(100 * seg.mb / total, 2), f"{seg.label}: {value_text(seg.mb, 'MB')}")
        for seg in exp.breakdown.segments
    ]


def _sparks(exp: VmExplanation) -> list[SparkRow]:
    if exp.live is None:
        return []
    rows = []
    for s in exp.live.series:
        title = f"{s.label} ({s.counter}), last {series_value(s.last, s.unit)}"
        rows.append(
            SparkRow(
                s.label,
                s.counter,
                Markup(svg_sparkline(s.values, title=title)),  # noqa: S704 - escapes its text
                series_value(s.minimum, s.unit),
                series_value(s.maximum, s.unit),
                series_value(s.last, s.unit),
            )
        )
    return rows


def _vm_context(exp: VmExplanation) -> dict[str, Any]:
    sections = [
        (SECTION_TITLES[name], exp.breakdown.section(name))
        for name in SECTIONS
        if exp.breakdown.section(name)
    ]
    return {
        "exp": exp,
        "sections": sections,
        "bar": _bar(exp),
        "sparks": _sparks(exp),
    }


def render_vm_html(report: VmReport) -> str:
    env = _environment()
    return env.get_template(TEMPLATE).render(
        css=_asset(env, "report.css"),
        val=lambda line: value_text(line.value, line.unit),
        report=report,
        generated=_iso(report.generated_at),
        vms=[_vm_context(exp) for exp in report.explanations],
    )


def write_vm_html(report: VmReport, path: Path) -> None:
    """Render and write atomically (UTF-8)."""
    atomic_write_bytes(Path(path), render_vm_html(report).encode("utf-8"), what="HTML report")
