"""The HTML report: one self-contained file (inline CSS, JS and SVG), safe to attach to a ticket.

Rendered with jinja2 and autoescaping on, so every name from vCenter is escaped.
Nothing is loaded from the network, and a Content-Security-Policy meta tag
forbids it should a future edit try. The templates are the top-level ``templates/``
directory, shipped in the wheel as ``balloon_audit/templates``; one lookup finds them
either way (:func:`balloon_audit.locations.data_dir`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from balloon_audit import formatting as fmt
from balloon_audit import vsphere as vs
from balloon_audit.fileio import atomic_write_bytes
from balloon_audit.locations import data_dir
from balloon_audit.model import VM, AuditResult
from balloon_audit.report import presentation as p
from balloon_audit.report.html_changes import changes_context
from balloon_audit.report.html_inventory import vm_rows
from balloon_audit.report.words import enum_word
from balloon_audit.summary import FLEET_LABELS, fleet_totals

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

TEMPLATE = "report.html.j2"


def write_html(result: AuditResult, path: Path) -> None:
    """Render ``result`` and write it to ``path`` atomically (UTF-8)."""
    atomic_write_bytes(Path(path), render_html(result).encode("utf-8"))


def render_html(result: AuditResult) -> str:
    """The whole report as one HTML document."""
    env = _environment()
    return env.get_template(TEMPLATE).render(
        css=_asset(env, "report.css"), js=_asset(env, "report.js"), **_context(result)
    )


def templates_location() -> str:
    """Where the templates are read from (see :func:`balloon_audit.locations.data_dir`)."""
    return str(_template_root())


def _template_root() -> Traversable:
    return data_dir("templates")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    root = _template_root()

    def load(name: str) -> str | None:
        resource = root.joinpath(name)
        return resource.read_text(encoding="utf-8") if resource.is_file() else None

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["mb"] = fmt.cell_mb
    env.filters["mb1"] = fmt.cell_num
    env.filters["num"] = fmt.cell_count
    env.filters["pct"] = fmt.cell_pct
    env.filters["ratio"] = fmt.cell_ratio
    env.filters["ev"] = p.evidence_text
    env.filters["body"] = _body
    env.filters["word"] = lambda value: enum_word(value) or ""
    return env


def _body(value: object) -> Markup:
    """Escape for element content only (``&``, ``<``, ``>``): quotes need no escaping there.

    Keeps big reports lean (commands are full of quotes). Never use it inside an
    attribute value: use the default autoescape there.
    """
    if isinstance(value, Markup):
        return value
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Markup(text)


def _asset(env: jinja2.Environment, name: str) -> Markup:
    """A static CSS or JS file, inlined verbatim (not parsed as a template)."""
    source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
    if "</" in source:
        raise ValueError(f"{name} must not contain '</': it would end its inline element")
    return Markup(source)


# ---------------------------------------------------------------- charts


@dataclass(frozen=True)
class Bar:
    label: str
    """The whole name: it wraps at natural breaks instead of being cut."""
    title: str
    """Label and value, shown as a tooltip."""
    segments: tuple[tuple[float, str], ...]
    """(width in % of the longest bar, css class)."""
    value_text: str


@dataclass(frozen=True)
class Chart:
    """A horizontal bar chart drawn with HTML boxes, not SVG: its text keeps the page's
    font size at any width (a scaled SVG shrank labels to 6 px on a phone)."""

    title: str
    bars: tuple[Bar, ...]
    legend: tuple[tuple[str, str], ...]
    """(css class, label)."""


def _stacked_chart(
    title: str,
    rows: list[tuple[str, list[tuple[float, str]], str]],
    legend: tuple[tuple[str, str], ...],
) -> Chart:
    biggest = max((sum(v for v, _ in segs) for _, segs, _ in rows), default=0) or 1
    bars = []
    for label, segments, value_text in rows:
        placed = tuple(
            (round(max(100.0 * value / biggest, 0.4), 2), css)
            for value, css in segments
            if value > 0
        )
        bars.append(Bar(label, f"{label}: {value_text}", placed, value_text))
    return Chart(title, tuple(bars), legend)


RECLAIM_LEGEND = (("b", "ballooned"), ("c", "compressed"), ("s", "swapped"))


def _charts(result: AuditResult, top_vms: list[VM], top_hosts: list[p.HostLoad]) -> list[Chart]:
    counts = result.counts_by_severity()
    charts = [
        _stacked_chart(
            "Findings by severity",
            [
                (s.value, [(counts[s.value], s.value)], fmt.cell_count(counts[s.value]))
                for s in p.SEVERITIES
            ],
            (),
        )
    ]
    if top_vms:
        charts.append(
            _stacked_chart(
                "VMs losing most memory (MB)",
                [
                    (
                        vm.name,
                        [
                            (vm.ballooned_mb or 0, "b"),
                            (vm.compressed_mb or 0, "c"),
                            (vm.swapped_mb or 0, "s"),
                        ],
                        fmt.cell_mb(p.vm_reclaimed_mb(vm)),
                    )
                    for vm in top_vms
                ],
                RECLAIM_LEGEND,
            )
        )
    hosts_reclaiming = [h for h in top_hosts if h.reclaimed_mb > 0]
    if hosts_reclaiming:
        charts.append(
            _stacked_chart(
                "Hosts whose VMs lose most memory (MB)",
                [
                    (
                        h.host.name,
                        [(h.ballooned_mb, "b"), (h.compressed_mb, "c"), (h.swapped_mb, "s")],
                        fmt.cell_mb(h.reclaimed_mb),
                    )
                    for h in hosts_reclaiming
                ],
                RECLAIM_LEGEND,
            )
        )
    return charts


# ---------------------------------------------------------------- context


def _context(result: AuditResult) -> dict[str, Any]:
    loads = p.host_loads(result.snapshot)
    vms_top = p.top_vms(result.snapshot)
    hosts_top = p.top_hosts(loads)
    per_entity = p.findings_per_entity(result)
    counts = result.counts_by_severity()
    worst = result.worst_severity()
    servers = {vm.server for vm in result.snapshot.vms} | {h.server for h in result.snapshot.hosts}
    datacenters = {vm.datacenter for vm in result.snapshot.vms}
    datacenters |= {h.datacenter for h in result.snapshot.hosts}
    # Columns that would repeat one value on every row are left out of big tables.
    one_server, one_dc = len(servers) <= 1, len(datacenters) <= 1
    vms = p.inventory_vms(result.snapshot)
    return {
        "r": result,
        "one_server": one_server,
        "one_dc": one_dc,
        "prov": p.provenance(result),
        "fleet": fleet_totals(result.snapshot),
        "counts": counts,
        "severities": [s.value for s in p.SEVERITIES],
        "ranks": {s.value: s.rank for s in p.SEVERITIES},
        "worst": worst.value if worst else None,
        "groups": p.group_findings(result),
        "rules": p.rules_in_force(result),
        "failed_sources": [s for s in result.sources if not s.ok],
        "top_vms": vms_top,
        "top_hosts": hosts_top,
        "loads": loads,
        "vms": vms,
        "vm_rows": vm_rows(vms, per_entity, one_server, one_dc),
        "charts": _charts(result, vms_top, hosts_top),
        "per_entity": per_entity,
        "unknown": fmt.DASH,
        # Column headers: labels from vsphere.py and the shared presentation layer.
        "vm_col": {f: vs.field_label(f, vs.VIRTUAL_MACHINE) for f in vs.VM_BY_FIELD},
        "host_col": {f: vs.field_label(f, vs.HOST_SYSTEM) for f in vs.HOST_BY_FIELD},
        "ctx_col": vs.CONTEXT_LABELS,
        "load_col": p.HOST_LOAD_LABELS,
        "tools_col": p.TOOLS_COLUMN,
        "tools_text": fmt.tools_status_text,
        "fl": FLEET_LABELS,
        **changes_context(result.changes),
        # Every vCenter failed: say so instead of showing zero totals.
        "no_data": p.no_data(result),
        "ref_url": p.reference_url,
    }
