"""Console-script entry point: answers ``--version`` before importing the command line.

The command line (typer, rich) and what a scan needs (pyVmomi, the rules) take a few
hundred milliseconds to import; ``balloon-audit --version`` needs none of it.
"""

from __future__ import annotations

import sys

from balloon_audit import __version__


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        print(f"balloon-audit {__version__}")
        return
    from balloon_audit.cli import run as run_cli

    run_cli()
