"""Run balloon-audit as a user would (a subprocess) and check how it fails.

Every case goes through :func:`run` or :func:`start`, which time it and add a row to
:data:`CATALOGUE` (printed at the end of the test session by ``conftest.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSWORD = "fault-Pw-7319"
"""The password every case uses; no output may ever contain it."""
CATALOGUE: list[tuple[str, float, str]] = []


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def env(**extra: str) -> dict[str, str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("BALLOON_AUDIT_") and key not in ("PYTHONIOENCODING",)
    }
    base.update(BALLOON_AUDIT_PASSWORD=PASSWORD, COLUMNS="120", NO_COLOR="1")
    base.update(extra)
    return base


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "balloon_audit", *args]


def run(case: str, args: list[str], *, code: int, within_s: float, **how: Any) -> Outcome:
    """Run one case; assert its exit code, its time bound and that no secret leaked.

    ``how``: ``stdin`` (text), ``environ`` (default :func:`env`), ``cwd``, and ``prefix``
    (a command to run balloon-audit under, e.g. ``unshare``).
    """
    outcome = execute(args, timeout_s=within_s + 30, **how)
    record(case, outcome)
    check(outcome, code=code, within_s=within_s)
    return outcome


def execute(args: list[str], *, timeout_s: float = 60, **how: Any) -> Outcome:
    """Run balloon-audit once and time it (no checks: see :func:`run`)."""
    started = time.monotonic()
    proc = subprocess.run(
        [*how.get("prefix", []), *command(*args)],
        input=how.get("stdin"),
        capture_output=True,
        text=True,
        errors="replace",
        env=how.get("environ") or env(),
        cwd=how.get("cwd"),
        timeout=timeout_s,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def execute_all(cases: dict[str, list[str]], workers: int = 4) -> dict[str, Outcome]:
    """Run many quick cases at once (each still timed on its own); checked by the tests."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {case: pool.submit(execute, args) for case, args in cases.items()}
    return {case: future.result() for case, future in futures.items()}


def record(case: str, outcome: Outcome) -> None:
    lines = outcome.errors or outcome.stderr.strip().splitlines() or [""]
    summary = lines[0] if outcome.errors else lines[-1]
    summary = re.sub(r"/tmp/\S*/", "…/", summary)  # pytest's temporary directories
    CATALOGUE.append((case, outcome.seconds, f"exit {outcome.code}: {summary[:100]}"))


def check(outcome: Outcome, *, code: int, within_s: float) -> None:
    detail = f"stdout:\n{outcome.stdout[-2000:]}\nstderr:\n{outcome.stderr[-3000:]}"
    assert outcome.code == code, f"exit {outcome.code}, expected {code}\n{detail}"
    assert outcome.seconds <= within_s, f"took {outcome.seconds:.1f}s > {within_s}s\n{detail}"
    assert "Traceback" not in outcome.stderr, detail
    assert PASSWORD not in outcome.stdout + outcome.stderr, detail


def one_line_error(outcome: Outcome, pattern: str) -> str:
    """The single ``error:`` line matching ``pattern`` (a regular expression)."""
    matching = [line for line in outcome.errors if re.search(pattern, line)]
    assert matching, f"no error line matches {pattern!r}:\n{outcome.stderr}"
    return matching[0]


def stray_files(directory: Path) -> list[str]:
    """Temporary or reservation files left behind in ``directory`` (recursively)."""
    return sorted(
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if path.name.endswith((".tmp", ".reserved")) or re.match(r"^\..*\.\w{8}$", path.name)
    )


def start(args: list[str], *, environ: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a case in the background (to signal it); finish it with :func:`finish`."""
    return subprocess.Popen(
        command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=environ or env(),
    )


def finish(
    case: str, proc: subprocess.Popen, since: float, *, code: int, within_s: float
) -> Outcome:
    """Wait for ``proc``; ``within_s`` counts from ``since`` (e.g. the signal)."""
    stdout, stderr = proc.communicate(timeout=within_s + 30)
    outcome = Outcome(proc.returncode, stdout, stderr, time.monotonic() - since)
    record(case, outcome)
    check(outcome, code=code, within_s=within_s)
    return outcome
