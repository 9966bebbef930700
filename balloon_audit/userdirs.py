"""Per-user folders (XDG base directories) that work without a home directory.

Containers and some cron setups run with ``HOME`` unset and a user ID that has no
passwd entry, so ``Path.home()`` raises. Then nothing is read from the home
directory (there is no user configuration), and state and cache go to a per-user
folder under the system's temporary directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def home() -> Path | None:
    """``$HOME``, else the passwd entry's home directory, else ``None``."""
    value = os.environ.get("HOME", "").strip()
    if value:
        return Path(value)
    try:
        return Path.home()
    except (RuntimeError, KeyError, OSError):
        return None


def _fallback(kind: str) -> Path:
    return Path(tempfile.gettempdir()) / f"balloon-audit-{os.getuid()}" / kind


def config_home() -> Path | None:
    """``$XDG_CONFIG_HOME`` or ``~/.config``; ``None`` without a home (no user config)."""
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    if xdg:
        return Path(xdg)
    base = home()
    return None if base is None else base / ".config"


def state_home() -> Path:
    """``$XDG_STATE_HOME`` or ``~/.local/state``; without a home, a per-user temporary folder."""
    xdg = os.environ.get("XDG_STATE_HOME", "").strip()
    if xdg:
        return Path(xdg)
    base = home()
    return _fallback("state") if base is None else base / ".local" / "state"


def cache_home() -> Path:
    """``$XDG_CACHE_HOME`` or ``~/.cache``; without a home, a per-user temporary folder."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg)
    base = home()
    return _fallback("cache") if base is None else base / ".cache"
