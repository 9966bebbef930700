"""The one place tests build in-memory VMs, hosts and snapshots.

``make_vm`` is a healthy VM: override only what the test is about. ``bare_vm`` is a VM that
reports nothing beyond its identity. ``run`` evaluates one rule with its defaults.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from typing import Any

from balloon_audit.model import VM, Cluster, Host, Snapshot, SourceInfo
from balloon_audit.rules.registry import get_rule

_ids = itertools.count(1)

SERVER = "vc1.example.test"


def make_vm(**overrides: Any) -> VM:
    """A powered-on, healthy 4 GB VM on a connected host, with current Tools and quickStats."""
    n = next(_ids)
    values: dict[str, Any] = dict(
        moid=f"vm-{n}",
        name=f"vm{n:03d}",
        server=SERVER,
        datacenter="DC1",
        cluster="Cluster1",
        host="esx1.example.test",
        host_moid="host-1",
        power_state="poweredOn",
        is_template=False,
        guest_id="rhel9_64Guest",
        memory_mb=4096,
        tools_version_status2="guestToolsCurrent",
        tools_version_status="guestToolsCurrent",
        tools_status="toolsOk",
        tools_running_status="guestToolsRunning",
        tools_version="12352",
        quickstats_available=True,
        host_connection_state="connected",
    )
    values.update(overrides)
    return VM(**values)


def bare_vm(moid: str = "vm-1", name: str = "bare", server: str = "vc", **fields: Any) -> VM:
    """A VM that says nothing beyond its identity: every optional property is unknown."""
    values: dict[str, Any] = dict(
        moid=moid,
        name=name,
        server=server,
        datacenter=None,
        cluster=None,
        host=None,
        host_moid=None,
        power_state=None,
    )
    values.update(fields)
    return VM(**values)


def make_host(**overrides: Any) -> Host:
    """A connected, powered-on ESXi 8 host with 10,000 MB of memory, half of it in use."""
    values: dict[str, Any] = dict(
        moid="host-1",
        name="esx1.example.test",
        server=SERVER,
        datacenter="DC1",
        cluster="Cluster1",
        connection_state="connected",
        power_state="poweredOn",
        memory_size_mb=10000.0,
        memory_usage_mb=5000,
        product_version="8.0.3",
    )
    values.update(overrides)
    return Host(**values)


def powered_off(**overrides: Any) -> VM:
    """A powered-off VM: no quickStats, as vCenter reports it."""
    return make_vm(power_state="poweredOff", quickstats_available=False, **overrides)


def template(**overrides: Any) -> VM:
    return make_vm(
        power_state="poweredOff", is_template=True, quickstats_available=False, **overrides
    )


def snapshot(
    *vms: VM,
    hosts: Iterable[Host] = (),
    clusters: Iterable[Cluster] = (),
    sources: tuple[SourceInfo, ...] = (),
) -> Snapshot:
    """One successful source (``SERVER``) unless ``sources`` says otherwise."""
    return Snapshot(
        sources=sources or (SourceInfo(server=SERVER, status="ok", vm_count=len(vms)),),
        clusters=tuple(clusters),
        hosts=tuple(hosts),
        vms=tuple(vms),
    )


def run(rule_id: str, *vms: VM, params: dict[str, Any] | None = None, snap: Snapshot | None = None):
    """Run one rule with its defaults (merged with ``params``) over the given VMs."""
    rule = get_rule(rule_id)
    merged = dict(rule.meta.defaults)
    merged.update(params or {})
    return rule.check(snap if snap is not None else snapshot(*vms), merged)


def severities(outcome) -> list[str]:
    return [f.severity.value for f in outcome.findings]


def only_severity(rule_id: str, vm: VM, **params: Any) -> str | None:
    """Severity of the single finding for ``vm`` (``None`` when not flagged)."""
    outcome = run(rule_id, vm, params=params)
    assert len(outcome.findings) <= 1
    return outcome.findings[0].severity.value if outcome.findings else None


def replace(vm: VM, **changes: Any) -> VM:
    return dataclasses.replace(vm, **changes)
