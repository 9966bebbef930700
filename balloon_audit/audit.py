"""The application service: what the ``balloon-audit`` commands do, without a command line.

``scan`` and ``replay`` collect a snapshot (from vCenters, or offline from a capture),
evaluate the rules and return an :class:`~balloon_audit.model.AuditResult`;
``exit_code`` is the exit policy; ``rule_catalogue`` is what ``rules --json`` prints.
The CLI parses options, asks for the password, renders, and maps errors to exit codes.
Heavy layers (pyVmomi, vcrpy) are imported only by the function that needs them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balloon_audit.errors import ConfigError, ExitCode, FailureKind, ReportError
from balloon_audit.model import AuditResult, Severity, Snapshot, SourceInfo, SourceStatus

if TYPE_CHECKING:
    from balloon_audit.collect.target import Target
    from balloon_audit.config import Config
    from balloon_audit.fleet_file import FleetSource
    from balloon_audit.govc_env import GovcSettings

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach the servers of a scan; a ``--server`` spec may override port and user."""

    port: int = 443
    user: str | None = None
    insecure: bool = False
    ca_bundle: Path | None = None
    connect_timeout_s: float = 15.0
    request_timeout_s: float = 300.0
    deadline_s: float = 3600.0
    """Longest time for one server in all, login to logout."""


@dataclass(frozen=True)
class RunOptions:
    """What every audit run takes besides its sources and configuration."""

    perf: bool = True
    """Read swap-rate counters for swapping VMs."""
    progress: Progress | None = None
    """Called with one-line status messages (from worker threads)."""
    run_by: Mapping[str, str] = field(default_factory=dict)
    """Provenance for the result: ``user``, ``host``, ``command``."""


def load_config(path: Path | None) -> Config:
    """The configuration file at ``path``, else the default one (or defaults if none)."""
    from balloon_audit.config_file import default_config_path
    from balloon_audit.config_file import load_config as load

    return load(path if path is not None else default_config_path())


def load_result(path: Path) -> AuditResult:
    """A JSON result written by ``scan --json``, for re-rendering; ResultFileError if damaged."""
    from balloon_audit.report.json_result import read_result

    return read_result(path)


def build_targets(
    servers: Sequence[str],
    options: ConnectOptions,
    password: Callable[[str | None], str],
) -> list[Target]:
    """One Target per ``--server`` spec; ``password`` is asked only once the specs are valid.

    A spec's own port (``vc01:8443``) and user (``https://user@vc01/sdk``) win over
    ``options``, which win over govc's environment (GOVC_URL, GOVC_USERNAME,
    GOVC_INSECURE ...); ``password`` gets govc's password as its fallback. Every
    target shares the one password.
    """
    from balloon_audit.collect.target import Target, parse_server
    from balloon_audit.govc_env import read_govc_env

    govc = read_govc_env()
    servers = list(servers) or ([govc.server] if govc.server else [])
    if not servers:
        raise ConfigError(
            "no server given",
            hint="pass --server vcenter.example.com (repeatable), --fleet FILE, or set GOVC_URL",
        )
    parsed = [parse_server(spec) for spec in servers]
    options = _with_govc_defaults(options, govc)
    if not options.user and not any(url_user for _, _, url_user in parsed):
        raise ConfigError(
            "no user given",
            hint="pass --user, set BALLOON_AUDIT_USER or GOVC_USERNAME, "
            "or use https://user@host/sdk",
        )
    if options.ca_bundle is not None and not options.insecure:
        _check_ca_bundle(options.ca_bundle)
    secret = password(govc.password)
    return [
        Target(
            server=host,
            port=host_port or options.port,
            user=url_user or options.user or "",
            password=secret,
            insecure=options.insecure,
            ca_bundle=options.ca_bundle,
            connect_timeout_s=options.connect_timeout_s,
            request_timeout_s=options.request_timeout_s,
            deadline_s=options.deadline_s,
        )
        for host, host_port, url_user in parsed
    ]


def _with_govc_defaults(options: ConnectOptions, govc: GovcSettings) -> ConnectOptions:
    """What the command line leaves open, taken from govc's environment."""
    return dataclasses.replace(
        options,
        user=options.user or govc.user,
        insecure=options.insecure or govc.insecure,
        ca_bundle=options.ca_bundle or govc.ca_bundle,
    )


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


@dataclass
class Capture:
    """A capture being recorded by :func:`recording`; ``error`` says why it was not written."""

    path: Path
    error: ReportError | None = None


@contextmanager
def recording(path: Path | None, targets: Sequence[Target]) -> Iterator[Capture | None]:
    """Record the traffic of a :func:`scan` inside the block to a scrubbed capture at ``path``.

    An unwritable ``path`` is refused before any server is contacted; a capture that
    cannot be written at the end leaves the audit intact (``Capture.error``). With
    ``path`` None nothing is recorded.
    """
    if path is None:
        yield None
        return
    from balloon_audit.collect.capture import check_capture_path
    from balloon_audit.collect.capture import recording as record_traffic

    check_capture_path(path)
    capture = Capture(path)
    try:
        with record_traffic(path, servers=targets):
            yield capture
    except ReportError as exc:
        capture.error = exc


def select_fleet(
    path: Path | None, config: Config, servers: Sequence[str] | None, labels: Sequence[str]
) -> tuple[FleetSource, ...]:
    """The fleet entries to audit (``--fleet`` or the configuration's), passwords fetched;
    empty when servers are given on the command line."""
    from balloon_audit.fleet_file import fetch_passwords, load_fleet, select

    if servers:
        if labels:
            raise ConfigError("--label selects fleet entries: it cannot go with --server")
        return ()
    entries = load_fleet(path) if path is not None else config.fleet
    if labels:
        if not entries:
            raise ConfigError("--label needs a fleet", hint="pass --fleet FILE (docs/fleet.md)")
        entries = select(entries, labels)
    return tuple(fetch_passwords(entries))


def fleet_targets(fleet: Sequence[FleetSource]) -> list[Target]:
    """One Target per fleet entry, each with its own credentials."""
    from balloon_audit.fleet_file import fleet_targets as targets_of

    return targets_of(fleet)


def check_replay_alone(servers: Sequence[str] | None, record: Path | None) -> None:
    """``--replay`` audits a capture: options that pick or record servers cannot apply."""
    for name, given in (("--server", servers), ("--record", record)):
        if given:
            raise ConfigError(
                f"--replay cannot be combined with {name}",
                hint="a capture names its own servers; record and replay in separate runs",
            )


def scan(
    targets: Sequence[Target],
    config: Config,
    run: RunOptions = RunOptions(),  # noqa: B008 - frozen, never mutated
    *,
    capture: Capture | None = None,
    fleet: Sequence[FleetSource] = (),
) -> AuditResult:
    """Audit ``targets`` live; inside :func:`recording`, pass its ``capture``; with a
    ``fleet``, its entries' names and labels go onto the sources.

    A failing server becomes a failed source in the result; the others are kept.
    """
    from balloon_audit.collect import collect_all

    # "N of M VMs" costs one request per vCenter: only when someone watches, and never
    # while recording (a replay of the capture does not ask it).
    count_vms = run.progress is not None and capture is None
    snapshot = collect_all(targets, progress=run.progress, perf=run.perf, count_vms=count_vms)
    if fleet:
        from balloon_audit.fleet_file import label_sources

        snapshot = label_sources(snapshot, fleet)
    return _evaluate(snapshot, config, run)


def replay(
    capture: Path,
    config: Config,
    run: RunOptions = RunOptions(),  # noqa: B008 - frozen, never mutated
    *,
    strict: bool = False,
) -> AuditResult:
    """Audit every source of the capture at ``capture``, offline: the replay half of a scan.

    ``strict`` also fails when recorded requests were never asked for (the collector
    asks less than when the capture was made).
    """
    snapshot = replay_snapshot(capture, progress=run.progress, perf=run.perf, strict=strict)
    return _evaluate(snapshot, config, run)


def replay_snapshot(
    capture: Path, *, progress: Progress | None = None, perf: bool = True, strict: bool = False
) -> Snapshot:
    """Collect every source of a capture, offline, without evaluating the rules."""
    from balloon_audit.collect import collect_all
    from balloon_audit.collect.capture import replay_targets, replaying
    from balloon_audit.collect.capture.scrub import placeholder_index

    with replaying(capture, strict=strict) as info:
        snapshot = collect_all(
            replay_targets(info), progress=progress, perf=perf, page_size=info.page_size
        )
    # A server that never answered left no traffic to replay: report it as it failed then.
    failed = tuple(_unreachable_when_recorded(name) for name in info.unreachable)
    if not failed:
        return snapshot
    sources = sorted((*snapshot.sources, *failed), key=lambda s: placeholder_index(s.server))
    return dataclasses.replace(snapshot, sources=tuple(sources))


def _unreachable_when_recorded(name: str) -> SourceInfo:
    return SourceInfo(
        server=name,
        status=SourceStatus.FAILED,
        error=f"{name}: did not answer while the capture was recorded",
        hint="the capture holds no traffic for this server; the recording run's "
        "own report says why it could not be reached",
        error_kind=FailureKind.UNREACHABLE.value,
    )


def _evaluate(snapshot: Snapshot, config: Config, run: RunOptions) -> AuditResult:
    from balloon_audit.engine import evaluate

    return evaluate(snapshot, config, run_by=dict(run.run_by))


def exit_code(
    result: AuditResult,
    fail_on: Severity | None,
    *,
    incomplete: bool = False,
    stdout_closed: bool = False,
) -> ExitCode:
    """The exit policy of ``scan``, in this order:

    3 when a source failed or an output (report, capture) was not written
    (``incomplete``); 141 when standard output was closed early; 1 when a finding is
    at or above ``fail_on`` (None: ``--fail-on never``); else 0.
    """
    if incomplete or any(not source.ok for source in result.sources):
        return ExitCode.FAILED
    if stdout_closed:
        return ExitCode.STDOUT_CLOSED
    if fail_on is not None and any(f.severity >= fail_on for f in result.findings):
        return ExitCode.FINDINGS
    return ExitCode.OK


def rule_catalogue(config: Config) -> list[dict[str, Any]]:
    """The rule catalogue with the settings in force, as ``balloon-audit rules --json`` prints."""
    from balloon_audit.config_file import describe_thresholds
    from balloon_audit.rules.registry import get_rule

    rows = []
    for settings in describe_thresholds(config):
        meta = get_rule(settings.rule).meta
        rows.append(
            {
                "id": settings.rule,
                "name": settings.name,
                "severity": settings.severity.value,
                "enabled": settings.enabled,
                "checks": meta.checks,
                "scope": meta.scope,
                "thresholds": settings.params,
                "overridden": sorted(settings.overridden),
            }
        )
    return rows
