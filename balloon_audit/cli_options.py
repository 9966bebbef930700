"""Command-line options shared by the commands, and the output options the format registry adds."""

from __future__ import annotations

import enum
import functools
import getpass
import inspect
import math
import os
import shlex
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from balloon_audit.errors import ConfigError
from balloon_audit.history.urls import redact_urls

if TYPE_CHECKING:
    from balloon_audit.audit import ConnectOptions
    from balloon_audit.collect.target import Target

PASSWORD_ENV = "BALLOON_AUDIT_PASSWORD"


class FailOn(str, enum.Enum):
    """``--fail-on``: the severity from which ``scan`` exits 1, or ``never``."""

    info = "info"
    warning = "warning"
    critical = "critical"
    never = "never"
    new = "new"
    """Only findings that are new or worse since the previous run (needs the history)."""


class Level(str, enum.Enum):
    """A severity threshold without history (``check --warning-on``): a severity or ``never``."""

    info = "info"
    warning = "warning"
    critical = "critical"
    never = "never"


class Listing(str, enum.Enum):
    """``--min-severity``: the lowest severity the terminal lists."""

    info = "info"
    warning = "warning"
    critical = "critical"


MinSeverityOpt = Annotated[
    Listing,
    typer.Option(
        case_sensitive=False,
        help="List only findings at or above this on the terminal (reports keep all).",
    ),
]
SummaryOpt = Annotated[
    bool, typer.Option("--summary", help="Print the totals only, not the findings.")
]
ServerOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--server",
        "-s",
        metavar="HOST",
        envvar="BALLOON_AUDIT_SERVER",
        help="vCenter or ESXi host: name, name:port or https://user@name/sdk. Repeat for several.",
        show_default=False,
    ),
]


def output_dir_option(*, rerender_only: bool) -> Any:
    """``--output-dir``: every file format (of ``report``: those it re-renders), dated names."""
    from balloon_audit.report.formats import file_formats

    names = [f.name.upper() for f in file_formats(rerender_only=rerender_only, dated_only=True)]
    listed = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    return Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            help=f"Write {listed} with dated names (balloon-audit-YYYYmmdd-HHMMSS+ZZZZ.*, "
            "local time).",
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


PortOpt = Annotated[int, typer.Option(help="HTTPS port.", min=1, max=65535)]
UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user", "-u", envvar="BALLOON_AUDIT_USER", help="User name.", show_default=False
    ),
]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help=f"Read the password from stdin (else ${PASSWORD_ENV}, else a prompt).",
    ),
]
InsecureOpt = Annotated[
    bool, typer.Option("--insecure", "-k", help="Skip TLS certificate verification.")
]
CaBundleOpt = Annotated[
    Path | None,
    typer.Option(
        help="CA certificates (PEM) to verify the server with.", exists=True, dir_okay=False
    ),
]
FailOnOpt = Annotated[
    FailOn,
    typer.Option(case_sensitive=False, help="Exit 1 when a finding is at or above this."),
]
NoPerfOpt = Annotated[
    bool,
    typer.Option(
        "--no-perf",
        help="Do not read realtime counters (swapping VMs' swap rates, hosts' mem.state).",
    ),
]
RecordOpt = Annotated[
    Path | None,
    typer.Option(help="Also write a scrubbed capture (cassette) of this run.", show_default=False),
]
ReplayOpt = Annotated[
    Path | None,
    typer.Option(
        help="Audit from a capture instead of the network.",
        exists=True,
        dir_okay=False,
        show_default=False,
    ),
]


FleetOpt = Annotated[
    Path | None,
    typer.Option(
        "--fleet",
        envvar="BALLOON_AUDIT_FLEET",
        help="Fleet file: [[fleet]] entries with per-server credentials (docs/fleet.md).",
        show_default=False,
    ),
]
LabelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--label",
        help="Audit only the fleet entries with this KEY=VALUE label. Repeatable.",
        show_default=False,
    ),
]


def finite(value: float) -> float:
    """Reject ``nan`` (it passes every range check); ranges reject ``inf`` and ``1e12``."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter("must be a finite number of seconds")
    return value


TimeoutOpt = Annotated[
    float,
    typer.Option(
        help="Seconds for one whole API request (1-3600).", min=1, max=3600, callback=finite
    ),
]
ConnectTimeoutOpt = Annotated[
    float,
    typer.Option(
        help="Seconds to connect and log in, per step (1-600).", min=1, max=600, callback=finite
    ),
]
DeadlineOpt = Annotated[
    float,
    typer.Option(
        help="Seconds for one vCenter in all, login to logout (1-86400); "
        "after that it is reported as failed.",
        min=1,
        max=86400,
        callback=finite,
    ),
]


class NotifyOn(str, enum.Enum):
    """``--notify-on``: when the [notify] e-mail and webhooks are sent."""

    always = "always"
    findings = "findings"
    new = "new"


ScopeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        help="Audit only objects matching KIND=GLOB (datacenter, cluster, host, folder, pool, "
        "vm). Repeatable.",
        show_default=False,
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Leave out objects matching KIND=GLOB. Repeatable.",
                 show_default=False),
]  # fmt: skip
NotifyOnOpt = Annotated[
    NotifyOn | None,
    typer.Option(
        "--notify-on",
        case_sensitive=False,
        help="When to send the notify e-mail and webhooks (default: notify.on).",
        show_default=False,
    ),
]
KeepOpt = Annotated[
    int | None,
    typer.Option(help="Keep only the N newest runs in --output-dir.", min=1, show_default=False),
]
KeepDaysOpt = Annotated[
    float | None,
    typer.Option(
        help="Delete runs older than N days from --output-dir.",
        min=0,
        callback=finite,
        show_default=False,
    ),
]
WaitLockOpt = Annotated[
    float,
    typer.Option(
        help="Seconds to wait when another run is writing to --output-dir (default: exit 3).",
        min=0,
        max=86400,
        callback=finite,
    ),
]


def with_output_options(*, rerender_only: bool) -> Callable[[Callable], Callable]:
    """Give a command one ``--<format> PATH`` option per file format in the registry.

    The command declares ``outputs: dict[str, Path | None]``; it receives the paths by
    format name. A new format module adds its option here without a CLI edit. A
    parameter ``output_dir`` becomes ``--output-dir``, its help naming those formats.
    """
    from balloon_audit.report.formats import file_formats

    formats = file_formats(rerender_only=rerender_only)

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        keyword = inspect.Parameter.KEYWORD_ONLY
        options = [
            inspect.Parameter(
                f"{f.name}_path",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[
                    Path | None, typer.Option(f"--{f.name}", help=f.help, show_default=False)
                ],
            )
            for f in formats
        ]
        params: list[inspect.Parameter] = []
        for param in signature.parameters.values():
            if param.name == "outputs":
                params.extend(options)
            elif param.name == "output_dir":
                annotation = output_dir_option(rerender_only=rerender_only)
                params.append(param.replace(kind=keyword, annotation=annotation))
            else:
                params.append(param.replace(kind=keyword))

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            outputs = {f.name: kwargs.pop(f"{f.name}_path") for f in formats}
            return command(outputs=outputs, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


def command_line_targets(
    servers: list[str] | None, options: ConnectOptions, password_stdin: bool
) -> list[Target]:
    """One target per ``--server`` (or govc's environment), sharing one password that is
    read only once the server specs are valid."""
    from balloon_audit.audit import build_targets

    return build_targets(
        servers or [], options, lambda fallback: read_password(password_stdin, fallback)
    )


def read_password(password_stdin: bool, fallback: str | None = None) -> str:
    """The vCenter password: stdin when asked, else $BALLOON_AUDIT_PASSWORD, else
    ``fallback`` (the password in GOVC_URL/GOVC_PASSWORD), else a prompt."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ConfigError(
                "--password-stdin read an empty password",
                hint="pipe the password in, e.g. from a secrets file: --password-stdin < FILE",
            )
        return password
    from_env = os.environ.get(PASSWORD_ENV) or fallback
    if from_env:
        return from_env
    if sys.stdin.isatty():
        return getpass.getpass("vCenter password: ")
    raise ConfigError(
        "no password given",
        hint=f"set {PASSWORD_ENV}, use --password-stdin, or run from a terminal to be prompted",
    )


def run_by() -> dict[str, str]:
    """Who ran the audit, where, and with which command (recorded in the result)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {
        "user": user,
        "host": socket.gethostname(),
        "command": redact_urls(shlex.join(["balloon-audit", *sys.argv[1:]])),
    }
