"""Audit configuration: rule parameters, rule selection, severity overrides, waivers.

The TOML loader lives in ``config_file.py``; this module is the typed, validated
in-memory form that the engine reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from balloon_audit.model import Severity, Waiver


@dataclass(frozen=True)
class Config:
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Rule ID -> parameter overrides (merged over the rule's declared defaults)."""
    disabled: frozenset[str] = frozenset()
    """Rule IDs not to run."""
    severity_overrides: Mapping[str, Severity] = field(default_factory=dict)
    """Rule ID -> severity every finding of that rule is reported with."""
    waivers: tuple[Waiver, ...] = ()
    fleet: tuple[Any, ...] = ()
    """``[[fleet]]`` entries (:class:`~balloon_audit.fleet_file.FleetEntry`), if any."""
    notify: Any = None
    """The ``[notify]`` table (:class:`~balloon_audit.notify.NotifySection`), if any."""
    scope: Any = None
    """The ``[scope]`` table as a :class:`~balloon_audit.scope.Scope`, if any."""
    history: str | bool | None = None
    """``history = …``: a database URL or path, ``False`` (off), ``True`` (the default
    database), or ``None`` when the file does not say (docs/history.md)."""

    def params_for(self, rule_id: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
        merged = dict(defaults)
        merged.update(self.params.get(rule_id, {}))
        return merged
