"""The `balloon-audit` command line: parse options, call the core, render, map to an exit code."""

from __future__ import annotations

import contextlib
import enum
import getpass
import math
import os
import shlex
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from balloon_audit import __version__
from balloon_audit.errors import BalloonAuditError, ConfigError, ReportError
from balloon_audit.model import AuditResult, Severity
from balloon_audit.report.terminal import safe

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_FAILED = 3

PASSWORD_ENV = "BALLOON_AUDIT_PASSWORD"

app = typer.Typer(
    help="Audit vSphere VM memory reclamation: ballooning, compression, swapping, and why.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold passwords
    rich_markup_mode="rich",
)
lab_app = typer.Typer(help="Start and stop a vcsim test lab loaded with a scenario.")
app.add_typer(lab_app, name="lab")

err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line


class FailOn(str, enum.Enum):
    info = "info"
    warning = "warning"
    critical = "critical"
    never = "never"


class NotifyOn(str, enum.Enum):
    always = "always"
    findings = "findings"
    new = "new"


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


EXIT_STDOUT_CLOSED = 141
"""128 + SIGPIPE, as a shell reports a pipeline member killed by a closed pipe."""


def run() -> None:
    """Console-script entry point: an unexpected error exits 3, never 1 ("findings").

    The traceback is hidden (it could show values from the user's inventory or
    environment); set BALLOON_AUDIT_DEBUG=1 to see it (the exit code stays 3).
    SIGINT / SIGTERM exit 130 / 143; a standard output closed early exits 141 (scan).
    """
    from balloon_audit.interrupts import Interrupted, handle_signals

    _tolerant_console()
    try:
        with handle_signals():
            code = app(prog_name="balloon-audit", standalone_mode=False)
        sys.exit(code or 0)
    except _CLICK_ERROR as exc:
        _usage_error(exc)
    except typer.Abort:
        sys.exit(EXIT_FAILED)
    except Interrupted as exc:
        err.print(f"[bold red]error:[/] {exc.name} received: stopped, nothing more was written")
        err.print("[dim]hint:[/] reports written before the signal are complete; no partial file")
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("BALLOON_AUDIT_DEBUG"):
            import traceback

            traceback.print_exc()
            sys.exit(EXIT_FAILED)
        first_line = (str(exc).splitlines() or [""])[0][:300]
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {safe(first_line)}")
        err.print(
            "[dim]hint:[/] this is a bug in balloon-audit; run again with BALLOON_AUDIT_DEBUG=1 "
            "for the traceback and report it"
        )
        sys.exit(EXIT_FAILED)


# Click's error classes, found without importing click (typer may vendor it).
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_USAGE_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def _usage_error(exc: Exception) -> None:
    """A command-line mistake: one ``error:`` line and a hint, exit 2."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()  # prints the help
        sys.exit(EXIT_USAGE)
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and ctx.info_name == "check":  # a monitoring plugin: UNKNOWN
        from balloon_audit.check import unknown_output

        sys.stdout.write(unknown_output(exc.format_message()))  # type: ignore[attr-defined]
        sys.exit(3)
    err.print(f"[bold red]error:[/] {safe(exc.format_message())}")  # type: ignore[attr-defined]
    where = ctx.command_path if ctx is not None else "balloon-audit"
    err.print(f"[dim]hint:[/] see '{safe(where)} --help'")
    sys.exit(exc.exit_code if isinstance(exc, _USAGE_ERROR) else EXIT_USAGE)


def _tolerant_console() -> None:
    """A console that cannot encode a character shows a replacement, never aborts the run."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")


class _StdoutConsole(Console):
    """Rich exits 1 on a broken pipe; here the scan decides (exit 141, reports kept)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def _silence_stdout() -> None:
    """Standard output was closed by its reader: send the rest (and the exit flush) nowhere."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def fail(error: BalloonAuditError, code: int) -> typer.Exit:
    """Print a project error (one line plus hint) to stderr and return the Exit to raise."""
    _print_error(error)
    return typer.Exit(code)


def _print_error(error: BalloonAuditError) -> None:
    err.print(f"[bold red]error:[/] {safe(str(error))}")
    if error.hint:
        err.print(f"[dim]hint:[/] {safe(error.hint)}")


def _read_password(password_stdin: bool, govc_password: str | None = None) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ConfigError(
                "--password-stdin read an empty password",
                hint="pipe the password in, e.g. from a secrets file: --password-stdin < FILE",
            )
        return password
    from_env = os.environ.get(PASSWORD_ENV) or govc_password
    if from_env:
        return from_env
    if sys.stdin.isatty():
        return getpass.getpass("vCenter password: ")
    raise ConfigError(
        "no password given",
        hint=f"set {PASSWORD_ENV}, use --password-stdin, or run from a terminal to be prompted",
    )


def _run_by() -> dict[str, str]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {
        "user": user,
        "host": socket.gethostname(),
        "command": shlex.join(["balloon-audit", *sys.argv[1:]]),
    }


def _progress(quiet: bool) -> tuple[Callable[[str], None] | None, object | None]:
    """A progress callback that updates a spinner on stderr, only when stderr is a terminal."""
    if quiet or not err.is_terminal:
        return None, None
    status = err.status("connecting…")
    status.start()
    latest: dict[str, str] = {}  # one line per vCenter ("vc01: 3,000 of 10,000 VMs collected")

    def show(message: str) -> None:
        source, _, text = message.partition(": ")
        latest[source] = text
        status.update("\n".join(safe(f"{name}: {line}") for name, line in latest.items()))

    return show, status


def _exit_code(result: AuditResult, fail_on: FailOn) -> int:
    if any(not source.ok for source in result.sources):
        return EXIT_FAILED
    if fail_on is FailOn.never:
        return EXIT_OK
    threshold = Severity(fail_on.value)
    return EXIT_FINDINGS if any(f.severity >= threshold for f in result.findings) else EXIT_OK


def _write_reports(
    result: AuditResult,
    *,
    json_path: Path | None,
    html_path: Path | None,
    xlsx_path: Path | None,
    output_dir: Path | None,
    quiet: bool,
    kinds: tuple[str, ...] = ("json", "html", "xlsx"),
    extra: tuple[tuple[str, Path | None], ...] = (),
    retention: tuple[int | None, float | None] | None = None,
) -> list[Path]:
    from balloon_audit.report.writers import dated_paths, write_reports

    targets: list[tuple[str, Path]] = []
    for kind, path in (("json", json_path), ("html", html_path), ("xlsx", xlsx_path), *extra):
        if path is not None:
            targets.append((kind, path))
    failure: ReportError | None = None
    with contextlib.ExitStack() as stack:
        if output_dir is not None:
            try:
                dated = stack.enter_context(dated_paths(output_dir, result.generated_at))
                targets[:0] = [(kind, dated[kind]) for kind in kinds]
            except ReportError as exc:  # the other outputs are still written
                failure = exc
        try:
            written = write_reports(result, targets)
            if output_dir is not None and retention is not None:  # scan: latest, retention
                _after_dated(output_dir, written, retention, quiet)
        except ReportError as exc:
            failure = ReportError(f"{failure}; {exc}", hint=failure.hint) if failure else exc
            written = []
    if not quiet:
        for path in written:
            err.print(f"wrote {safe(str(path))}")
    if failure is not None:
        raise failure
    return written


def _after_dated(
    output_dir: Path, written: list[Path], retention: tuple[int | None, float | None], quiet: bool
) -> None:
    """``latest`` pointers to this run's dated files; then --keep / --keep-days retention."""
    from balloon_audit.cron import point_latest, prune

    point_latest([p for p in written if p.parent == output_dir])
    keep, keep_days = retention
    if keep is None and keep_days is None:
        return
    for path in prune(output_dir, keep=keep, keep_days=keep_days, protect=written):
        if not quiet:
            err.print(f"deleted {safe(str(path))} (retention)")


ServerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--server",
        "-s",
        envvar="BALLOON_AUDIT_SERVER",
        help="vCenter or ESXi host: name, name:port or https://user@name/sdk. Repeat for several.",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    Path | None,
    typer.Option("--json", help="Write the JSON result here ('-' for stdout).", show_default=False),
]
HtmlOpt = Annotated[
    Path | None, typer.Option("--html", help="Write the HTML report here.", show_default=False)
]
XlsxOpt = Annotated[
    Path | None, typer.Option("--xlsx", help="Write the Excel workbook here.", show_default=False)
]
OutputDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--output-dir",
        help="Write JSON, HTML and XLSX with dated names (balloon-audit-YYYYmmdd-HHMMSS.*).",
        show_default=False,
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print nothing but errors (for cron).")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML configuration: thresholds, rules, waivers. "
        "Default: $BALLOON_AUDIT_CONFIG or ~/.config/balloon-audit/config.toml if present.",
        show_default=False,
    ),
]


def _finite(value: float) -> float:
    """Reject ``nan`` (it passes every range check); ranges reject ``inf`` and ``1e12``."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter("must be a finite number of seconds")
    return value


def _distinct_outputs(*paths: Path | None) -> None:
    """Two outputs (or an output and the input) naming one file would overwrite each other."""
    seen: dict[str, Path] = {}
    for path in paths:
        if path is None or str(path) == "-" or str(path).startswith("/dev/"):
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise ConfigError(
                f"{seen[key]} and {path} are the same file",
                hint="give each of --json, --html, --xlsx and --record its own file name, "
                "and never the input file",
            )
        seen[key] = path


def _load_config(path: Path | None):
    from balloon_audit.config_file import default_config_path, load_config

    return load_config(path if path is not None else default_config_path())


@app.command()
def scan(
    ctx: typer.Context,
    server: ServerOpt = None,
    port: Annotated[int, typer.Option(help="HTTPS port.", min=1, max=65535)] = 443,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", "-u", envvar="BALLOON_AUDIT_USER", help="User name.", show_default=False
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help=f"Read the password from stdin (else ${PASSWORD_ENV}, else a prompt).",
        ),
    ] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", "-k", help="Skip TLS certificate verification.")
    ] = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            help="CA certificates (PEM) to verify the server with.", exists=True, dir_okay=False
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            help="Seconds for one whole API request (1-3600).", min=1, max=3600, callback=_finite
        ),
    ] = 300.0,
    connect_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds to connect and log in, per step (1-600).",
            min=1,
            max=600,
            callback=_finite,
        ),
    ] = 15.0,
    deadline: Annotated[
        float,
        typer.Option(
            help="Seconds for one vCenter in all, login to logout (1-86400); "
            "after that it is reported as failed.",
            min=1,
            max=86400,
            callback=_finite,
        ),
    ] = 3600.0,
    json_path: JsonOpt = None,
    html_path: HtmlOpt = None,
    xlsx_path: XlsxOpt = None,
    output_dir: OutputDirOpt = None,
    fail_on: Annotated[
        FailOn,
        typer.Option(case_sensitive=False, help="Exit 1 when a finding is at or above this."),
    ] = FailOn.warning,
    quiet: QuietOpt = False,
    config_path: ConfigOpt = None,
    no_perf: Annotated[
        bool,
        typer.Option("--no-perf", help="Do not read swap-rate counters for swapping VMs."),
    ] = False,
    record: Annotated[
        Path | None,
        typer.Option(
            help="Also write a scrubbed capture (cassette) of this run.", show_default=False
        ),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            help="Audit from a capture instead of the network.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    fleet_path: Annotated[
        Path | None,
        typer.Option(
            "--fleet",
            envvar="BALLOON_AUDIT_FLEET",
            help="Fleet file: [[fleet]] entries with per-server credentials (docs/fleet.md).",
            show_default=False,
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            help="Audit only the fleet entries with this KEY=VALUE label. Repeatable.",
            show_default=False,
        ),
    ] = None,
    scope_items: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="Audit only objects matching KIND=GLOB (datacenter, cluster, host, folder, "
            "pool, vm). Repeatable.",
            show_default=False,
        ),
    ] = None,
    exclude_items: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            help="Leave out objects matching KIND=GLOB. Repeatable.",
            show_default=False,
        ),
    ] = None,
    prometheus_path: Annotated[
        Path | None,
        typer.Option(
            "--prometheus",
            help="Write Prometheus metrics here (node_exporter textfile collector, *.prom).",
            show_default=False,
        ),
    ] = None,
    csv_path: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Write the findings as CSV here, and the VMs beside it (NAME-vms.csv).",
            show_default=False,
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            help="Keep only the N newest runs in --output-dir.", min=1, show_default=False
        ),
    ] = None,
    keep_days: Annotated[
        float | None,
        typer.Option(
            help="Delete runs older than N days from --output-dir.",
            min=0,
            callback=_finite,
            show_default=False,
        ),
    ] = None,
    notify_on: Annotated[
        NotifyOn | None,
        typer.Option(
            "--notify-on",
            case_sensitive=False,
            help="When to send the [notify] e-mail and webhooks (default: the file's 'on').",
            show_default=False,
        ),
    ] = None,
    wait_lock: Annotated[
        float,
        typer.Option(
            help="Seconds to wait when another run is writing to --output-dir (default: exit).",
            min=0,
            max=86400,
            callback=_finite,
        ),
    ] = 0.0,
) -> None:
    """Audit one or more vCenters and print a summary; optionally write reports.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
    2 usage or configuration error, 3 the audit could not be completed.
    """
    from balloon_audit.engine import evaluate
    from balloon_audit.fleet_file import label_sources

    capture_error: BalloonAuditError | None = None
    try:
        _distinct_outputs(
            None if json_path is None else json_path,
            html_path,
            xlsx_path,
            record,
            replay,
            prometheus_path,
            csv_path,
        )
        _lock_output_dir(ctx, output_dir, wait_lock, retention=(keep, keep_days))
        config = _load_config(config_path)
        _check_notify(config, fleet_path, notify_on)
        if replay is not None:
            _replay_alone(server, record)
            snapshot = _collect_replay(replay, quiet=quiet, perf=not no_perf)
        else:
            fleet = _fleet(fleet_path, config, server, label)
            targets = _fleet_or_targets(
                fleet,
                server,
                port,
                user,
                password_stdin,
                insecure,
                ca_bundle,
                (timeout, connect_timeout, deadline),
            )
            targets = _with_scope(targets, config, scope_items, exclude_items)
            snapshot, capture_error = _collect_live(
                targets, record=record, quiet=quiet, perf=not no_perf
            )
            snapshot = label_sources(snapshot, fleet)
    except ConfigError as exc:
        raise fail(exc, EXIT_USAGE) from None
    except BalloonAuditError as exc:
        raise fail(exc, EXIT_FAILED) from None

    result = evaluate(snapshot, config, run_by=_run_by())
    stdout_json = json_path is not None and str(json_path) == "-"
    report_error: BalloonAuditError | None = None
    previous = _previous_result(output_dir)
    written: list[Path] = []
    try:  # the reports first: a console that fails must not cost them
        written = _write_reports(
            result,
            json_path=None if stdout_json else json_path,
            html_path=html_path,
            xlsx_path=xlsx_path,
            output_dir=output_dir,
            quiet=quiet,
            extra=(("prometheus", prometheus_path), ("csv", csv_path)),
            retention=(keep, keep_days),
        )
    except BalloonAuditError as exc:
        report_error = exc
    notify_error = _notify(config, fleet_path, notify_on, (result, written, previous), quiet)
    stdout_closed = False
    try:
        if stdout_json:
            from balloon_audit.report.json_result import result_to_json

            sys.stdout.write(result_to_json(result))
            sys.stdout.flush()
        elif not quiet:
            from balloon_audit.report.console import render_console

            render_console(result, _StdoutConsole(highlight=False))
            sys.stdout.flush()
    except BrokenPipeError:
        stdout_closed = True
        _silence_stdout()
    for source in result.sources:
        if not source.ok:
            err.print(f"[bold red]error:[/] {safe(source.server)}: {safe(source.error or '')}")
    problems = [p for p in (capture_error, report_error, notify_error) if p is not None]
    for problem in problems:
        _print_error(problem)
    code = EXIT_FAILED if problems else _exit_code(result, fail_on)
    if stdout_closed and code != EXIT_FAILED:
        err.print("[bold red]error:[/] standard output was closed before all was written to it")
        err.print("[dim]hint:[/] report files were written first; or use --json FILE")
        code = EXIT_STDOUT_CLOSED
    _quiet_summary(quiet, code, result, fail_on, output_dir)
    raise typer.Exit(code)


def _quiet_summary(quiet: bool, code: int, result, fail_on: FailOn, output_dir) -> None:
    """A quiet run that exits non-zero still says why, in one line (cron mails it)."""
    if quiet and code != EXIT_OK:
        from balloon_audit.cron import summary_line

        err.print(safe(summary_line(result, code, fail_on.value, output_dir)))


def _previous_result(output_dir: Path | None):
    """The last run's result in --output-dir (its ``latest`` JSON), for ``--notify-on new``."""
    from balloon_audit.cron import LATEST_STEM

    latest = output_dir / f"{LATEST_STEM}.json" if output_dir is not None else None
    if latest is None or not latest.exists():
        return None
    try:
        from balloon_audit.report.json_result import read_result

        return read_result(latest)
    except BalloonAuditError:
        return None  # a damaged previous result: every finding counts as new


def _check_notify(config, fleet_path: Path | None, notify_on) -> None:
    """--notify-on needs a [notify] table: a usage error, found before contacting anything."""
    from balloon_audit.fleet_file import load_fleet_file

    if notify_on is None or config.notify is not None:
        return
    if fleet_path is None or load_fleet_file(fleet_path).notify is None:
        raise ConfigError(
            "--notify-on needs a [notify] table",
            hint="add [notify] to the configuration or the fleet file (docs/notify.md)",
        )


def _notify(config, fleet_path: Path | None, notify_on, run, quiet: bool):
    """Send the [notify] e-mail and webhooks when due; the error, if delivery failed.

    ``run`` is (result, report paths written, the previous run's result or None).
    """
    from balloon_audit.fleet_file import load_fleet_file
    from balloon_audit.notify import NotifyError, deliver, should_notify

    result, written, previous = run
    reports = {path.suffix.lstrip("."): path for path in written}
    try:
        section = config.notify or (load_fleet_file(fleet_path).notify if fleet_path else None)
        if section is None:
            return None
        if not should_notify(notify_on.value if notify_on else section.on, result, previous):
            return None
        sent = deliver(section, result, reports, os.environ)
    except (NotifyError, ConfigError) as exc:
        return exc
    if not quiet:
        err.print(f"notified: {', '.join(sent)}")
    return None


def _lock_output_dir(
    ctx: typer.Context,
    output_dir: Path | None,
    wait_s: float,
    retention: tuple[int | None, float | None],
) -> None:
    """One run at a time per --output-dir: held until the command ends."""
    from balloon_audit.cron import LockBusyError, run_lock

    if output_dir is None:
        if retention != (None, None):
            raise ConfigError("--keep and --keep-days apply to --output-dir", hint="add one")
        return
    try:
        ctx.with_resource(run_lock(output_dir, wait_s))
    except LockBusyError as exc:
        raise fail(exc, EXIT_FAILED) from None


def _replay_alone(server: list[str] | None, record: Path | None) -> None:
    """--replay audits a capture: options that pick or record servers cannot apply."""
    for name, given in (("--server", server), ("--record", record)):
        if given:
            raise ConfigError(
                f"--replay cannot be combined with {name}",
                hint="a capture names its own servers; record and replay in separate runs",
            )


def _with_scope(targets, config, include: list[str] | None, exclude: list[str] | None):
    """Targets limited to the configuration's [scope] plus --scope / --exclude."""
    import dataclasses

    from balloon_audit.scope import merge, parse_scope

    scope = merge(config.scope or parse_scope([], []), parse_scope(include or [], exclude or []))
    return [dataclasses.replace(t, scope=scope) for t in targets] if scope else targets


def _fleet_or_targets(fleet, *target_options):
    """The fleet's targets, or (no fleet) those of --server / GOVC_URL and the shared password."""
    from balloon_audit.fleet_file import fleet_targets

    return fleet_targets(fleet) if fleet else _targets(*target_options)


def _fleet(path: Path | None, config, server: list[str] | None, labels: list[str] | None):
    """The fleet entries to audit, passwords fetched; empty when --server is given."""
    from balloon_audit.fleet_file import fetch_passwords, load_fleet, select

    if server:
        if labels:
            raise ConfigError("--label selects fleet entries: it cannot go with --server")
        return []
    entries = load_fleet(path) if path is not None else config.fleet
    if labels:
        if not entries:
            raise ConfigError("--label needs a fleet", hint="pass --fleet FILE (docs/fleet.md)")
        entries = select(entries, labels)
    return fetch_passwords(entries)


def _targets(server, port, user, password_stdin, insecure, ca_bundle, limits):
    from balloon_audit.collect import Target, parse_server
    from balloon_audit.govc_env import read_govc_env

    timeout, connect_timeout, deadline = limits
    govc = read_govc_env()
    if not server and govc.server:
        server = [govc.server]
    if not server:
        raise ConfigError(
            "no server given",
            hint="pass --server vcenter.example.com (repeatable), --fleet FILE, or set GOVC_URL",
        )
    parsed = [parse_server(spec) for spec in server]
    user = user or govc.user
    users = {u for _, _, u in parsed if u} | ({user} if user else set())
    if not users:
        raise ConfigError(
            "no user given",
            hint="pass --user, set BALLOON_AUDIT_USER or GOVC_USERNAME, "
            "or use https://user@host/sdk",
        )
    insecure = insecure or govc.insecure
    ca_bundle = ca_bundle or govc.ca_bundle
    if ca_bundle is not None and not insecure:
        _check_ca_bundle(ca_bundle)
    password = _read_password(password_stdin, govc.password)
    return [
        Target(
            server=host,
            port=host_port or port,
            user=url_user or user or "",
            password=password,
            insecure=insecure,
            ca_bundle=ca_bundle,
            connect_timeout_s=connect_timeout,
            request_timeout_s=timeout,
            deadline_s=deadline,
        )
        for host, host_port, url_user in parsed
    ]


def _check_ca_bundle(path: Path) -> None:
    """A CA bundle without a PEM certificate is a usage error, found before connecting."""
    import ssl

    try:
        ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or "no certificate"
        raise ConfigError(
            f"--ca-bundle {path} holds no usable PEM certificate ({reason})",
            hint="pass the vCenter's CA certificate(s) in PEM format (-----BEGIN CERTIFICATE-----)",
        ) from None


def _collect_live(targets, *, record: Path | None, quiet: bool, perf: bool):
    """The snapshot, and the error of writing the capture (the audit is kept regardless)."""
    from balloon_audit.collect import collect_all

    progress, status = _progress(quiet)
    snapshot = None
    try:
        if record is None:
            # "N of M VMs" costs one request per vCenter: only when someone watches
            watched = progress is not None
            return collect_all(targets, progress=progress, perf=perf, count_vms=watched), None
        from balloon_audit.collect.capture import check_capture_path, recording

        check_capture_path(record)
        with recording(record, servers=targets):
            snapshot = collect_all(targets, progress=progress, perf=perf)
        return snapshot, None
    except ReportError as exc:
        if snapshot is None:
            raise
        return snapshot, exc
    finally:
        if status is not None:
            status.stop()


def _collect_replay(path: Path, *, quiet: bool, perf: bool):
    from balloon_audit.collect.capture import replay_snapshot

    progress, status = _progress(quiet)
    try:
        return replay_snapshot(path, progress=progress, perf=perf)
    finally:
        if status is not None:
            status.stop()


@app.command()
def report(
    result_file: Annotated[
        Path,
        typer.Argument(help="A JSON result written by `scan --json`.", exists=True, dir_okay=False),
    ],
    html_path: HtmlOpt = None,
    xlsx_path: XlsxOpt = None,
    output_dir: OutputDirOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Re-render HTML and Excel reports from a saved JSON result, offline."""
    from balloon_audit.report.json_result import read_result

    if html_path is None and xlsx_path is None and output_dir is None:
        err.print("[bold red]error:[/] nothing to write: pass --html, --xlsx or --output-dir")
        raise typer.Exit(EXIT_USAGE)
    try:
        _distinct_outputs(result_file, html_path, xlsx_path)
        result = read_result(result_file)
    except BalloonAuditError as exc:
        raise fail(exc, EXIT_USAGE) from None
    try:
        _write_reports(
            result,
            json_path=None,
            html_path=html_path,
            xlsx_path=xlsx_path,
            output_dir=output_dir,
            quiet=quiet,
            kinds=("html", "xlsx"),
        )
    except BalloonAuditError as exc:
        raise fail(exc, EXIT_FAILED) from None


@app.command("rules")
def list_rules(
    config_path: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
) -> None:
    """List the rule catalogue with the thresholds in force."""
    import json

    from balloon_audit.config_file import describe_thresholds
    from balloon_audit.rules.registry import get_rule

    try:
        config = _load_config(config_path)
    except BalloonAuditError as exc:
        raise fail(exc, EXIT_USAGE) from None
    settings = describe_thresholds(config)
    if as_json:
        rows = [
            {
                "id": s.rule,
                "name": s.name,
                "severity": s.severity.value,
                "enabled": s.enabled,
                "checks": get_rule(s.rule).meta.checks,
                "scope": get_rule(s.rule).meta.scope,
                "thresholds": s.params,
                "overridden": sorted(s.overridden),
            }
            for s in settings
        ]
        typer.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    table = Table(show_edge=False)
    for column in ("ID", "name", "severity"):
        table.add_column(column, no_wrap=True)
    for column in ("checks", "thresholds (* = from config)"):
        table.add_column(column, overflow="fold")
    for s in settings:
        thresholds = ", ".join(
            f"{k}={v}{'*' if k in s.overridden else ''}" for k, v in s.params.items()
        )
        name = s.name if s.enabled else f"{s.name} [dim](disabled)[/]"
        table.add_row(
            s.rule, name, s.severity.value, escape(get_rule(s.rule).meta.checks), escape(thresholds)
        )
    Console(highlight=False).print(table)


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
        table.add_row(name, escape(description))
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
    import json

    from balloon_audit.lab import lab_up

    try:
        instance = lab_up(scenario, _state_dir(state_dir), progress=_lab_progress(as_json))
    except BalloonAuditError as exc:
        raise fail(exc, EXIT_FAILED) from None
    if as_json:
        typer.echo(json.dumps(instance.to_json(), indent=2, sort_keys=True))
        return
    typer.echo(
        f"lab '{instance.scenario.name}' is up at {instance.url} (pid {instance.pid}); "
        "vcsim accepts any user and password:\n\n"
        "  export BALLOON_AUDIT_PASSWORD=any\n"
        f"  balloon-audit scan -s {instance.server} -u lab --insecure --output-dir reports\n\n"
        "Stop it with: balloon-audit lab down"
    )


def _lab_progress(quiet: bool) -> Callable[[str], None] | None:
    if quiet:
        return None
    return lambda message: err.print(f"[dim]lab:[/] {escape(message)}")


@lab_app.command("status")
def lab_status_command(state_dir: StateDirOpt = None) -> None:
    """Show the running lab, if any (exit 1 when none is running)."""
    from balloon_audit.lab import lab_status

    instance = lab_status(_state_dir(state_dir))
    if instance is None:
        typer.echo("no lab is running")
        raise typer.Exit(1)
    typer.echo(f"lab '{instance.scenario.name}' at {instance.url} (pid {instance.pid})")


@lab_app.command("down")
def lab_down_command(state_dir: StateDirOpt = None) -> None:
    """Stop the running lab."""
    from balloon_audit.lab import lab_down

    stopped = lab_down(_state_dir(state_dir))
    typer.echo("lab stopped" if stopped else "no lab was running")


from balloon_audit import cli_check  # noqa: E402, F401 - registers `balloon-audit check`
