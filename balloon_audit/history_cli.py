"""The `history` commands, `diff`, and the scan's recording step (kept out of cli.py).

``history list|show|prune`` read and trim the store; ``diff OLD NEW`` compares two
runs given as JSON results or run IDs and renders the comparison like a scan does.
Errors are raised as project errors: the CLI's handler prints them and exits with
their code (a history failure is 3, bad input 2).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from balloon_audit.cli_options import ConfigOpt, FailOn, FleetOpt, with_output_options
from balloon_audit.config import Config
from balloon_audit.errors import BalloonAuditError, ConfigError, ExitCode
from balloon_audit.formatting import fmt_num
from balloon_audit.history.changes import Changes
from balloon_audit.history.setting import HistoryChoice, choose
from balloon_audit.history.view import RunView
from balloon_audit.model import AuditResult, Severity
from balloon_audit.report.terminal import safe

HISTORY_ENV = "BALLOON_AUDIT_HISTORY"

HistoryOpt = Annotated[
    str | None,
    typer.Option(
        "--history",
        envvar=HISTORY_ENV,
        help="History database: a file, sqlite:///PATH or postgresql://USER@HOST/DB "
        "(password from PGPASSWORD or ~/.pgpass, never in the URL). "
        "Default: `history = …` in the fleet or configuration file, "
        "else $XDG_STATE_HOME/balloon-audit/history.sqlite.",
        show_default=False,
    ),
]

history_app = typer.Typer(help="Past runs kept by `scan`: list, show, prune.", no_args_is_help=True)

NoHistoryOpt = Annotated[
    bool, typer.Option("--no-history", help="Do not record this run or compare it.")
]


def history_choice(
    no_history: bool, option: str | None, config: Config, fleet_path: Path | None
) -> HistoryChoice:
    """The database this command uses: --no-history, --history, the fleet file's
    ``history``, the configuration file's, or the default (``history/setting.py``)."""
    from balloon_audit.fleet_file import load_fleet_file

    fleet_value = load_fleet_file(fleet_path).history if fleet_path is not None else None
    return choose(no_history, option, fleet_value, config.history)


def check_history_options(choice: HistoryChoice, fail_on: FailOn) -> None:
    if not choice.on and fail_on is FailOn.new:
        raise ConfigError(
            "--fail-on new needs the history",
            hint=f"it is off ({choice.origin}): turn it on, or use --fail-on LEVEL",
        )


def record_history(
    result: AuditResult, choice: HistoryChoice
) -> tuple[AuditResult, BalloonAuditError | None]:
    """Store ``result``; return it with ``changes`` since the previous run of its scope.

    A history failure is returned, not raised: the reports are still written.
    """
    if not choice.on:
        return result, None
    from balloon_audit.history.store import HistoryStore

    try:
        with HistoryStore.open(choice.url) as store:
            _run_id, changes = store.record(result)
    except BalloonAuditError as exc:
        return result, exc
    return dataclasses.replace(result, changes=changes), None


def exit_code_with_history(
    result: AuditResult, fail_on: FailOn, *, incomplete: bool, stdout_closed: bool
) -> ExitCode:
    """``audit.exit_code``, where ``--fail-on new`` means new or worsened findings."""
    from balloon_audit import audit

    if fail_on is not FailOn.new:
        threshold = None if fail_on is FailOn.never else Severity(fail_on.value)
        return audit.exit_code(
            result, threshold, incomplete=incomplete, stdout_closed=stdout_closed
        )
    code = audit.exit_code(result, None, incomplete=incomplete, stdout_closed=stdout_closed)
    changes = result.changes
    if code == ExitCode.OK and changes is not None and changes.has_new_or_worsened:
        return ExitCode.FINDINGS
    return code


def _stdout() -> Console:
    return Console(highlight=False)


Where = tuple[str | None, Path | None, Path | None]
"""--history, --config and --fleet of a history command."""


def _open(where: Where):  # type: ignore[no-untyped-def]
    """The store named by --history, else by the fleet or configuration file, else the default."""
    from balloon_audit import audit
    from balloon_audit.history.store import HistoryStore

    option, config_path, fleet_path = where
    choice = history_choice(False, option, audit.load_config(config_path), fleet_path)
    if not choice.on:
        raise ConfigError(
            f"the history is off ({choice.origin})", hint="name the database with --history URL"
        )
    return HistoryStore.open(choice.url)


@history_app.command("list")
def history_list(
    history: HistoryOpt = None,
    config_path: ConfigOpt = None,
    fleet_path: FleetOpt = None,
    limit: Annotated[int, typer.Option(help="Show the newest N runs.", min=1)] = 30,
) -> None:
    """List stored runs, newest first."""
    with _open((history, config_path, fleet_path)) as store:
        runs = store.runs(limit)
    table = Table(show_edge=False)
    for column in ("run", "generated (UTC)", "scope", "VMs", "findings", "crit/warn/info",
                   "ballooned MB", "swapped MB"):  # fmt: skip
        table.add_column(column)
    for run in runs:
        table.add_row(
            str(run.run_id),
            run.generated_at.replace("T", " ").rstrip("Z"),
            safe(run.scope),
            f"{run.vm_count:,}",
            f"{run.findings:,}",
            f"{run.critical}/{run.warning}/{run.info}",
            fmt_num(round(run.ballooned_mb)),
            fmt_num(round(run.swapped_mb)),
        )
    _stdout().print(table if runs else "No runs stored yet.")


@history_app.command("show")
def history_show(
    run_id: Annotated[int, typer.Argument(help="Run ID (see `history list`).")],
    history: HistoryOpt = None,
    config_path: ConfigOpt = None,
    fleet_path: FleetOpt = None,
) -> None:
    """Show one run: its findings with first-seen dates, and what changed since the run before."""
    from balloon_audit.report.console_changes import age_text, render_changes

    with _open((history, config_path, fleet_path)) as store:
        run = store.run(run_id)
        changes = store.changes(run_id)
    out = _stdout()
    out.print(
        f"[bold]Run {run.run_id}[/] {run.generated_at} · scope {safe(run.scope)} · "
        f"{run.vm_count:,} VMs, {run.host_count:,} hosts · {run.findings} findings "
        f"({run.critical} critical, {run.warning} warning, {run.info} info, {run.waived} waived)"
    )
    table = Table(show_edge=False)
    for column in ("severity", "rule", "entity", "status", "since"):
        table.add_column(column, overflow="fold")
    for change in changes.findings:
        if change.status != "resolved":
            table.add_row(
                change.severity,
                f"{change.rule} {change.name}",
                safe(change.entity_name),
                change.status,
                age_text(change),
            )
    out.print(table)
    render_changes(changes, out)


@history_app.command("prune")
def history_prune(
    keep_days: Annotated[
        int | None, typer.Option(help="Delete runs older than N days.", min=0, show_default=False)
    ] = None,
    keep_runs: Annotated[
        int | None,
        typer.Option(help="Keep only the newest N runs of each scope.", min=1, show_default=False),
    ] = None,
    history: HistoryOpt = None,
    config_path: ConfigOpt = None,
    fleet_path: FleetOpt = None,
) -> None:
    """Delete old runs. First-seen dates of the findings that remain are kept."""
    if keep_days is None and keep_runs is None:
        raise ConfigError("nothing to prune", hint="pass --keep-days N and/or --keep-runs N")
    with _open((history, config_path, fleet_path)) as store:
        deleted = store.prune(keep_days=keep_days, keep_runs=keep_runs)
    _stdout().print(f"deleted {deleted} run{'s' if deleted != 1 else ''}")


# ---------------------------------------------------------------------------- diff


def _side(spec: str, where: Where, label: str) -> tuple[RunView, AuditResult | None]:
    """A run view (and the full result when the side is a JSON file) from a path or a run ID."""
    from balloon_audit.history.view import key_result
    from balloon_audit.report.json_result import read_result

    path = Path(spec)
    if path.is_file():
        result = read_result(path)
        first_seen = _first_seen(result.changes)
        return key_result(result, first_seen, label=path.name).view, result
    if spec.isdigit():
        with _open(where) as store:
            return store.view(int(spec)), None
    raise ConfigError(
        f"{label} {spec!r} is neither a result file nor a run ID",
        hint="pass a JSON file written by `scan --json`, or a number from `history list`",
    )


def _first_seen(changes: Changes | None) -> dict[str, str]:
    if changes is None:
        return {}
    return {f"{c.rule}|{c.entity_key}": c.first_seen for c in changes.findings}


@with_output_options(rerender_only=False)
def diff_command(  # noqa: PLR0913 - one parameter per command-line option
    old: Annotated[str, typer.Argument(help="The earlier run: a JSON result or a run ID.")],
    new: Annotated[str, typer.Argument(help="The later run: a JSON result or a run ID.")],
    outputs: dict[str, Path | None] | None = None,
    history: HistoryOpt = None,
    config_path: ConfigOpt = None,
    fleet_path: FleetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Compare two runs: the before/after report a change ticket needs.

    Report options write NEW with the comparison (NEW must then be a JSON result).
    Exit codes: 0 no new or worsened findings, 1 there are some, 2 usage error, 3 failure.
    """
    from balloon_audit.history.compare import compare
    from balloon_audit.report.console_changes import render_changes
    from balloon_audit.report.writers import emit

    where = (history, config_path, fleet_path)
    old_view, _ = _side(old, where, "OLD")
    new_view, new_result = _side(new, where, "NEW")
    changes = compare(old_view, new_view)
    if not quiet:
        render_changes(changes, _stdout(), max_rows=10_000)
    files = {name: path for name, path in (outputs or {}).items() if path is not None}
    if files:
        if new_result is None:
            raise ConfigError(
                "reports need NEW as a JSON result (a stored run keeps no remediation advice)",
                hint="pass the JSON file that `scan --json` wrote for that run",
            )
        emitted = emit(
            dataclasses.replace(new_result, changes=changes), files, output_dir=None, quiet=True
        )
        if emitted.error is not None:
            raise emitted.error
    raise typer.Exit(ExitCode.FINDINGS if changes.has_new_or_worsened else ExitCode.OK)
