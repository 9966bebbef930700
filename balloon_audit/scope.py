"""What a run (or a waiver) covers: include / exclude by datacenter, cluster, host, folder,
resource pool and VM name, each a case-insensitive shell glob.

On the command line: ``--scope cluster=Prod-*`` (include) and ``--exclude vm=test-*``,
both repeatable; in the configuration file a ``[scope]`` table::

    [scope]
    include = ["cluster=Prod-A", "cluster=Prod-B"]
    exclude = ["vm=test-*", "pool=Sandbox"]

Includes of one kind are alternatives (any of them), includes of different kinds must
all hold; any exclude removes the object. Collection is narrowed where vSphere allows it:
VMs are read through container views rooted at the included datacenters, clusters, hosts,
folders and resource pools instead of the root folder; VMs below excluded folders and
pools are listed (references only) and skipped. Host, cluster and VM names are filtered
after collection.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from balloon_audit.errors import ConfigError
from balloon_audit.validation import suggest

KINDS = ("datacenter", "cluster", "host", "folder", "pool", "vm")
CONTAINERS = ("datacenter", "cluster", "host", "folder", "pool")
"""Kinds a container view can be rooted at."""


@dataclass(frozen=True)
class Scope:
    include: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclude: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    def describe(self) -> str:
        """``cluster=Prod-A, cluster=Prod-B; not vm=test-*`` (empty: everything)."""
        parts = [", ".join(f"{k}={p}" for k, ps in self.include.items() for p in ps)]
        excluded = [f"{k}={p}" for k, ps in self.exclude.items() for p in ps]
        if excluded:
            parts.append("not " + ", not ".join(excluded))
        return "; ".join(p for p in parts if p) or "everything"

    def admits(self, **names: str | None) -> bool:
        """True when an object with these names (kind -> name) is in scope.

        A kind not given (``None`` or absent) is not checked: a host has no VM name.
        """
        for kind, patterns in self.include.items():
            if kind in names and not _any_match(names[kind], patterns):
                return False
        return not any(
            kind in names and names[kind] is not None and _any_match(names[kind], patterns)
            for kind, patterns in self.exclude.items()
        )


def _any_match(name: str | None, patterns: Iterable[str]) -> bool:
    if name is None:
        return False
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in patterns)


def parse_scope(include: Sequence[str], exclude: Sequence[str], where: str = "--scope") -> Scope:
    """``KIND=GLOB`` items into a Scope; ConfigError naming the bad item."""
    return Scope(_parse(include, where), _parse(exclude, where.replace("scope", "exclude")))


def _parse(items: Sequence[str], where: str) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for item in items:
        kind, sep, pattern = item.partition("=")
        kind = kind.strip().lower()
        if not sep or not pattern.strip():
            raise ConfigError(
                f"{where} {item!r} is not KIND=GLOB",
                hint=f"e.g. cluster=Prod-*; kinds: {', '.join(KINDS)}",
            )
        if kind not in KINDS:
            raise ConfigError(f"{where} {item!r}: unknown kind {kind!r}{suggest(kind, KINDS)}")
        out.setdefault(kind, []).append(pattern.strip())
    return {k: tuple(v) for k, v in out.items()}


def merge(first: Scope, second: Scope) -> Scope:
    """Both scopes' includes and excludes (the command line adds to the file)."""

    def join(a: Mapping[str, tuple[str, ...]], b: Mapping[str, tuple[str, ...]]):
        return {k: tuple(a.get(k, ())) + tuple(b.get(k, ())) for k in KINDS if k in a or k in b}

    return Scope(join(first.include, second.include), join(first.exclude, second.exclude))
