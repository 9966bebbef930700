"""``balloon-audit check``: audit and answer as a Nagios / Icinga / Naemon plugin.

The same sources as ``scan`` (``--server``, ``--fleet``, ``GOVC_URL``, ``--replay``),
no report files, one status line with perfdata and exit 0/1/2/3 (see check.py).
Every failure, a usage error included, is UNKNOWN (3) with one line on stdout,
as monitoring systems show stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from balloon_audit.cli import (
    ConfigOpt,
    FailOn,
    ServerOpt,
    _collect_live,
    _collect_replay,
    _fleet,
    _fleet_or_targets,
    _load_config,
    _run_by,
    app,
)
from balloon_audit.errors import BalloonAuditError
from balloon_audit.model import Severity


def _severity(level: FailOn) -> Severity | None:
    return None if level is FailOn.never else Severity(level.value)


@app.command()
def check(
    server: ServerOpt = None,
    port: Annotated[int, typer.Option(help="HTTPS port.", min=1, max=65535)] = 443,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", "-u", envvar="BALLOON_AUDIT_USER", help="User name.", show_default=False
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", "-k", help="Skip TLS certificate verification.")
    ] = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(help="CA certificates (PEM) to verify the server with.", dir_okay=False),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds for one whole API request (1-3600).", min=1, max=3600)
    ] = 300.0,
    fleet_path: Annotated[
        Path | None,
        typer.Option("--fleet", envvar="BALLOON_AUDIT_FLEET", help="Fleet file (docs/fleet.md)."),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", help="Only the fleet entries with this KEY=VALUE label."),
    ] = None,
    config_path: ConfigOpt = None,
    replay: Annotated[
        Path | None,
        typer.Option(help="Check a capture instead of the network.", dir_okay=False),
    ] = None,
    warning_on: Annotated[
        FailOn, typer.Option(case_sensitive=False, help="WARNING from this severity up.")
    ] = FailOn.warning,
    critical_on: Annotated[
        FailOn, typer.Option(case_sensitive=False, help="CRITICAL from this severity up.")
    ] = FailOn.critical,
    no_perf: Annotated[bool, typer.Option("--no-perf", help="Skip swap-rate counters.")] = False,
) -> None:
    """Check as a monitoring plugin: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, with perfdata.

    The password comes as for scan: the fleet file, $BALLOON_AUDIT_PASSWORD or
    $GOVC_PASSWORD (a plugin has no terminal to prompt on).
    """
    from balloon_audit.check import plugin_output, plugin_state, unknown_output
    from balloon_audit.engine import evaluate
    from balloon_audit.fleet_file import label_sources

    try:
        config = _load_config(config_path)
        if replay is not None:
            snapshot = _collect_replay(replay, quiet=True, perf=not no_perf)
        else:
            fleet = _fleet(fleet_path, config, server, label)
            targets = _fleet_or_targets(
                fleet, server, port, user, False, insecure, ca_bundle, (timeout, 15.0, 3600.0)
            )
            snapshot, _ = _collect_live(targets, record=None, quiet=True, perf=not no_perf)
            snapshot = label_sources(snapshot, fleet)
    except BalloonAuditError as exc:
        typer.echo(unknown_output(str(exc)), nl=False)
        raise typer.Exit(3) from None
    result = evaluate(snapshot, config, run_by=_run_by())
    state = plugin_state(
        result,
        warning_at=_severity(warning_on),
        critical_at=_severity(critical_on),
    )
    typer.echo(plugin_output(result, state), nl=False)
    raise typer.Exit(int(state))
