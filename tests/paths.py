"""Where the checkout's files are, for tests in any sub-package."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
"""The repository checkout (tests run from a clone, never from an installed wheel)."""

CASSETTES = ROOT / "cassettes"


def script_module(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` (the doc generators) without running its main()."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
