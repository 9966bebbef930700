"""The `balloon-audit` command line: options, and one error handler that maps errors to exit codes.

What the commands do lives in :mod:`balloon_audit.audit`; how results look lives in the
output formats (:mod:`balloon_audit.report.formats`), which also give ``scan`` and
``report`` their ``--json``/``--html``/``--xlsx`` options.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from balloon_audit import __version__, audit, unattended
from balloon_audit.cli_entry import run_app
from balloon_audit.cli_lab import lab_app
from balloon_audit.cli_options import (
    CaBundleOpt,
    ConfigOpt,
    ConnectTimeoutOpt,
    DeadlineOpt,
    ExcludeOpt,
    FailOn,
    FailOnOpt,
    FleetOpt,
    InsecureOpt,
    KeepDaysOpt,
    KeepOpt,
    LabelOpt,
    Listing,
    MinSeverityOpt,
    NoPerfOpt,
    NotifyOnOpt,
    PasswordStdinOpt,
    PortOpt,
    QuietOpt,
    RecordOpt,
    ReplayOpt,
    ScopeOpt,
    ServerOpt,
    SummaryOpt,
    TimeoutOpt,
    UserOpt,
    WaitLockOpt,
    command_line_targets,
    run_by,
    with_output_options,
)
from balloon_audit.config_toml import rules_config_toml
from balloon_audit.errors import BalloonAuditError, ConfigError, ExitCode
from balloon_audit.history_cli import (
    HistoryOpt,
    NoHistoryOpt,
    check_history_options,
    diff_command,
    exit_code_with_history,
    history_app,
    history_choice,
    record_history,
)
from balloon_audit.model import AuditResult, Severity
from balloon_audit.output_paths import check_output_dir, check_output_files
from balloon_audit.report.console import listing
from balloon_audit.report.rules_text import render_rules
from balloon_audit.report.terminal import safe
from balloon_audit.report.writers import Emitted, check_distinct, emit


class _Commands(typer.core.TyperGroup):
    """Runs every command under the error handler: a project error prints one line and
    a hint, then exits with the error's own code (usage 2, audit incomplete 3)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BalloonAuditError as exc:
            _print_error(exc)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Commands,
    help="Audit vSphere VM memory reclamation: ballooning, compression, swapping, and why.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold passwords
    rich_markup_mode=None,  # plain click help: flags without a value placeholder ("<bool>")
)
app.add_typer(lab_app, name="lab")
app.add_typer(history_app, name="history")
app.command("diff")(diff_command)

err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line


def run() -> None:
    """Console-script entry point (exit codes beyond the commands': see cli_entry)."""
    run_app(app, err)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"balloon-audit {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """balloon-audit: a read-only vSphere memory auditor. It never changes anything."""


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None] | None]:
    """A progress callback updating a spinner on stderr, only when stderr is a terminal."""
    if quiet or not err.is_terminal:
        yield None
        return
    latest: dict[str, str] = {}  # one line per vCenter ("vc01: 3,000 of 10,000 VMs collected")
    with err.status("connecting…") as status:

        def show(message: str) -> None:
            source, _, text = message.partition(": ")
            latest[source] = text
            status.update("\n".join(safe(f"{name}: {line}") for name, line in latest.items()))

        yield show


def _output(result: AuditResult, outputs: dict[str, Path | None], **kwargs: Any) -> Emitted:
    """Write and show ``result``; report on stderr what was written."""
    emitted = emit(result, outputs, **kwargs)
    if not kwargs.get("quiet"):
        for path in emitted.written:
            err.print(f"wrote {safe(str(path))}")
    return emitted


def _check_outputs(outputs: dict[str, Path | None], output_dir: Path | None) -> None:
    """Every report has a folder to go to: checked before any vCenter is contacted."""
    check_output_files([(f"--{name}", path) for name, path in outputs.items()])
    check_output_dir(output_dir)


def _print_error(error: BalloonAuditError) -> None:
    err.print(f"[bold red]error:[/] {safe(str(error))}")
    if error.hint:
        err.print(f"[dim]hint:[/] {safe(error.hint)}")


@app.command()
@with_output_options(rerender_only=False)
def scan(  # noqa: PLR0913 - one parameter per command-line option
    server: ServerOpt = None,
    port: PortOpt = 443,
    user: UserOpt = None,
    password_stdin: PasswordStdinOpt = False,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
    timeout: TimeoutOpt = 300.0,
    connect_timeout: ConnectTimeoutOpt = 15.0,
    deadline: DeadlineOpt = 3600.0,
    outputs: dict[str, Path | None] | None = None,
    output_dir: Path | None = None,
    fail_on: FailOnOpt = FailOn.warning,
    quiet: QuietOpt = False,
    config_path: ConfigOpt = None,
    no_perf: NoPerfOpt = False,
    record: RecordOpt = None,
    replay: ReplayOpt = None,
    fleet_path: FleetOpt = None,
    label: LabelOpt = None,
    history: HistoryOpt = None,
    no_history: NoHistoryOpt = False,
    min_severity: MinSeverityOpt = Listing.info,
    summary: SummaryOpt = False,
    scope_items: ScopeOpt = None,
    exclude_items: ExcludeOpt = None,
    notify_on: NotifyOnOpt = None,
    keep: KeepOpt = None,
    keep_days: KeepDaysOpt = None,
    wait_lock: WaitLockOpt = 0.0,
    # typer passes the context (for the output directory's lock)
    ctx: typer.Context = None,  # type: ignore[assignment]
) -> None:
    """Audit one or more vCenters and print a summary; optionally write reports.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
    2 usage or configuration error, 3 the audit could not be completed.
    """
    outputs = outputs or {}
    check_distinct(*outputs.values(), record, replay)
    _check_outputs(outputs, output_dir)
    unattended.lock_output_dir(ctx, output_dir, wait_lock, (keep, keep_days))
    config = audit.load_config(config_path)
    history_in = history_choice(no_history, history, config, fleet_path)
    check_history_options(history_in, fail_on)
    unattended.check_notify(config, fleet_path, notify_on)
    capture = None
    with _progress(quiet) as progress:
        run = audit.RunOptions(perf=not no_perf, progress=progress, run_by=run_by())
        if replay is not None:
            audit.check_replay_alone(server, record)
            result = audit.replay(replay, config, run)
        else:
            fleet = audit.select_fleet(fleet_path, config, server, label or [])
            if fleet:
                targets = audit.fleet_targets(fleet)
            else:
                limits = (connect_timeout, timeout, deadline)
                connect = audit.ConnectOptions(port, user, insecure, ca_bundle, *limits)
                targets = command_line_targets(server, connect, password_stdin)
            targets = unattended.with_scope(targets, config, scope_items, exclude_items)
            with audit.recording(record, targets) as capture:
                result = audit.scan(targets, config, run, capture=capture, fleet=fleet)
    result, history_error = record_history(result, history_in)
    # --notify-on new compares with the output directory's latest result only without history
    previous = unattended.previous_result(output_dir) if result.changes is None else None
    with listing(Severity(min_severity.value), summary_only=summary):
        emitted = _output(result, outputs, output_dir=output_dir, quiet=quiet)
    kept = unattended.after_dated(output_dir, emitted.written, (keep, keep_days), quiet, err)
    notified = unattended.notify(
        config, fleet_path, notify_on, (result, emitted.written, previous), quiet, err
    )
    for source in result.sources:
        if not source.ok:
            err.print(f"[bold red]error:[/] {safe(source.server)}: {safe(source.error or '')}")
    capture_error = capture.error if capture is not None else None
    problems = [
        p for p in (capture_error, emitted.error, history_error, kept, notified) if p is not None
    ]
    for problem in problems:
        _print_error(problem)
    code = exit_code_with_history(
        result, fail_on, incomplete=bool(problems), stdout_closed=emitted.stdout_closed
    )
    if code == ExitCode.STDOUT_CLOSED:
        err.print("[bold red]error:[/] standard output was closed before all was written to it")
        err.print("[dim]hint:[/] report files were written first; or use --json FILE")
    unattended.quiet_summary(quiet, code, result, fail_on, output_dir, err)
    raise typer.Exit(code)


@app.command()
@with_output_options(rerender_only=True)
def report(
    result_file: Annotated[
        Path,
        typer.Argument(help="A JSON result written by `scan --json`.", exists=True, dir_okay=False),
    ],
    outputs: dict[str, Path | None] | None = None,
    output_dir: Path | None = None,
    quiet: QuietOpt = False,
) -> None:
    """Re-render HTML and Excel reports from a saved JSON result, offline."""
    outputs = outputs or {}
    if output_dir is None and not any(outputs.values()):
        options = ", ".join(f"--{name}" for name in outputs)
        raise ConfigError(f"nothing to write: pass {options} or --output-dir")
    check_distinct(result_file, *outputs.values())
    _check_outputs(outputs, output_dir)
    result = audit.load_result(result_file)
    emitted = _output(result, outputs, output_dir=output_dir, quiet=quiet, rerender_only=True)
    if emitted.error is not None:
        raise emitted.error


@app.command("rules")
def list_rules(
    config_path: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
    as_toml: Annotated[
        bool,
        typer.Option(
            "--toml",
            help="Print a complete, commented configuration file with the values in force "
            "(--config accepts it as is).",
        ),
    ] = False,
) -> None:
    """List the rule catalogue with the thresholds in force (in TOML form)."""
    config = audit.load_config(config_path)
    if as_toml:
        typer.echo(rules_config_toml(config), nl=False)
        return
    rows = audit.rule_catalogue(config)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    render_rules(rows, Console(highlight=False))


# Registered last: they add their commands to `app`.
from balloon_audit import cli_check, cli_vm  # noqa: E402, F401, I001
