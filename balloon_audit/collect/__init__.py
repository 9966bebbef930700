"""Collection: the only package that talks to vSphere (pyVmomi).

``collect_source`` reads one vCenter/ESXi endpoint into a :class:`~balloon_audit.model.Snapshot`;
``collect_all`` does many concurrently and records failures per source instead of raising.
"""

from __future__ import annotations

from balloon_audit.collect.fleet import collect_all, merge
from balloon_audit.collect.source import collect_source
from balloon_audit.collect.target import Target, parse_server

__all__ = ["Target", "collect_all", "collect_source", "merge", "parse_server"]
