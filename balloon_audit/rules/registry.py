"""Rule metadata and the registry; a duplicate rule ID is a programming error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from balloon_audit.model import RuleOutcome, Severity, Snapshot
from balloon_audit.vsphere import Prop

Params = Mapping[str, Any]
CheckFn = Callable[[Snapshot, Params], RuleOutcome]


@dataclass(frozen=True)
class RuleMeta:
    """Everything about a rule except its code; shown by ``balloon-audit rules`` and reports."""

    id: str
    """Stable public ID, e.g. ``BA301``. Never renumbered."""
    name: str
    """Slug, e.g. ``ballooning``."""
    severity: Severity
    """The highest severity the rule can report by default."""
    checks: str
    """One line: what it checks."""
    rationale: str
    """Why it matters, a short paragraph."""
    remediation: str
    """Generic remediation (per-finding advice names the entity)."""
    scope: str
    """Which entities are looked at, e.g. "powered-on VMs on connected hosts"."""
    references: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    """Default parameters (thresholds), overridable per rule in configuration."""
    reads: tuple[Prop, ...] = ()
    """The vSphere properties the rule decides on and shows as evidence (see vsphere.py)."""


@dataclass(frozen=True)
class Rule:
    meta: RuleMeta
    check: CheckFn


class DuplicateRuleError(RuntimeError):
    pass


_REGISTRY: dict[str, Rule] = {}


def rule(meta: RuleMeta) -> Callable[[CheckFn], CheckFn]:
    """Register ``check`` under ``meta.id``; refuses an ID or name registered twice."""

    def register(check: CheckFn) -> CheckFn:
        if meta.id in _REGISTRY:
            raise DuplicateRuleError(f"rule ID {meta.id} registered twice")
        if any(r.meta.name == meta.name for r in _REGISTRY.values()):
            raise DuplicateRuleError(f"rule name {meta.name} registered twice")
        _REGISTRY[meta.id] = Rule(meta, check)
        return check

    return register


def all_rules() -> list[Rule]:
    """Every registered rule, sorted by ID (importing the rule modules first)."""
    import balloon_audit.rules  # noqa: F401  (registers the rule modules)

    return [_REGISTRY[rule_id] for rule_id in sorted(_REGISTRY)]


def get_rule(rule_id: str) -> Rule:
    all_rules()
    return _REGISTRY[rule_id]
