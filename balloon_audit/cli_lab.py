"""``balloon-audit lab``: start, inspect and stop a vcsim test lab loaded with a scenario."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from balloon_audit.report.terminal import safe

lab_app = typer.Typer(help="Start and stop a vcsim test lab loaded with a scenario.")
err = Console(stderr=True, highlight=False)


StateDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar="BALLOON_AUDIT_LAB_DIR",
        help="Where the running lab is recorded (default: ~/.local/state/balloon-audit/lab).",
        show_default=False,
    ),
]


def _state_dir(path: Path | None) -> Path:
    from balloon_audit.lab import default_state_dir

    return path if path is not None else default_state_dir()


@lab_app.command("list")
def lab_list() -> None:
    """List the bundled scenarios."""
    from balloon_audit.lab import list_scenarios

    table = Table(show_edge=False)
    table.add_column("scenario", no_wrap=True)
    table.add_column("description", overflow="fold")
    for name, description in list_scenarios():
        table.add_row(name, safe(description))
    Console(highlight=False).print(table)


@lab_app.command("up")
def lab_up_command(
    scenario: Annotated[
        str, typer.Option("--scenario", help="Bundled scenario name or a scenario TOML file.")
    ] = "demo",
    state_dir: StateDirOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the lab's connection details as JSON.")
    ] = False,
) -> None:
    """Start vcsim on 127.0.0.1, seed it with a scenario, and print how to connect."""
    from balloon_audit.lab import lab_up

    def progress(message: str) -> None:
        err.print(f"[dim]lab:[/] {safe(message)}")

    instance = lab_up(scenario, _state_dir(state_dir), progress=None if as_json else progress)
    if as_json:
        typer.echo(json.dumps(instance.to_json(), indent=2, sort_keys=True))
        return
    from balloon_audit.program import program

    me = program()  # runs as written: .venv/bin/balloon-audit in a checkout
    down = f"{me} lab down" + (f" --state-dir {shlex.quote(str(state_dir))}" if state_dir else "")
    typer.echo(
        f"lab '{instance.scenario.name}' is up at {instance.url} (pid {instance.pid}); "
        "vcsim accepts any user and password:\n\n"
        "  export BALLOON_AUDIT_PASSWORD=any\n"
        f"  {me} scan -s {instance.server} -u lab --insecure --output-dir reports\n\n"
        f"Stop it with: {down}"
    )


@lab_app.command("status")
def lab_status_command(state_dir: StateDirOpt = None) -> None:
    """Show the running lab, if any (exit 1 when none is running)."""
    from balloon_audit.lab import lab_status

    instance = lab_status(_state_dir(state_dir))
    if instance is None:
        typer.echo("no lab is running")
        raise typer.Exit(1)
    typer.echo(f"lab '{instance.scenario.name}' at {instance.url} (pid {instance.pid})")


@lab_app.command("change")
def lab_change_command(
    vm: Annotated[str, typer.Argument(help="The VM's current name.")],
    ballooned_mb: Annotated[
        int | None,
        typer.Option("--ballooned-mb", min=0, help="Its ballooned memory (0 clears it).",
                     show_default=False),
    ] = None,
    swapped_mb: Annotated[
        int | None,
        typer.Option("--swapped-mb", min=0, help="Its swapped memory (0 clears it).",
                     show_default=False),
    ] = None,
    rename_to: Annotated[
        str | None, typer.Option("--rename-to", help="A new name.", show_default=False)
    ] = None,
    state_dir: StateDirOpt = None,
) -> None:  # fmt: skip
    """Change one VM of the running lab, as a fleet changes overnight (to try history and diff)."""
    from balloon_audit.errors import ConfigError, LabError
    from balloon_audit.lab import lab_status
    from balloon_audit.lab.change import VmChange, apply_changes

    if ballooned_mb is None and swapped_mb is None and not rename_to:
        raise ConfigError(
            "nothing to change", hint="pass --ballooned-mb, --swapped-mb and/or --rename-to"
        )
    instance = lab_status(_state_dir(state_dir))
    if instance is None:
        raise LabError("no lab is running", hint="start one with `balloon-audit lab up`")
    change = VmChange(vm, ballooned_mb=ballooned_mb, swapped_mb=swapped_mb, rename_to=rename_to)
    apply_changes(instance.host, instance.port, [change])
    typer.echo(f"changed {safe(vm)} in lab '{instance.scenario.name}'")


@lab_app.command("down")
def lab_down_command(state_dir: StateDirOpt = None) -> None:
    """Stop the running lab."""
    from balloon_audit.lab import lab_down

    stopped = lab_down(_state_dir(state_dir))
    typer.echo("lab stopped" if stopped else "no lab was running")
