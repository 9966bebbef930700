"""The comparable part of one run: keyed VMs, hosts and findings.

Built from an ``AuditResult`` (a fresh scan or a JSON file) or loaded from the
store; ``compare`` needs nothing else.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from balloon_audit import vsphere
from balloon_audit.history import identity
from balloon_audit.model import AuditResult, Finding, Severity

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

RECLAIMED_EVIDENCE = (vsphere.VM_BALLOONED.key, vsphere.VM_SWAPPED.key, vsphere.VM_COMPRESSED.key)
"""Evidence keys whose sum is a finding's magnitude (reclaimed memory)."""


@dataclass(frozen=True)
class VmRow:
    key: str
    name: str
    server: str
    moid: str
    ballooned_mb: float | None
    swapped_mb: float | None
    compressed_mb: float | None


@dataclass(frozen=True)
class FindingRow:
    key: str
    """``rule|entity key``."""
    rule: str
    name: str
    severity: str
    entity_type: str
    entity_key: str
    entity_name: str
    server: str
    moid: str | None
    message: str
    magnitude_mb: float | None
    first_seen: str | None = None
    """Known for stored runs and JSON results that carry ``changes``; else ``None``."""


@dataclass(frozen=True)
class RunView:
    generated_at: str
    """UTC ISO 8601."""
    scope: str
    """The servers audited, lower-cased, sorted, comma-separated: runs compare within a scope."""
    thresholds: Mapping[str, object]
    failed_servers: frozenset[str]
    vms: Mapping[str, VmRow]
    findings: Mapping[str, FindingRow]
    """Active (not waived) findings by key."""
    host_names: Mapping[str, str] = field(default_factory=dict)
    """Host key -> name."""
    run_id: int | None = None
    label: str = ""


def scope_of(servers: list[str] | tuple[str, ...] | set[str]) -> str:
    return ",".join(sorted({s.lower() for s in servers}))


def magnitude(finding: Finding) -> float | None:
    values = [finding.evidence.get(k) for k in RECLAIMED_EVIDENCE]
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return round(sum(numbers), 1) if numbers else None


def iso(moment: datetime) -> str:
    """UTC ISO 8601 to the second, as the JSON result writes it (sorts as text)."""
    return moment.astimezone(timezone.utc).strftime(ISO_FORMAT)


@functools.lru_cache(maxsize=4096)
def parse_iso(text: str) -> datetime:
    """The inverse of :func:`iso`. Cached: a run's thousands of findings share a few
    first-seen times, and ``strptime`` was a third of a 20,000-finding comparison."""
    return datetime.strptime(text, ISO_FORMAT).replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class KeyedRun:
    """A result with every VM, host and finding keyed: what the store writes."""

    view: RunView
    source_keys: Mapping[str, str]
    vm_keys: Mapping[tuple[str, str], str]
    """(server, moid) -> VM key."""
    host_keys: Mapping[tuple[str, str], str]
    waived: tuple[tuple[str, Finding, str], ...]
    """(finding key, finding, entity key) of waived findings."""
    active: tuple[tuple[str, Finding, str], ...]


def _unique(key: str, taken: set[str], fallback: str) -> str:
    """``key`` unless already used in this run (a cloned UUID), then ``fallback``."""
    chosen = fallback if key in taken else key
    taken.add(chosen)
    return chosen


def key_result(
    result: AuditResult, first_seen: Mapping[str, str] | None = None, label: str = ""
) -> KeyedRun:
    """Key every VM, host and finding of ``result``.

    ``first_seen`` (finding key -> ISO time) is carried into the view when known.
    """
    snapshot = result.snapshot
    keys = identity.source_keys(snapshot.sources)
    taken: set[str] = set()
    vm_keys: dict[tuple[str, str], str] = {}
    vms: dict[str, VmRow] = {}
    for vm in snapshot.vms:
        fallback = f"{keys.get(vm.server, identity.server_key(vm.server))}/moid:{vm.moid}"
        key = _unique(identity.vm_key(vm, keys), taken, fallback)
        vm_keys[(vm.server, vm.moid)] = key
        vms[key] = VmRow(
            key, vm.name, vm.server, vm.moid, vm.ballooned_mb, vm.swapped_mb, vm.compressed_mb
        )
    host_keys: dict[tuple[str, str], str] = {}
    host_names: dict[str, str] = {}
    for host in snapshot.hosts:
        fallback = f"{keys.get(host.server, identity.server_key(host.server))}/moid:{host.moid}"
        key = _unique(identity.host_key(host, keys), taken, fallback)
        host_keys[(host.server, host.moid)] = key
        host_names[key] = host.name
    index = identity.EntityIndex(keys, vm_keys, host_keys)

    finding_keys: set[str] = set()

    def keyed(finding: Finding) -> tuple[str, Finding, str]:
        entity_key = index.key_of(finding.entity)
        base = identity.finding_key(finding.rule, entity_key)
        key, n = base, 1
        while key in finding_keys:
            n += 1
            key = f"{base}#{n}"
        finding_keys.add(key)
        return key, finding, entity_key

    active = tuple(keyed(f) for f in result.findings)
    waived = tuple(keyed(w.finding) for w in result.waived)
    seen = first_seen or {}
    findings = {
        key: FindingRow(
            key=key,
            rule=f.rule,
            name=f.name,
            severity=f.severity.value,
            entity_type=f.entity.type,
            entity_key=entity_key,
            entity_name=f.entity.name,
            server=f.entity.server,
            moid=f.entity.moid,
            message=f.message,
            magnitude_mb=magnitude(f),
            first_seen=seen.get(key),
        )
        for key, f, entity_key in active
    }
    view = RunView(
        generated_at=iso(result.generated_at),
        scope=scope_of([s.server for s in snapshot.sources]),
        thresholds=plain_thresholds(result.thresholds),
        failed_servers=frozenset(s.server for s in snapshot.sources if s.status != "ok"),
        vms=vms,
        findings=findings,
        host_names=host_names,
        label=label,
    )
    return KeyedRun(view, keys, vm_keys, host_keys, waived, active)


def plain_thresholds(thresholds: Mapping[str, object]) -> dict[str, object]:
    """Thresholds as JSON would give them back (tuples as lists), so stored ones compare equal."""
    return json.loads(json.dumps(thresholds, sort_keys=True, default=str))


def severity_rank(value: str) -> int:
    return Severity(value).rank
