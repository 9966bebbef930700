"""Which VMs a ``balloon-audit vm NAME_OR_GLOB`` argument means, from the names read.

Pure: the collector reads only the VMs' names (one cheap pass) and this module picks
the matches, or says why there are none and what was probably meant.

- A pattern without ``*``, ``?`` or ``[`` is an exact name: case-sensitive first, then
  case-insensitive when nothing matched exactly.
- A glob (:mod:`fnmatch`) is case-insensitive, like ``--scope vm=GLOB``.
- vCenter escapes ``%``, ``/`` and ``\\`` in names (``finance%2fpayroll-01``): both the
  escaped and the unescaped form match.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from balloon_audit.errors import ConfigError

Ref = TypeVar("Ref")

MAX_VMS = 10
"""At most this many VMs are explained in one run; a wider pattern is a usage error."""
LISTED = 20
"""Names listed in the message when a pattern matches too many VMs."""
SUGGESTIONS = 5

_ESCAPES = (("%2f", "/"), ("%2F", "/"), ("%5c", "\\"), ("%5C", "\\"), ("%25", "%"))


def unescape(name: str) -> str:
    """A vCenter inventory name as the user typed it (``%2f`` → ``/``)."""
    for escaped, plain in _ESCAPES:
        name = name.replace(escaped, plain)
    return name


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


@dataclass(frozen=True)
class Named(Generic[Ref]):
    """A VM's name and whatever the caller needs to read it later (a reference)."""

    name: str
    ref: Ref


def match(pattern: str, vms: Sequence[Named[Ref]]) -> list[Named[Ref]]:
    """The VMs ``pattern`` names, sorted by name (see the module docstring)."""
    if is_glob(pattern):
        folded = pattern.casefold()
        found = [
            vm
            for vm in vms
            if fnmatch.fnmatchcase(vm.name.casefold(), folded)
            or fnmatch.fnmatchcase(unescape(vm.name).casefold(), folded)
        ]
    else:
        found = [vm for vm in vms if pattern in (vm.name, unescape(vm.name))]
        if not found:
            folded = pattern.casefold()
            found = [
                vm for vm in vms if folded in (vm.name.casefold(), unescape(vm.name).casefold())
            ]
    return sorted(found, key=lambda vm: (vm.name, str(vm.ref)))


def suggestions(pattern: str, names: Sequence[str], limit: int = SUGGESTIONS) -> list[str]:
    """Names close to ``pattern``: containing it, then similar spellings (difflib)."""
    bare = pattern.strip("*?[]").casefold()
    by_fold: dict[str, str] = {}
    for name in sorted(names):
        by_fold.setdefault(unescape(name).casefold(), name)
    found: list[str] = []
    if len(bare) >= 3:
        found = [by_fold[f] for f in by_fold if bare in f][:limit]
    for close in difflib.get_close_matches(bare, list(by_fold), n=limit, cutoff=0.6):
        if by_fold[close] not in found:
            found.append(by_fold[close])
    return found[:limit]


def select(
    pattern: str, vms: Sequence[Named[Ref]], *, where: str, limit: int = MAX_VMS
) -> list[Named[Ref]]:
    """The matches of ``pattern``; a :class:`ConfigError` (exit 2) for none or too many."""
    found = match(pattern, vms)
    if not found:
        close = suggestions(pattern, [vm.name for vm in vms])
        hint = (
            "did you mean: " + ", ".join(repr(name) for name in close) + "?"
            if close
            else "names are matched exactly; use a glob such as 'web-*' to match several"
        )
        raise ConfigError(f"no VM matches {pattern!r} among {len(vms):,} VMs on {where}", hint)
    if len(found) > limit:
        shown = ", ".join(repr(vm.name) for vm in found[:LISTED])
        more = f" and {len(found) - LISTED:,} more" if len(found) > LISTED else ""
        raise ConfigError(
            f"{pattern!r} matches {len(found):,} VMs on {where}, more than the {limit} "
            f"explained at once: {shown}{more}",
            hint="narrow the pattern, or audit them all with: balloon-audit scan --scope vm=GLOB",
        )
    return found
