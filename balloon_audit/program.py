"""How the user runs this program again: the command the tool prints in its hints.

In a checkout the console script lives in ``.venv/bin`` and is not on ``PATH``, so a
printed ``balloon-audit scan …`` would fail as written; the hint names the script's
path instead (relative to the current folder when it is below it).
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

NAME = "balloon-audit"


def program(argv0: str | None = None, path: str | None = None, cwd: Path | None = None) -> str:
    """``balloon-audit`` when that runs this very program from ``PATH``; else its path,
    e.g. ``.venv/bin/balloon-audit``; ``python -m balloon_audit`` when started that way."""
    exe = Path(sys.argv[0] if argv0 is None else argv0)
    if exe.name != NAME:
        return f"{shlex.quote(sys.executable)} -m balloon_audit"
    found = shutil.which(NAME, path=path)
    if found and Path(found).resolve() == exe.resolve():
        return NAME
    here = (Path.cwd() if cwd is None else cwd).resolve()
    try:
        return shlex.quote(str(exe.resolve().relative_to(here)))
    except ValueError:
        return shlex.quote(str(exe.resolve()))
