"""Output formats: each one registers itself here, and the commands ask this registry.

A format shows an :class:`~balloon_audit.model.AuditResult` on the terminal (``show``)
or writes it to a file (``write``), or both (JSON: a file, or stdout with ``--json -``).
Adding a format is one new module ``balloon_audit/report/format_<name>.py`` that calls
:func:`register` when imported: ``scan`` then offers ``--<name> PATH``, ``--output-dir``
writes it with a dated name, and ``report`` re-renders it when ``rerender`` is true.
No edit to the command line is needed. The ``format_*`` modules are imported by every
command (they make its options), so they stay light: a renderer with heavy imports
(openpyxl, jinja2, pydantic) is imported by its ``write`` function, when used.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from balloon_audit.model import AuditResult


@dataclass(frozen=True)
class Format:
    """One way to present an audit result."""

    name: str
    """Option name (``--html``) and file suffix (``.html``)."""
    help: str
    """Help text of the ``--<name>`` option."""
    write: Callable[[AuditResult, Path], None] | None = None
    """Write the result to a file, atomically; ``None`` for terminal-only formats."""
    show: Callable[[AuditResult], None] | None = None
    """Print the result to stdout; for a file format, what ``--<name> -`` does."""
    rerender: bool = True
    """``balloon-audit report`` can write it from a saved JSON result."""
    order: int = 50
    """Position among the options and in ``--output-dir`` (smaller first)."""
    dated: bool = True
    """``--output-dir`` writes it with a dated name (monitoring files have fixed paths)."""


_REGISTRY: dict[str, Format] = {}
_discovered = False


def register(fmt: Format) -> Format:
    """Add ``fmt`` (called by the format's own module at import time); names are unique."""
    known = _REGISTRY.get(fmt.name)
    if known is not None and known != fmt:
        raise ValueError(f"output format {fmt.name!r} is registered twice")
    _REGISTRY[fmt.name] = fmt
    return fmt


def get_format(name: str) -> Format:
    """The registered format called ``name`` (KeyError if there is none)."""
    _discover()
    return _REGISTRY[name]


def all_formats() -> list[Format]:
    """Every registered format, in option order."""
    _discover()
    return sorted(_REGISTRY.values(), key=lambda f: (f.order, f.name))


def file_formats(*, rerender_only: bool = False, dated_only: bool = False) -> list[Format]:
    """Formats that write files (``--json``, ``--html``, ``--xlsx`` ...), in option order;
    ``dated_only``: those ``--output-dir`` writes."""
    return [
        f
        for f in all_formats()
        if f.write is not None and (f.rerender or not rerender_only) and (f.dated or not dated_only)
    ]


def _discover() -> None:
    """Import every ``format_*`` module of ``balloon_audit.report``; each registers itself."""
    global _discovered
    if _discovered:
        return
    import balloon_audit.report as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("format_"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    _discovered = True
