"""Monitoring outputs: Prometheus textfile, CSV, and the plugin status of `check`."""

from __future__ import annotations

import csv
import dataclasses
import io
import re

from prometheus_client.parser import text_string_to_metric_families

from balloon_audit.check import PluginState, plugin_output, plugin_state
from balloon_audit.model import Severity, SourceStatus
from balloon_audit.report.csv_export import findings_csv, vms_csv, vms_path, write_csv
from balloon_audit.report.prometheus import render_prometheus, write_prometheus
from tests.report.sample import HOSTILE_NAMES, clean_result, hostile_result


def samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        out.setdefault(family.name, []).extend(family.samples)
    return out


def test_prometheus_file_parses_with_hostile_names(tmp_path) -> None:
    result = hostile_result()
    path = tmp_path / "balloon_audit.prom"
    write_prometheus(result, path)
    parsed = samples(path.read_text(encoding="utf-8"))
    ballooned = parsed["balloon_audit_vm_ballooned_megabytes"]
    assert {s.labels["vm"] for s in ballooned} >= set(HOSTILE_NAMES), "names survive escaping"
    by_name = {s.labels["vm"]: s.value for s in ballooned}
    for vm in result.snapshot.vms:
        if vm.ballooned_mb:
            assert by_name[vm.name] == vm.ballooned_mb
    assert all(s.value > 0 for s in parsed["balloon_audit_vm_swapped_megabytes"])
    findings = {
        (s.labels["rule"], s.labels["severity"]): s.value for s in parsed["balloon_audit_findings"]
    }
    assert findings[("BA301", "critical")] + findings[("BA301", "warning")] == len(HOSTILE_NAMES)
    totals = {s.labels["severity"]: s.value for s in parsed["balloon_audit_findings_by_severity"]}
    assert set(totals) == {"info", "warning", "critical"}
    assert sum(totals.values()) == len(result.findings)
    assert [s.value for s in parsed["balloon_audit_source_up"]] == [
        1 if source.ok else 0 for source in result.snapshot.sources
    ]
    assert parsed["balloon_audit_last_run_timestamp_seconds"][0].value == (
        result.generated_at.timestamp()
    )
    assert "balloon_audit_scan_duration_seconds" in parsed


def test_prometheus_source_up_and_fleet_labels() -> None:
    result = clean_result()
    source = dataclasses.replace(
        result.snapshot.sources[0],
        status=SourceStatus.FAILED,
        labels={"site": "paris", "server": "clash", "environment": "prod"},
    )
    result = dataclasses.replace(
        result, snapshot=dataclasses.replace(result.snapshot, sources=(source,))
    )
    (up,) = samples(render_prometheus(result))["balloon_audit_source_up"]
    assert up.value == 0
    assert up.labels == {
        "server": source.server,
        "site": "paris",
        "environment": "prod",
        "label_server": "clash",
    }


def rows(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_csv_findings_and_vms_never_run_as_formulas(tmp_path) -> None:
    result = hostile_result()
    path = tmp_path / "audit.csv"
    write_csv(result, path)
    findings = rows(path.read_text(encoding="utf-8"))
    vms = rows(vms_path(path).read_text(encoding="utf-8"))
    assert vms_path(path).name == "audit-vms.csv"
    assert len(findings) == len(result.findings) and len(vms) == len(result.snapshot.vms)
    for row in findings + vms:
        for value in row.values():
            assert not re.match(r"[=+\-@\t\r\n]", value), value
    formula = next(n for n in HOSTILE_NAMES if n.startswith("="))
    assert "'" + formula in {r["name"] for r in vms}
    assert {r["severity"] for r in findings} <= {"info", "warning", "critical"}
    first = result.snapshot.vms[0]
    row = next(r for r in vms if r["moid"] == first.moid)
    assert row["memory_mb"] == str(first.memory_mb), "numbers stay numbers"


def test_csv_of_a_clean_fleet_has_headers_only_for_findings() -> None:
    result = clean_result()
    assert rows(findings_csv(result)) == []
    assert len(rows(vms_csv(result))) == 3


def test_plugin_states_and_perfdata() -> None:
    result = hostile_result()
    assert any(not s.ok for s in result.snapshot.sources)
    state = plugin_state(result, warning_at=Severity.WARNING, critical_at=Severity.CRITICAL)
    assert state is PluginState.CRITICAL, "a critical finding outranks a failed source"
    assert plugin_state(result, warning_at=None, critical_at=None) is PluginState.UNKNOWN
    text = plugin_output(result, state)
    status, _, perf = text.splitlines()[0].partition(" | ")
    assert status.startswith("BALLOON-AUDIT CRITICAL - ")
    values = dict(re.findall(r"(\w+)=([\d.]+)", perf))
    assert float(values["ballooned"]) == sum(v.ballooned_mb or 0 for v in result.snapshot.vms)
    assert int(values["findings_critical"]) == sum(
        f.severity is Severity.CRITICAL for f in result.findings
    )
    for item in perf.split():
        assert re.fullmatch(r"\w+=[\d.]+(MB)?;;;0", item), item
    for line in text.splitlines()[1:]:
        assert "|" not in line and "\n" not in line
    clean = clean_result()
    assert plugin_state(clean, warning_at=Severity.WARNING, critical_at=Severity.CRITICAL) is (
        PluginState.OK
    )
    healthy = dataclasses.replace(
        result.snapshot, sources=tuple(s for s in result.snapshot.sources if s.ok)
    )
    only_warnings = dataclasses.replace(
        result,
        snapshot=healthy,
        findings=tuple(f for f in result.findings if f.severity is Severity.WARNING),
    )
    assert (
        plugin_state(only_warnings, warning_at=Severity.WARNING, critical_at=Severity.CRITICAL)
        is PluginState.WARNING
    )
    assert (
        plugin_state(only_warnings, warning_at=Severity.WARNING, critical_at=Severity.WARNING)
        is PluginState.CRITICAL
    )
