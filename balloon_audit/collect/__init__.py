"""Collection: the only package that talks to vSphere (pyVmomi).

``collect_source`` reads one vCenter/ESXi endpoint into a :class:`~balloon_audit.model.Snapshot`;
``collect_all`` does many concurrently and records failures per source instead of raising.

The names below are imported lazily, so ``balloon_audit.collect.properties`` (pure
path lists and builders) can be imported without loading pyVmomi.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from balloon_audit.collect.fleet import collect_all, merge
    from balloon_audit.collect.source import collect_source
    from balloon_audit.collect.target import Target, parse_server

__all__ = ["Target", "collect_all", "collect_source", "merge", "parse_server"]

_HOMES = {
    "collect_all": "balloon_audit.collect.fleet",
    "merge": "balloon_audit.collect.fleet",
    "collect_source": "balloon_audit.collect.source",
    "Target": "balloon_audit.collect.target",
    "parse_server": "balloon_audit.collect.target",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
