"""``balloon-audit vm NAME_OR_GLOB``: explain one VM's memory right now (see vmexplain.py).

Options, password handling, error handling and exit codes are the ones of ``scan``:
0 nothing at or above ``--fail-on``, 1 findings at or above it, 2 usage error (a name
that matches nothing, with suggestions; too many matches), 3 the vCenter could not be
read; ``--watch`` ends with 130 on Ctrl-C, after logging out.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from balloon_audit import audit
from balloon_audit.cli import app, err
from balloon_audit.cli_options import (
    CaBundleOpt,
    ConfigOpt,
    ConnectTimeoutOpt,
    DeadlineOpt,
    FailOn,
    FailOnOpt,
    InsecureOpt,
    NoPerfOpt,
    PasswordStdinOpt,
    PortOpt,
    ServerOpt,
    TimeoutOpt,
    UserOpt,
    command_line_targets,
)
from balloon_audit.errors import ConfigError, ExitCode
from balloon_audit.model import Severity
from balloon_audit.output_paths import check_output_files
from balloon_audit.report.terminal import safe
from balloon_audit.report.writers import check_distinct
from balloon_audit.vmexplain import SAMPLE_INTERVAL_S, VmReport, parse_since
from balloon_audit.vmmatch import MAX_VMS


def _since(value: str) -> str:
    try:
        parse_since(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value


PatternArg = Annotated[
    str,
    typer.Argument(
        metavar="NAME_OR_GLOB",
        help="The VM's name (exact; case-insensitive if nothing matches exactly) or a glob "
        f"such as 'web-*' (at most {MAX_VMS} matches).",
    ),
]
SinceOpt = Annotated[
    str,
    typer.Option(
        help="Live counters for this last window: 30m, 1h, 300s (20s..1h).", callback=_since
    ),
]
WatchOpt = Annotated[
    bool,
    typer.Option("--watch", help="Read again after every 20 s sample until Ctrl-C."),
]
JsonOpt = Annotated[
    Path | None,
    typer.Option(
        "--json", help="Write the report as JSON to FILE ('-': stdout only).", show_default=False
    ),
]
HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--html",
        help="Write the report as one self-contained HTML file (the scan report's style).",
        show_default=False,
    ),
]
VmReplayOpt = Annotated[
    Path | None,
    typer.Option(
        help="Explain the VM from a capture (--record of scan) instead of the network.",
        exists=True,
        dir_okay=False,
        show_default=False,
    ),
]


@app.command()
def vm(  # noqa: PLR0913 - one parameter per command-line option
    pattern: PatternArg,
    server: ServerOpt = None,
    port: PortOpt = 443,
    user: UserOpt = None,
    password_stdin: PasswordStdinOpt = False,
    insecure: InsecureOpt = False,
    ca_bundle: CaBundleOpt = None,
    timeout: TimeoutOpt = 300.0,
    connect_timeout: ConnectTimeoutOpt = 15.0,
    deadline: DeadlineOpt = 3600.0,
    since: SinceOpt = "30m",
    watch: WatchOpt = False,
    json_path: JsonOpt = None,
    html_path: HtmlOpt = None,
    replay: VmReplayOpt = None,
    config_path: ConfigOpt = None,
    no_perf: NoPerfOpt = False,
    fail_on: FailOnOpt = FailOn.warning,
) -> None:
    """Explain one VM's memory right now: where it went, live counters, and what to do.

    Reads only the VMs' names and then the matched VMs, their hosts, clusters, resource
    pools and the neighbours the diagnosis sums over; never the whole fleet.
    """
    json_file = json_path if str(json_path) != "-" else None
    check_distinct(json_file, html_path, replay)
    check_output_files([("--json", json_file), ("--html", html_path)])
    outputs = Outputs(json_path, html_path)
    config = audit.load_config(config_path)
    window = parse_since(since)
    if replay is not None:
        audit.check_replay_alone(server, None)
        if watch:
            raise ConfigError("--watch reads live counters: it cannot go with --replay")
        from balloon_audit.vmexplain import explain_replay

        report = explain_replay(replay, pattern, config)
        raise typer.Exit(_show(report, outputs, fail_on))
    if server and len(server) > 1:
        raise ConfigError("vm explains VMs of one vCenter: give one --server")
    limits = (connect_timeout, timeout, deadline)
    connect = audit.ConnectOptions(port, user, insecure, ca_bundle, *limits)
    targets = command_line_targets(server, connect, password_stdin)
    from balloon_audit.vmexplain import watch as reports

    interval = SAMPLE_INTERVAL_S if watch else None
    code: int = ExitCode.OK
    gen = reports(targets[0], pattern, config, since=window, perf=not no_perf, interval_s=interval)
    with closing(gen):
        for report in gen:
            code = _show(report, outputs, fail_on, clear=watch)
            if watch:
                err.print(f"[dim]reading again in {SAMPLE_INTERVAL_S} s; Ctrl-C stops[/]")
    raise typer.Exit(code)


@dataclass(frozen=True)
class Outputs:
    json: Path | None
    html: Path | None

    @property
    def json_on_stdout(self) -> bool:
        return self.json is not None and str(self.json) == "-"


def _show(report: VmReport, outputs: Outputs, fail_on: FailOn, *, clear: bool = False) -> int:
    """Write the files, print the report (unless JSON goes to stdout); the exit code."""
    from balloon_audit.report.vm_console import render_vm_report
    from balloon_audit.report.vm_html import write_vm_html
    from balloon_audit.report.vm_json import write_vm_json

    if outputs.html is not None:
        write_vm_html(report, outputs.html)
        err.print(f"wrote {safe(str(outputs.html))}")
    if outputs.json is not None:
        write_vm_json(report, outputs.json)
        if not outputs.json_on_stdout:
            err.print(f"wrote {safe(str(outputs.json))}")
    if not outputs.json_on_stdout:
        console = Console(highlight=False)
        if clear and console.is_terminal:
            console.clear()
        render_vm_report(report, console)
    if fail_on is FailOn.never:
        return ExitCode.OK
    threshold = Severity(fail_on.value)
    worst = [f for exp in report.explanations for f in exp.findings if f.severity >= threshold]
    return ExitCode.FINDINGS if worst else ExitCode.OK
