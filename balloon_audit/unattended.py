"""What ``scan`` adds for unattended runs: lock, scope, notifications, retention, summary.

The command line (cli.py) calls these in order; each returns or raises the project's
errors, so ``scan`` stays a short list of steps. The mechanics live in ``cron.py``,
``scope.py`` and ``notify.py``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from balloon_audit.config import Config
from balloon_audit.errors import BalloonAuditError, ConfigError, ReportError
from balloon_audit.model import AuditResult
from balloon_audit.report.terminal import safe

Retention = tuple[int | None, float | None]
"""``--keep`` and ``--keep-days``."""


def lock_output_dir(ctx: Any, output_dir: Path | None, wait_s: float, retention: Retention) -> None:
    """One run at a time per --output-dir, held until the command ends (LockBusyError, 3)."""
    from balloon_audit.cron import run_lock

    if output_dir is None:
        if retention != (None, None):
            raise ConfigError(
                "--keep and --keep-days apply to --output-dir", hint="add --output-dir DIR"
            )
        return
    ctx.with_resource(run_lock(output_dir, wait_s))


def check_notify(config: Config, fleet_path: Path | None, notify_on: Any) -> None:
    """--notify-on needs a [notify] table: a usage error, found before contacting anything."""
    if notify_on is None or _notify_section(config, fleet_path) is not None:
        return
    raise ConfigError(
        "--notify-on needs a [notify] table",
        hint="add [notify] to the configuration or the fleet file (docs/notify.md)",
    )


def _notify_section(config: Config, fleet_path: Path | None) -> Any:
    from balloon_audit.fleet_file import load_fleet_file

    if config.notify is not None:
        return config.notify
    return load_fleet_file(fleet_path).notify if fleet_path is not None else None


def with_scope(
    targets: Sequence[Any], config: Config, include: list[str] | None, exclude: list[str] | None
) -> list[Any]:
    """Targets limited to the configuration's [scope] plus --scope / --exclude."""
    from balloon_audit.scope import Scope, merge, parse_scope

    scope = merge(config.scope or Scope(), parse_scope(include or [], exclude or []))
    return [dataclasses.replace(t, scope=scope) for t in targets] if scope else list(targets)


def previous_result(output_dir: Path | None) -> AuditResult | None:
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


def after_dated(
    output_dir: Path | None, written: list[Path], retention: Retention, quiet: bool, err: Console
) -> ReportError | None:
    """``latest`` pointers to this run's dated files, then --keep / --keep-days retention."""
    from balloon_audit.cron import point_latest, prune

    if output_dir is None:
        return None
    try:
        point_latest([p for p in written if p.parent == output_dir])
        keep, keep_days = retention
        if keep is None and keep_days is None:
            return None
        for path in prune(output_dir, keep=keep, keep_days=keep_days, protect=written):
            if not quiet:
                err.print(f"deleted {safe(str(path))} (retention)")
    except ReportError as exc:
        return exc
    except OSError as exc:
        return ReportError(f"retention in {output_dir}: {exc.strerror}")
    return None


def notify(
    config: Config, fleet_path: Path | None, notify_on: Any, run: tuple, quiet: bool, err: Console
) -> BalloonAuditError | None:
    """Send the [notify] e-mail and webhooks when due; the error, if delivery failed.

    ``run`` is (result, report paths written, the previous run's result or None).
    """
    from balloon_audit.notify import NotifyError, deliver, should_notify

    result, written, previous = run
    reports = {path.suffix.lstrip("."): path for path in written}
    try:
        section = _notify_section(config, fleet_path)
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


def quiet_summary(
    quiet: bool, code: int, result: AuditResult, fail_on: Any, output_dir: Path | None,
    err: Console,
) -> None:  # fmt: skip
    """A quiet run that exits non-zero still says why, in one line (cron mails it)."""
    if quiet and code != 0:
        from balloon_audit.cron import summary_line

        err.print(safe(summary_line(result, code, fail_on.value, output_dir)))
