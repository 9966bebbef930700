"""What changed between two runs: the data every renderer reads (no I/O here).

Statuses of a finding, compared by rule and entity identity:

- ``new``: not in the previous run;
- ``resolved``: in the previous run, gone now;
- ``worsened`` / ``improved``: in both, with a higher / lower severity, or the same
  severity and reclaimed memory (ballooned + swapped + compressed MB in its
  evidence) up / down by at least ``MAGNITUDE_STEP`` of its previous value;
- ``persisting``: in both, otherwise.

Waived findings are left out on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass

NEW = "new"
WORSENED = "worsened"
IMPROVED = "improved"
PERSISTING = "persisting"
RESOLVED = "resolved"
STATUSES = (NEW, WORSENED, IMPROVED, PERSISTING, RESOLVED)
"""In the order reports list them."""

MAGNITUDE_STEP = 0.10
"""Relative change of reclaimed memory that counts as worse or better."""


@dataclass(frozen=True)
class RunRef:
    """One side of a comparison."""

    generated_at: str
    """UTC, ISO 8601 (``2026-11-30T02:00:00Z``)."""
    run_id: int | None = None
    """History run ID; ``None`` when the side came from a JSON file."""
    label: str = ""
    """How to name this side to a reader: ``run 12`` or a file name."""


@dataclass(frozen=True)
class FindingChange:
    status: str
    """One of ``STATUSES``."""
    rule: str
    name: str
    """Rule slug, e.g. ``ballooning``."""
    entity_type: str
    entity_key: str
    """Identity across runs (see ``history.identity``)."""
    entity_name: str
    """The name now (the previous name for a resolved finding)."""
    previous_name: str | None
    """The entity's name in the previous run when it was renamed since, else ``None``."""
    server: str
    moid: str | None
    """Managed object ID in the run the row describes (to find it among a result's findings)."""
    severity: str
    """Severity now; for a resolved finding, the severity it had."""
    previous_severity: str | None
    message: str
    """The finding's message now (the last message for a resolved finding)."""
    magnitude_mb: float | None
    """Reclaimed memory in the finding's evidence now (``None`` if it has none)."""
    previous_magnitude_mb: float | None
    first_seen: str
    """UTC ISO time of the first run, in an unbroken series, that had this finding."""
    age_days: int
    """Whole days from ``first_seen`` to the newer run."""


@dataclass(frozen=True)
class VmDelta:
    """A VM whose ballooned, swapped or compressed memory changed (MB; ``None`` = unknown)."""

    vm_key: str
    name: str
    previous_name: str | None
    server: str
    ballooned_before: float | None
    ballooned_after: float | None
    swapped_before: float | None
    swapped_after: float | None
    compressed_before: float | None
    compressed_after: float | None

    @staticmethod
    def _delta(before: float | None, after: float | None) -> float:
        return round((after or 0) - (before or 0), 1)

    @property
    def ballooned_delta(self) -> float:
        return self._delta(self.ballooned_before, self.ballooned_after)

    @property
    def swapped_delta(self) -> float:
        return self._delta(self.swapped_before, self.swapped_after)

    @property
    def compressed_delta(self) -> float:
        return self._delta(self.compressed_before, self.compressed_after)


@dataclass(frozen=True)
class Rename:
    entity_type: str
    entity_key: str
    server: str
    previous_name: str
    name: str


@dataclass(frozen=True)
class TrendPoint:
    """Fleet figures of one past run of the same scope, for the trend charts."""

    generated_at: str
    run_id: int | None
    ballooned_mb: float
    swapped_mb: float
    compressed_mb: float
    findings: int
    critical: int
    warning: int
    info: int


@dataclass(frozen=True)
class Changes:
    """The comparison of a run with the previous run of the same scope."""

    current: RunRef
    previous: RunRef | None
    """``None`` on the first run of a scope: every finding is then ``new``."""
    findings: tuple[FindingChange, ...]
    """Every active finding of either run, in ``STATUSES`` order, then by rule and name."""
    vm_deltas: tuple[VmDelta, ...] = ()
    """VMs in both runs whose ballooned/swapped/compressed MB changed."""
    renames: tuple[Rename, ...] = ()
    vms_added: int = 0
    vms_removed: int = 0
    sources_not_compared: tuple[str, ...] = ()
    """Servers that failed in either run: their findings are neither new nor resolved."""
    thresholds_changed: bool = False
    """The rule thresholds differ between the runs (a change may come from that)."""
    trend: tuple[TrendPoint, ...] = ()
    """Oldest first, ending with the current run."""

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for change in self.findings:
            counts[change.status] += 1
        return counts

    def of_status(self, status: str) -> tuple[FindingChange, ...]:
        return tuple(c for c in self.findings if c.status == status)

    @property
    def has_new_or_worsened(self) -> bool:
        return any(c.status in (NEW, WORSENED) for c in self.findings)

    def current_by_entity(self) -> dict[tuple[str, str, str, str], FindingChange]:
        """Changes of the current run's findings by ``finding_ref`` (resolved ones left out)."""
        return {
            (c.rule, c.entity_type, c.server, c.moid or c.entity_name): c
            for c in self.findings
            if c.status != RESOLVED
        }


def finding_ref(rule: str, entity_type: str, server: str, moid: str | None, name: str) -> tuple:
    """How a renderer matches a result's finding to its ``FindingChange``."""
    return (rule, entity_type, server, moid or name)
