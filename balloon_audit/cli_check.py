"""``balloon-audit check``: audit and answer as a Nagios / Icinga / Naemon plugin.

The same sources as ``scan`` (``--fleet``, ``--server``, ``GOVC_URL``, ``--replay``),
no report files, one status line with perfdata and exit 0/1/2/3 (see check.py).
Every failure, a usage error included, is UNKNOWN (3) with one line on stdout, which
is what monitoring systems show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from balloon_audit import audit
from balloon_audit.cli import app
from balloon_audit.cli_options import (
    CaBundleOpt,
    ConfigOpt,
    ExcludeOpt,
    FleetOpt,
    InsecureOpt,
    LabelOpt,
    Level,
    NoPerfOpt,
    PortOpt,
    ScopeOpt,
    ServerOpt,
    TimeoutOpt,
    UserOpt,
    command_line_targets,
    run_by,
)
from balloon_audit.errors import BalloonAuditError
from balloon_audit.model import AuditResult, Severity

LevelOpt = Annotated[Level, typer.Option(case_sensitive=False)]


def _severity(level: Level) -> Severity | None:
    return None if level is Level.never else Severity(level.value)


@app.command()
def check(  # noqa: PLR0913 - one parameter per command-line option
    server: ServerOpt = None,
    port: PortOpt = 443,
    user: UserOpt = None,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
    timeout: TimeoutOpt = 300.0,
    fleet_path: FleetOpt = None,
    label: LabelOpt = None,
    scope_items: ScopeOpt = None,
    exclude_items: ExcludeOpt = None,
    config_path: ConfigOpt = None,
    replay: Annotated[
        Path | None, typer.Option(help="Check a capture instead of the network.", dir_okay=False)
    ] = None,
    warning_on: Annotated[
        Level, typer.Option(case_sensitive=False, help="WARNING from this severity up.")
    ] = Level.warning,
    critical_on: Annotated[
        Level, typer.Option(case_sensitive=False, help="CRITICAL from this severity up.")
    ] = Level.critical,
    no_perf: NoPerfOpt = False,
) -> None:
    """Check as a monitoring plugin: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, with perfdata.

    The password comes as for scan: the fleet file, $BALLOON_AUDIT_PASSWORD or
    $GOVC_PASSWORD (a plugin has no terminal to prompt on).
    """
    from balloon_audit.check import plugin_output, plugin_state, unknown_output

    try:
        result = _audit(
            server, (port, user, insecure, ca_bundle, timeout),
            (fleet_path, label, scope_items, exclude_items), config_path, replay, no_perf,
        )  # fmt: skip
    except BalloonAuditError as exc:
        typer.echo(unknown_output(str(exc)), nl=False)
        raise typer.Exit(3) from None
    state = plugin_state(
        result, warning_at=_severity(warning_on), critical_at=_severity(critical_on)
    )
    typer.echo(plugin_output(result, state), nl=False)
    raise typer.Exit(int(state))


def _audit(server, connect, selection, config_path, replay, no_perf) -> AuditResult:  # noqa: PLR0913
    from balloon_audit.unattended import with_scope

    port, user, insecure, ca_bundle, timeout = connect
    fleet_path, label, scope_items, exclude_items = selection
    config = audit.load_config(config_path)
    run = audit.RunOptions(perf=not no_perf, run_by=run_by())
    if replay is not None:
        audit.check_replay_alone(server, None)
        return audit.replay(replay, config, run)
    fleet = audit.select_fleet(fleet_path, config, server, label or [])
    if fleet:
        targets = audit.fleet_targets(fleet)
    else:
        options = audit.ConnectOptions(port, user, insecure, ca_bundle, 15.0, timeout, 3600.0)
        targets = command_line_targets(server, options, password_stdin=False)
    targets = with_scope(targets, config, scope_items, exclude_items)
    return audit.scan(targets, config, run, fleet=fleet)
