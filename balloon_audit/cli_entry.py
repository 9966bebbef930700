"""The console-script entry point: how the process ends when the commands did not decide.

An unexpected error exits 3, never 1 ("findings"); its traceback is hidden (it could
show values from the user's inventory or environment) unless BALLOON_AUDIT_DEBUG=1
(the exit code stays 3). SIGINT / SIGTERM exit 130 / 143. A command-line mistake
prints one ``error:`` line and a hint and exits 2.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

from balloon_audit.errors import ExitCode
from balloon_audit.report.terminal import safe

# Click's error classes, found without importing click (typer may vendor it).
_CLICK_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)
_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)


def run_app(app: typer.Typer, err: Console) -> NoReturn:
    """Run ``app`` as ``balloon-audit`` and exit with the code its outcome calls for."""
    from balloon_audit.interrupts import Interrupted, handle_signals

    _tolerant_console()
    try:
        with handle_signals():
            code = app(prog_name="balloon-audit", standalone_mode=False)
        sys.exit(code or 0)
    except _CLICK_ERROR as exc:
        _usage_error(exc, err)
    except typer.Abort:
        sys.exit(ExitCode.FAILED)
    except Interrupted as exc:
        err.print(f"[bold red]error:[/] {exc.name} received: stopped, nothing more was written")
        err.print("[dim]hint:[/] reports written before the signal are complete; no partial file")
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("BALLOON_AUDIT_DEBUG"):
            import traceback

            traceback.print_exc()
            sys.exit(ExitCode.FAILED)
        first_line = (str(exc).splitlines() or [""])[0][:300]
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {safe(first_line)}")
        err.print(
            "[dim]hint:[/] this is a bug in balloon-audit; run again with BALLOON_AUDIT_DEBUG=1 "
            "for the traceback and report it"
        )
        sys.exit(ExitCode.FAILED)


def _usage_error(exc: Any, err: Console) -> NoReturn:
    """A command-line mistake: one ``error:`` line and a hint, exit 2."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()  # prints the help
        sys.exit(ExitCode.USAGE)
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.info_name == "check":  # a monitoring plugin: UNKNOWN, on stdout
        from balloon_audit.check import unknown_output

        sys.stdout.write(unknown_output(exc.format_message()))
        sys.exit(3)
    err.print(f"[bold red]error:[/] {safe(exc.format_message())}")
    where = ctx.command_path if ctx is not None else "balloon-audit"
    err.print(f"[dim]hint:[/] see '{safe(where)} --help'")
    code = getattr(exc, "exit_code", ExitCode.USAGE) if isinstance(exc, _USAGE_ERROR) else None
    sys.exit(code or ExitCode.USAGE)


def _tolerant_console() -> None:
    """A console that cannot encode a character shows a replacement, never aborts the run."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
