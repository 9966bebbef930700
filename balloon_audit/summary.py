"""Fleet totals and counts shared by every renderer (console, JSON, HTML, XLSX)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from balloon_audit.model import VM, AuditResult, Snapshot

FLEET_LABELS: dict[str, str] = {
    "sources": "vCenters",
    "sources_failed": "vCenters not audited",
    "clusters": "Clusters",
    "hosts": "Hosts",
    "hosts_connected": "Hosts connected",
    "host_memory_mb": "Physical host memory (MB)",
    "vms": "VMs",
    "templates": "Templates",
    "vms_powered_on": "VMs powered on",
    "configured_mb": "Configured memory of powered-on VMs (MB)",
    "ballooned_mb": "Ballooned (MB)",
    "swapped_mb": "Swapped (MB)",
    "compressed_mb": "Compressed (MB)",
    "vms_ballooning": "VMs ballooning",
    "vms_swapping": "VMs swapping",
}
"""How every output names the keys of :func:`fleet_totals` (the JSON keeps the keys)."""


def fleet_totals(snapshot: Snapshot) -> dict[str, Any]:
    """Sizes of the fleet and the memory being reclaimed from it, in MB.

    Runtime totals count powered-on VMs only; an unknown counter adds nothing.
    """
    return {**_inventory_totals(snapshot), **_reclamation_totals(snapshot)}


def _inventory_totals(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "sources": len(snapshot.sources),
        "sources_failed": sum(1 for s in snapshot.sources if not s.ok),
        "clusters": len(snapshot.clusters),
        "hosts": len(snapshot.hosts),
        "hosts_connected": sum(1 for h in snapshot.hosts if h.connected),
        "host_memory_mb": round(sum(h.memory_size_mb or 0 for h in snapshot.hosts), 1),
        "vms": sum(1 for vm in snapshot.vms if not vm.is_template),
        "templates": sum(1 for vm in snapshot.vms if vm.is_template),
    }


def _reclamation_totals(snapshot: Snapshot) -> dict[str, Any]:
    powered_on = [vm for vm in snapshot.vms if vm.powered_on and not vm.is_template]
    return {
        "vms_powered_on": len(powered_on),
        **_memory_totals(powered_on),
        "vms_ballooning": sum(1 for vm in powered_on if (vm.ballooned_mb or 0) > 0),
        "vms_swapping": sum(1 for vm in powered_on if (vm.swapped_mb or 0) > 0),
    }


def _memory_totals(powered_on: list[VM]) -> dict[str, Any]:
    return {
        "configured_mb": sum(vm.memory_mb or 0 for vm in powered_on),
        "ballooned_mb": sum(vm.ballooned_mb or 0 for vm in powered_on),
        "swapped_mb": sum(vm.swapped_mb or 0 for vm in powered_on),
        "compressed_mb": round(sum(vm.compressed_mb or 0 for vm in powered_on), 1),
    }


def findings_by_rule(result: AuditResult) -> dict[str, int]:
    return dict(sorted(Counter(f.rule for f in result.findings).items()))


def summary(result: AuditResult) -> dict[str, Any]:
    """The ``summary`` block of the JSON result."""
    return {
        "by_severity": result.counts_by_severity(),
        "by_rule": findings_by_rule(result),
        "rules": [
            {"rule": s.rule, "name": s.name, "checked": s.checked, "flagged": s.flagged}
            for s in result.rule_stats
        ],
        "fleet": fleet_totals(result.snapshot),
        "findings": len(result.findings),
        "waived": len(result.waived),
        "worst_severity": ws.value if (ws := result.worst_severity()) else None,
    }
