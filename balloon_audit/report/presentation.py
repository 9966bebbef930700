"""What the HTML and Excel reports show, computed once from an AuditResult.

Nothing here knows about markup or cells: it groups findings by rule, looks up
rule metadata (tolerating rule IDs the registry does not know, e.g. from an
older JSON result), ranks the VMs and hosts under most memory pressure and
prepares the provenance block of a change ticket.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from balloon_audit import vsphere as vs
from balloon_audit.model import (
    VM,
    AuditResult,
    Finding,
    Host,
    RuleStat,
    Severity,
    Snapshot,
)

SEVERITIES = (Severity.CRITICAL, Severity.WARNING, Severity.INFO)


@dataclass(frozen=True)
class RuleInfo:
    """Rule metadata as a report shows it; ``known`` is False for an ID the registry lacks."""

    id: str
    name: str
    severity: str | None
    checks: str
    scope: str
    rationale: str
    remediation: str
    references: tuple[str, ...]
    known: bool
    reads: tuple[str, ...] = ()
    """``path (unit) → column``, one per property the rule reads (see vsphere.py)."""


def rule_info(result: AuditResult, rule_id: str, name: str = "") -> RuleInfo:
    """Metadata for ``rule_id`` as the result carries it (``result.rules``), or a
    placeholder for an ID it does not describe (a result written by an older version).

    Reports are rendered from the result alone, never from the rule registry.
    """
    doc = next((d for d in result.rules if d.id == rule_id), None)
    if doc is None:
        return RuleInfo(rule_id, name or rule_id, None, "", "", "", "", (), known=False)
    return RuleInfo(
        id=doc.id,
        name=doc.name,
        severity=doc.severity.value,
        checks=doc.checks,
        scope=doc.scope,
        rationale=doc.rationale,
        remediation=doc.remediation,
        references=tuple(doc.references),
        known=True,
        reads=tuple(doc.reads),
    )


@dataclass(frozen=True)
class RuleInForce:
    info: RuleInfo
    stat: RuleStat | None
    params: dict[str, Any]


def rules_in_force(result: AuditResult) -> list[RuleInForce]:
    """Every rule that ran (from rule_stats and thresholds), sorted by ID."""
    stats = {s.rule: s for s in result.rule_stats}
    ids = sorted(set(stats) | set(result.thresholds))
    return [
        RuleInForce(
            rule_info(result, rid, stats[rid].name if rid in stats else ""),
            stats.get(rid),
            dict(result.thresholds.get(rid, {})),
        )
        for rid in ids
    ]


NAME_PLACEHOLDER = "‹name›"
"""Stands for the entity's name in advice shown once for a whole rule."""


@dataclass(frozen=True)
class FindingGroup:
    """All findings of one rule, with the advice they share.

    Per-finding advice usually differs only by the entity's name and numbers; the
    report shows it once per rule and repeats it on a row only when it says more.
    """

    info: RuleInfo
    findings: tuple[Finding, ...]
    worst: Severity
    counts: dict[str, int]
    """Severity value -> number of findings."""
    checked: int | None
    """How many entities the rule looked at (None if the result does not say)."""
    summary: str
    """What to do, for the whole rule."""
    steps: tuple[str, ...]
    confirm: tuple[str, ...]
    """Steps and checks most findings share, the entity's name replaced by NAME_PLACEHOLDER."""
    references: tuple[str, ...]
    own_summary: tuple[bool, ...]
    """Per finding: its summary says something the rule-level text does not."""
    own_steps: tuple[bool, ...]
    """Per finding: its steps or checks differ from the shared ones beyond the name."""
    short_keys: dict[str, str]
    """Evidence key (API property path) -> the short label rows show; full paths in a legend."""
    common_evidence: dict[str, Any]
    """Evidence every finding of the rule has with the same value: shown once, not per row."""

    @property
    def rule(self) -> str:
        return self.info.id

    def row_evidence(self, finding: Finding) -> list[tuple[str, Any]]:
        """(short key, value) of the evidence a row shows: what is not common to all rows."""
        return [
            (self.short_keys[key], value)
            for key, value in sorted(finding.evidence.items())
            if key not in self.common_evidence
        ]

    @property
    def key_legend(self) -> list[tuple[str, str]]:
        """(short, full) for every shortened key that rows show."""
        return [
            (short, full)
            for full, short in sorted(self.short_keys.items())
            if short != full and full not in self.common_evidence
        ]


_NUMBER = re.compile(r"\d[\d,.]*")


def _pattern(text: str, name: str) -> str:
    """``text`` with the entity name and every number blanked, to compare advice."""
    if name:
        text = text.replace(name, "\0")
    return _NUMBER.sub("#", text)


def _generic(lines: tuple[str, ...], name: str) -> tuple[str, ...]:
    return tuple(line.replace(name, NAME_PLACEHOLDER) if name else line for line in lines)


def _common_evidence(findings: list[Finding]) -> dict[str, Any]:
    if len(findings) < 2:
        return {}
    first = findings[0].evidence
    return {
        key: value
        for key, value in sorted(first.items())
        if all(key in f.evidence and f.evidence[key] == value for f in findings[1:])
    }


def _short_key(key: str) -> str:
    label = vs.evidence_label(key)
    if label is not None:
        return label
    if key.endswith("]") and "[" in key:  # config.extraConfig["sched.mem.maxmemctl"]
        return key[key.rindex("[") + 1 : -1].strip("\"'")
    return key.rsplit(".", 1)[-1]


def short_keys(keys: Iterable[str]) -> dict[str, str]:
    """Evidence keys as rows show them: a property's label (vsphere.py), else the key's last
    part; kept whole where two would collide."""
    keys = sorted(set(keys))
    shorts = Counter(_short_key(k) for k in keys)
    return {k: _short_key(k) if shorts[_short_key(k)] == 1 else k for k in keys}


def evidence_headers(keys: Iterable[str]) -> list[str]:
    """Column headers for evidence keys: the property's label, the key itself if not unique."""
    keys = list(keys)
    labels = [vs.evidence_label(k) or k for k in keys]
    counts = Counter(labels)
    return [label if counts[label] == 1 else key for key, label in zip(keys, labels, strict=True)]


def _most_common(values: Iterable[Any], default: Any) -> Any:
    counted = Counter(values).most_common(1)
    return counted[0][0] if counted else default


def _references(info: RuleInfo, findings: list[Finding]) -> tuple[str, ...]:
    """The rule's references, then any other reference its findings cite, each once."""
    refs = list(info.references)
    seen = set(refs)
    for f in findings:
        for ref in f.remediation.references:
            if ref not in seen:
                seen.add(ref)
                refs.append(ref)
    return tuple(refs)


def _group(info: RuleInfo, findings: list[Finding], checked: int | None) -> FindingGroup:
    findings.sort(key=lambda f: (-f.severity.rank, f.entity.server, f.entity.name))
    counts = {s.value: 0 for s in SEVERITIES}
    for f in findings:
        counts[f.severity.value] += 1

    summaries = [_pattern(f.remediation.summary, f.entity.name) for f in findings]
    usual_summary = _most_common(summaries, "")
    advice = [
        (
            tuple(_pattern(x, f.entity.name) for x in f.remediation.steps),
            tuple(_pattern(x, f.entity.name) for x in f.remediation.confirm),
        )
        for f in findings
    ]
    usual_advice = _most_common(advice, ((), ()))
    model = findings[advice.index(usual_advice)]
    if info.remediation:
        summary = info.remediation
        own_summary = tuple(bool(s) and s != usual_summary for s in summaries)
    else:  # unknown rule: the findings' own words are all there is
        summary = ""
        own_summary = tuple(bool(s) for s in summaries)
    return FindingGroup(
        info=info,
        findings=tuple(findings),
        worst=findings[0].severity,
        counts=counts,
        checked=checked,
        summary=summary,
        steps=_generic(model.remediation.steps, model.entity.name),
        confirm=_generic(model.remediation.confirm, model.entity.name),
        references=_references(info, findings),
        own_summary=own_summary,
        own_steps=tuple(a != usual_advice for a in advice),
        short_keys=short_keys({k for f in findings for k in f.evidence}),
        common_evidence=_common_evidence(findings),
    )


def group_findings(result: AuditResult) -> list[FindingGroup]:
    """Findings grouped by rule: worst severity first, then most findings, then rule ID."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    stats = {s.rule: s for s in result.rule_stats}
    groups = [
        _group(
            rule_info(result, rule_id, findings[0].name),
            findings,
            stats[rule_id].checked if rule_id in stats else None,
        )
        for rule_id, findings in by_rule.items()
    ]
    groups.sort(key=lambda g: (-g.worst.rank, -len(g.findings), g.rule))
    return groups


# ---------------------------------------------------------------- pressure


@dataclass(frozen=True)
class HostLoad:
    """A host with the memory its powered-on VMs are configured with and are losing."""

    host: Host
    vms_on: int
    configured_mb: int
    ballooned_mb: int
    swapped_mb: int
    compressed_mb: float

    @property
    def usage_pct(self) -> float | None:
        h = self.host
        if not h.memory_size_mb or h.memory_usage_mb is None:
            return None
        return 100.0 * h.memory_usage_mb / h.memory_size_mb

    @property
    def overcommit(self) -> float | None:
        if not self.host.memory_size_mb:
            return None
        return self.configured_mb / self.host.memory_size_mb

    @property
    def reclaimed_mb(self) -> float:
        return self.ballooned_mb + self.swapped_mb + self.compressed_mb


HOST_LOAD_LABELS = {
    "usage_pct": "Memory used (%)",
    "vms_on": "VMs powered on",
    "configured_mb": "Configured on VMs (MB)",
    "overcommit": "Overcommit ratio",
    "ballooned_mb": "Ballooned on VMs (MB)",
    "compressed_mb": "Compressed on VMs (MB)",
    "swapped_mb": "Swapped on VMs (MB)",
    "reclaimed_mb": "Reclaimed from VMs (MB)",
}
"""Headers of the per-host sums over powered-on VMs (:class:`HostLoad`), for HTML and Excel."""

TOOLS_COLUMN = "Tools"
"""Header of the column showing :func:`balloon_audit.formatting.tools_status_text`."""


def by_identity(item: Any) -> tuple:
    """Inventory order: vCenter, name, managed object ID (the JSON archive's order too)."""
    return (item.server, item.name, item.moid)


def inventory_vms(snapshot: Snapshot) -> list[VM]:
    return sorted(snapshot.vms, key=by_identity)


def host_loads(snapshot: Snapshot) -> list[HostLoad]:
    """One HostLoad per host, in inventory order."""
    sums: dict[tuple[str, str], list[float]] = {}
    for vm in snapshot.vms:
        if not vm.powered_on or vm.is_template or vm.host_moid is None:
            continue
        acc = sums.setdefault((vm.server, vm.host_moid), [0, 0, 0, 0, 0.0])
        acc[0] += 1
        acc[1] += vm.memory_mb or 0
        acc[2] += vm.ballooned_mb or 0
        acc[3] += vm.swapped_mb or 0
        acc[4] += vm.compressed_mb or 0
    loads = []
    for host in sorted(snapshot.hosts, key=by_identity):
        n, cfg, bal, swp, cmp_ = sums.get((host.server, host.moid), [0, 0, 0, 0, 0.0])
        loads.append(HostLoad(host, int(n), int(cfg), int(bal), int(swp), float(cmp_)))
    return loads


def vm_reclaimed_mb(vm: VM) -> float:
    """Ballooned + swapped + compressed MB; unknown counters add nothing."""
    return (vm.ballooned_mb or 0) + (vm.swapped_mb or 0) + (vm.compressed_mb or 0)


def top_vms(snapshot: Snapshot, limit: int = 10) -> list[VM]:
    """The VMs losing the most memory to reclamation (swap weighs first on ties)."""
    candidates = [vm for vm in snapshot.vms if vm_reclaimed_mb(vm) > 0]
    candidates.sort(key=lambda vm: (-vm_reclaimed_mb(vm), -(vm.swapped_mb or 0), vm.name))
    return candidates[:limit]


def top_hosts(loads: list[HostLoad], limit: int = 10) -> list[HostLoad]:
    """Hosts by memory reclaimed from their VMs, then by memory usage."""
    candidates = [h for h in loads if h.reclaimed_mb > 0 or (h.usage_pct or 0) > 0]
    candidates.sort(key=lambda h: (-h.reclaimed_mb, -(h.usage_pct or 0), h.host.name))
    return candidates[:limit]


def findings_per_entity(result: AuditResult) -> dict[tuple[str, str], tuple[int, Severity]]:
    """(server, moid-or-name) -> (number of findings, worst severity)."""
    out: dict[tuple[str, str], tuple[int, Severity]] = {}
    for f in result.findings:
        key = (f.entity.server, f.entity.moid or f.entity.name)
        n, worst = out.get(key, (0, f.severity))
        out[key] = (n + 1, max(worst, f.severity, key=lambda s: s.rank))
    return out


# ---------------------------------------------------------------- provenance

_SECRET_PATTERNS = (
    # --password VALUE / --password=VALUE / -p VALUE (govc and PowerCLI habits)
    re.compile(r"(?i)((?<!\S)--?(?:password|passwd|pwd|p)(?:=|\s+))(\"[^\"]*\"|'[^']*'|\S+)"),
    # VAR=VALUE for anything that looks like a password variable
    re.compile(r"(?i)(\b\w*(?:PASSWORD|PASSWD|SECRET|TOKEN)\w*=)(\"[^\"]*\"|'[^']*'|\S+)"),
    # https://user:secret@host
    re.compile(r"(://[^/\s:@]+:)([^@\s/]+)(?=@)"),
)


def redact_command(command: str) -> str:
    """The command line as given, with anything that looks like a password masked."""
    for pattern in _SECRET_PATTERNS:
        command = pattern.sub(lambda m: m.group(1) + "***", command)
    return command


@dataclass(frozen=True)
class Provenance:
    generated_utc: str
    generated_local: str
    """The same moment in the time zone of the machine that rendered the report."""
    tool_version: str
    user: str
    machine: str
    command: str


def provenance(result: AuditResult) -> Provenance:
    moment = result.generated_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone()
    return Provenance(
        generated_utc=moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        generated_local=local.strftime("%Y-%m-%d %H:%M:%S ") + _zone_label(local),
        tool_version=result.tool_version,
        user=result.run_by.get("user", ""),
        machine=result.run_by.get("host", ""),
        command=redact_command(result.run_by.get("command", "")),
    )


def _zone_label(moment: datetime) -> str:
    offset = moment.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    name = moment.tzname() or ""
    return f"{name} ({offset})" if name and not name.startswith(("+", "-")) else offset


# ---------------------------------------------------------------- values


def evidence_text(value: Any) -> str:
    """An evidence value as short text: scalars as-is, the rest as compact JSON."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------- references

_KB = re.compile(r"\bVMware KB (\d{6,8})\b")
KB_URL = "https://knowledge.broadcom.com/external/article?legacyId={}"
"""Broadcom's redirector for VMware KB numbers: stable across the KB site's moves."""


def reference_url(reference: str) -> str | None:
    """A stable public URL for a rule reference, where one exists (VMware KB articles)."""
    match = _KB.search(reference)
    return KB_URL.format(match.group(1)) if match else None


def no_data(result: AuditResult) -> bool:
    """Every vCenter failed: reports say "no data" instead of showing zero totals."""
    return bool(result.sources) and not any(s.ok for s in result.sources)
