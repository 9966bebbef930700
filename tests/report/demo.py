"""The demo fleet's reports, replayed from cassettes/demo.yaml by the real command line.

Layout tests (LibreOffice, Chromium) measure what a user of ``scripts/demo.sh`` gets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import CASSETTES, ROOT


def demo_reports(folder: Path) -> dict[str, Path]:
    """Write the demo audit's JSON, HTML and XLSX into ``folder``; returns kind → path.

    The demo is replayed twice into a history database of its own, as a second nightly run:
    the reports then hold everything a user sees, "Since last run" and the trend charts
    included, and never depend on what other tests recorded before.
    """
    folder.mkdir(parents=True, exist_ok=True)
    history = ("--history", str(folder / "history.sqlite"))
    paths = {kind: folder / f"demo.{kind}" for kind in ("json", "html", "xlsx")}
    _scan_demo(*history)
    _scan_demo(*history, *(arg for kind, path in paths.items() for arg in (f"--{kind}", str(path))))
    return paths


def _scan_demo(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "balloon_audit", "scan", "--replay", str(CASSETTES / "demo.yaml"),
         "--quiet", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the demo fleet has warnings and criticals


def require_tool(*names: str, package: str) -> str:
    """The path of the first of ``names`` on PATH; skip locally, fail under CI, if none is."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    reason = f"{names[0]} is not installed (apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(reason + " -- CI must not skip layout tests")
    pytest.skip("SKIPPING LAYOUT TEST: " + reason)
    raise AssertionError("unreachable")
