"""Where the checkout's files are, for tests in any sub-package."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository checkout (tests run from a clone, never from an installed wheel)."""

CASSETTES = ROOT / "cassettes"
