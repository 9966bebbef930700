"""Prometheus text format for node_exporter's textfile collector (``--prometheus FILE``).

Per VM: ballooned, swapped and compressed MB (only VMs with a figure above zero, so a
10,000-VM fleet gives a small file); findings by rule and severity; per source: up,
collection duration, VMs; the run's timestamp and duration. Fleet labels (site,
environment ...) are added to the per-source series. The file is written atomically,
so the collector never reads half of it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from balloon_audit.model import AuditResult, Severity
from balloon_audit.report.formats import Format, register

PREFIX = "balloon_audit"
_RESERVED = frozenset({"server", "rule", "severity", "vm", "datacenter", "cluster", "host"})
_BAD_NAME = re.compile(r"[^a-zA-Z0-9_]")


def escape(value: str) -> str:
    """A label value as the text format wants it: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Mapping[str, str | None]) -> str:
    inner = ",".join(f'{k}="{escape(v or "")}"' for k, v in pairs.items())
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = f"{PREFIX}_{name}"
        self.lines = [f"# HELP {self.name} {help_text}", f"# TYPE {self.name} {kind}"]

    def add(self, value: float, **labels: str | None) -> None:
        self.lines.append(f"{self.name}{_labels(labels)} {_number(value)}")


def _fleet_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Fleet labels as Prometheus label names (a clash with ours gets a ``label_`` prefix)."""
    out = {}
    for key, value in sorted(labels.items()):
        name = _BAD_NAME.sub("_", key)
        out[f"label_{name}" if name in _RESERVED or name.startswith("__") else name] = value
    return out


def render_prometheus(result: AuditResult) -> str:
    """The whole file as text (exposition format 0.0.4), ending in a newline."""
    families = [*_source_families(result), *_finding_families(result), *_vm_families(result)]
    return "\n".join(line for family in families for line in family.lines) + "\n"


def _source_families(result: AuditResult) -> Iterable[_Family]:
    up = _Family("source_up", "gauge", "1 if the source was audited, 0 if it failed.")
    duration = _Family("source_duration_seconds", "gauge", "Seconds to collect from the source.")
    vms = _Family("source_vms", "gauge", "VMs collected from the source.")
    for source in result.snapshot.sources:
        labels = {"server": source.server, **_fleet_labels(source.labels)}
        up.add(1 if source.ok else 0, **labels)
        duration.add(source.duration_s or 0, **labels)
        vms.add(source.vm_count, **labels)
    scan = _Family(
        "scan_duration_seconds", "gauge", "Seconds of the longest source (sources run at once)."
    )
    scan.add(max((s.duration_s or 0 for s in result.snapshot.sources), default=0))
    stamp = _Family("last_run_timestamp_seconds", "gauge", "When the audit ran (Unix time).")
    stamp.add(round(result.generated_at.timestamp(), 3))
    return [up, duration, vms, scan, stamp]


def _finding_families(result: AuditResult) -> Iterable[_Family]:
    by_rule = _Family("findings", "gauge", "Findings by rule and severity (waived ones excluded).")
    counts = Counter((f.rule, f.severity.value) for f in result.findings)
    for rule in sorted({s.rule for s in result.rule_stats} | {r for r, _ in counts}):
        for severity in Severity:
            if (rule, severity.value) in counts:
                by_rule.add(counts[(rule, severity.value)], rule=rule, severity=severity.value)
    totals = _Family("findings_by_severity", "gauge", "Findings by severity.")
    for severity in Severity:
        totals.add(
            sum(n for (_, s), n in counts.items() if s == severity.value), severity=severity.value
        )
    waived = _Family("waived_findings", "gauge", "Findings accepted by a waiver.")
    waived.add(len(result.waived))
    return [by_rule, totals, waived]


def _vm_families(result: AuditResult) -> Iterable[_Family]:
    figures = (
        ("ballooned_mb", "vm_ballooned_megabytes", "Guest memory reclaimed by the balloon driver."),
        ("swapped_mb", "vm_swapped_megabytes", "Guest memory swapped by the host."),
        ("compressed_mb", "vm_compressed_megabytes", "Guest memory compressed by the host."),
    )
    families = []
    for field, name, help_text in figures:
        family = _Family(name, "gauge", f"{help_text} VMs with 0 are left out.")
        for vm in result.snapshot.vms:
            value = getattr(vm, field)
            if value:
                family.add(
                    value,
                    server=vm.server,
                    datacenter=vm.datacenter,
                    cluster=vm.cluster,
                    host=vm.host,
                    vm=vm.name,
                    moid=vm.moid,
                )
        families.append(family)
    return families


def write_prometheus(result: AuditResult, path: Path) -> None:
    """Write the file atomically (the textfile collector reads ``*.prom``)."""
    from balloon_audit.fileio import atomic_write_text

    atomic_write_text(path, render_prometheus(result), what="Prometheus file")


register(
    Format(
        "prometheus",
        help="Write Prometheus metrics here (node_exporter textfile collector, *.prom).",
        write=write_prometheus,
        order=60,
        dated=False,
    )
)
