"""Plain, frozen data that flows between collection, rules and reports.

Units are normalised at collection time: every memory figure is in MB
(float where the API unit was bytes or KB). ``None`` always means "the server
did not say", never zero; rules decide when ``None`` may be read as 0.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from balloon_audit.history.changes import Changes

RESULT_SCHEMA = "balloon-audit/1"
"""The ``schema`` of the JSON result (docs/result.schema.json)."""


class Severity(str, enum.Enum):
    """Finding severity, ordered info < warning < critical."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class SourceStatus(str, enum.Enum):
    """Whether a source could be audited; the value is what the JSON result says."""

    OK = "ok"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SourceInfo:
    """One vCenter (or ESXi endpoint) that was asked for data."""

    server: str
    """Host name (and port when not 443) as the user gave it."""
    status: SourceStatus
    """``ok`` or ``failed``."""
    api_version: str | None = None
    """``about.apiVersion`` of the endpoint, e.g. ``8.0.3.0``."""
    api_type: str | None = None
    """``VirtualCenter`` or ``HostAgent`` (standalone ESXi)."""
    product: str | None = None
    """``about.fullName``."""
    error: str | None = None
    """Why collection failed, one line, no secrets."""
    hint: str | None = None
    """What the user can do about ``error``."""
    error_kind: str | None = None
    """Why it failed, in one word (:class:`~balloon_audit.errors.FailureKind`): ``login``,
    ``tls``, ``timeout``, ``unreachable``, ``permission``, ``protocol``, ``config``, ``capture``
    or ``unexpected``; ``None`` for a source that was audited."""
    vm_count: int = 0
    host_count: int = 0
    duration_s: float | None = None
    """Wall time of the collection from this endpoint."""
    instance_uuid: str | None = None
    """``about.instanceUuid`` (vCenter only): one vCenter under two names is audited once;
    history keys its VMs on it across runs."""
    aliases: tuple[str, ...] = ()
    """Other names given for this same vCenter in the run."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Free labels from the fleet file (``site``, ``environment`` ...); reports group by them."""
    scope: str | None = None
    """What was in scope (``cluster=Prod-A; not vm=test-*``); ``None``: everything."""
    unknown_values: tuple[str, ...] = ()
    """Values this version does not know, from a newer server: ``Type=value (count)``,
    e.g. ``VirtualMachinePowerState=poweredHibernating (3)``. Kept as text; BA903 lists them."""

    @property
    def ok(self) -> bool:
        return self.status == SourceStatus.OK


@dataclass(frozen=True)
class Cluster:
    moid: str
    name: str
    server: str
    datacenter: str | None


@dataclass(frozen=True, slots=True)
class Host:
    """An ESXi host as seen by one vCenter."""

    moid: str
    name: str
    server: str
    datacenter: str | None
    cluster: str | None
    """Cluster name, ``None`` for a standalone host."""
    connection_state: str | None
    """``connected``, ``disconnected`` or ``notResponding`` (runtime.connectionState)."""
    power_state: str | None = None
    """runtime.powerState: ``poweredOn``, ``poweredOff``, ``standBy``, ``unknown``."""
    in_maintenance_mode: bool | None = None
    memory_size_mb: float | None = None
    """hardware.memorySize, converted from bytes."""
    memory_usage_mb: int | None = None
    """summary.quickStats.overallMemoryUsage (MB)."""
    product_version: str | None = None
    """summary.config.product.version, e.g. ``8.0.3``."""
    ctl_max_pct: int | None = None
    """Advanced option Mem.CtlMaxPercent (default 65; 0 = no ballooning); ``None`` if not read."""
    min_free_pct: int | None = None
    """Advanced option Mem.MemMinFreePct (0 = ESXi's sliding scale); ``None`` if not read."""
    mem_state: int | None = None
    """Realtime counter mem.state (0 high, 1 clear, 2 soft, 3 hard, 4 low); ``None`` if not read."""
    uuid: str | None = None
    """hardware.systemInfo.uuid: the host's identity across runs and vCenters."""

    @property
    def connected(self) -> bool:
        return self.connection_state == "connected"


@dataclass(frozen=True, slots=True)
class VM:
    """A virtual machine or template with the properties the rules read.

    Slotted: a snapshot of 100,000 VMs is about 120 MB smaller without per-object dicts.
    """

    moid: str
    name: str
    server: str
    datacenter: str | None
    cluster: str | None
    host: str | None
    """Host name the VM is registered on (``None`` if unknown)."""
    host_moid: str | None
    power_state: str | None
    """``poweredOn``, ``poweredOff`` or ``suspended``."""
    is_template: bool = False
    guest_id: str | None = None
    """config.guestId, e.g. ``rhel9_64Guest``, ``darwin21_64Guest``."""
    guest_full_name: str | None = None
    guest_family: str | None = None
    """guest.guestFamily, e.g. ``linuxGuest``, ``windowsGuest`` (reported only while Tools run)."""
    annotation: str | None = None
    memory_mb: int | None = None
    """config.hardware.memoryMB (configured memory)."""
    memory_limit_mb: int | None = None
    """config.memoryAllocation.limit; ``None`` means unlimited (-1 is normalised to None)."""
    memory_reservation_mb: int | None = None
    """config.memoryAllocation.reservation."""
    reservation_locked_to_max: bool | None = None
    """config.memoryReservationLockedToMax ("Reserve all guest memory")."""
    latency_sensitivity: str | None = None
    """config.latencySensitivity.level: ``normal``, ``high``, ``low``, ``medium``, ``custom``."""
    resource_pool_moid: str | None = None
    """resourcePool: the pool (or vApp) the VM belongs to; ``None`` for templates."""
    tools_version_status2: str | None = None
    """guest.toolsVersionStatus2, e.g. ``guestToolsCurrent``."""
    tools_version_status: str | None = None
    """guest.toolsVersionStatus (deprecated; the only one with ``guestToolsNeedUpgrade``)."""
    tools_status: str | None = None
    """guest.toolsStatus (deprecated since API 4.0), e.g. ``toolsNotInstalled``."""
    tools_running_status: str | None = None
    """guest.toolsRunningStatus, e.g. ``guestToolsRunning``."""
    tools_version: str | None = None
    """guest.toolsVersion: the Tools build number as a string, e.g. ``12352``."""
    maxmemctl: str | None = None
    """config.extraConfig["sched.mem.maxmemctl"] as the raw string; ``None`` when unset."""
    quickstats_available: bool = False
    """True when the server returned quickStats for this VM."""
    ballooned_mb: int | None = None
    """summary.quickStats.balloonedMemory (MB)."""
    swapped_mb: int | None = None
    """summary.quickStats.swappedMemory (MB)."""
    compressed_mb: float | None = None
    """summary.quickStats.compressedMemory, converted from KB."""
    ssd_swapped_mb: float | None = None
    """summary.quickStats.ssdSwappedMemory (swapped to the host cache), converted from KB."""
    overhead_mb: int | None = None
    """summary.quickStats.consumedOverheadMemory (MB): what the VMkernel uses to run the VM."""
    host_memory_usage_mb: int | None = None
    """summary.quickStats.hostMemoryUsage (MB, consumed)."""
    guest_memory_usage_mb: int | None = None
    """summary.quickStats.guestMemoryUsage (MB, active)."""
    host_connection_state: str | None = None
    """connection state of the VM's host, copied here so rules need no join."""
    swapin_rate_kbps: float | None = None
    """Realtime mem.swapinRate (KB/s), read only for swapping VMs; ``None`` if not read."""
    swapout_rate_kbps: float | None = None
    """Realtime mem.swapoutRate (KB/s), read only for swapping VMs; ``None`` if not read."""
    instance_uuid: str | None = None
    """config.instanceUuid: the VM's identity in its vCenter across renames and vMotion."""

    @property
    def powered_on(self) -> bool:
        return self.power_state == "poweredOn"

    def runtime_value(self, value: int | float | None) -> int | float | None:
        """A quickStats counter, with ``None`` read as 0 only where that is safe.

        Zero is omitted on the wire, so ``None`` means 0 when the VM is powered on
        and its quickStats exist; otherwise it stays unknown.
        """
        if value is None and self.powered_on and self.quickstats_available:
            return 0
        return value


@dataclass(frozen=True)
class ResourcePool:
    """A resource pool or vApp below a cluster's (or host's) root pool.

    Root pools are not kept: their "limit" only mirrors the capacity of the
    compute resource.
    """

    moid: str
    name: str
    server: str
    datacenter: str | None
    cluster: str | None
    """Name of the cluster (or standalone host's compute resource) that owns the pool."""
    parent_moid: str | None
    """The parent pool, ``None`` when the parent is the root pool."""
    is_vapp: bool = False
    memory_limit_mb: int | None = None
    """config.memoryAllocation.limit; ``None`` means unlimited (-1 is normalised to None)."""
    memory_reservation_mb: int | None = None
    expandable_reservation: bool | None = None
    ballooned_mb: int | None = None
    """summary.quickStats.balloonedMemory of the pool (MB), where the server reports it."""
    swapped_mb: int | None = None
    """summary.quickStats.swappedMemory of the pool (MB), where the server reports it."""


@dataclass(frozen=True)
class Snapshot:
    """Everything collected in one run, from every source."""

    sources: tuple[SourceInfo, ...] = ()
    clusters: tuple[Cluster, ...] = ()
    hosts: tuple[Host, ...] = ()
    vms: tuple[VM, ...] = ()
    resource_pools: tuple[ResourcePool, ...] = ()


@dataclass(frozen=True)
class Entity:
    """What a finding is about."""

    type: str
    """``VirtualMachine``, ``HostSystem``, ``ClusterComputeResource``, ``ResourcePool``,
    ``VirtualApp`` or ``vCenter``."""
    name: str
    moid: str | None
    server: str
    datacenter: str | None = None
    cluster: str | None = None
    host: str | None = None

    @classmethod
    def of_vm(cls, vm: VM) -> Entity:
        return cls(
            "VirtualMachine", vm.name, vm.moid, vm.server, vm.datacenter, vm.cluster, vm.host
        )

    @classmethod
    def of_host(cls, host: Host) -> Entity:
        return cls(
            "HostSystem",
            host.name,
            host.moid,
            host.server,
            host.datacenter,
            host.cluster,
            host.name,
        )


@dataclass(frozen=True)
class Remediation:
    """Advice for one finding, with the entity's name already filled into commands."""

    summary: str
    """What to do, in one or two sentences."""
    steps: tuple[str, ...] = ()
    """Ordered steps, e.g. vSphere Client clicks."""
    confirm: tuple[str, ...] = ()
    """How to confirm the diagnosis (esxtop fields, guest commands)."""
    powercli: str | None = None
    """A ready-to-paste PowerCLI command (PowerShell quoting)."""
    govc: str | None = None
    """A ready-to-paste govc command (POSIX shell quoting)."""
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    rule: str
    """Stable public rule ID, e.g. ``BA301``."""
    name: str
    """Rule slug, e.g. ``ballooning``."""
    severity: Severity
    entity: Entity
    message: str
    """One line with the numbers."""
    evidence: dict[str, Any]
    """The raw property values the decision was made on, keyed by API property path."""
    remediation: Remediation


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule did: how many entities it looked at, and what it flagged."""

    checked: int
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class RuleStat:
    rule: str
    name: str
    checked: int
    flagged: int


@dataclass(frozen=True)
class Waiver:
    """An accepted finding: rule + entity pattern, with a reason, an owner and an expiry."""

    rule: str
    entity: str
    """Entity name, shell-style glob, or managed object ID."""
    reason: str
    owner: str
    expires: str | None = None
    """ISO date (YYYY-MM-DD); ``None`` never expires."""
    server: str | None = None
    """Restrict to one vCenter."""
    datacenter: str | None = None
    """Restrict to findings in datacenters matching this glob (case-insensitive)."""
    cluster: str | None = None
    """Restrict to findings in clusters matching this glob."""
    host: str | None = None
    """Restrict to findings on hosts matching this glob."""


@dataclass(frozen=True)
class WaivedFinding:
    finding: Finding
    waiver: Waiver


@dataclass(frozen=True)
class RuleDoc:
    """What the reports say about a rule that ran; carried in the result so that
    ``balloon-audit report`` re-renders without the rule code."""

    id: str
    name: str
    severity: Severity
    """The highest severity the rule reports by default."""
    checks: str
    scope: str
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    """``path (unit) → "column"``, one per vSphere property the rule reads."""


@dataclass(frozen=True)
class AuditResult:
    """The outcome of one audit: input for every renderer, and the JSON archive format."""

    generated_at: datetime
    tool_version: str
    snapshot: Snapshot
    findings: tuple[Finding, ...]
    rule_stats: tuple[RuleStat, ...]
    thresholds: dict[str, dict[str, Any]]
    """Rule ID -> the parameters in force for it."""
    waived: tuple[WaivedFinding, ...] = ()
    waiver_problems: tuple[str, ...] = ()
    """Expired waivers and waivers that matched nothing, one line each."""
    run_by: dict[str, str] = field(default_factory=dict)
    """Provenance: ``user``, ``host`` (machine), ``command``."""
    changes: Changes | None = None
    """What changed since the previous run of the same scope (history), if known."""
    rules: tuple[RuleDoc, ...] = ()
    """The rules that ran, as the reports describe them (sorted by ID)."""

    @property
    def sources(self) -> tuple[SourceInfo, ...]:
        return self.snapshot.sources

    def counts_by_severity(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Severity}
        for finding in self.findings:
            counts[finding.severity.value] += 1
        return counts

    def worst_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)
