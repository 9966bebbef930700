"""Start and stop a vcsim process on 127.0.0.1 and learn its URL."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from balloon_audit.errors import LabError
from balloon_audit.locations import checkout_root
from balloon_audit.netloc import sdk_url

VCSIM_ENV = "BALLOON_AUDIT_VCSIM"


def find_tool(name: str) -> Path | None:
    """``vcsim``/``govc``: from $BALLOON_AUDIT_<NAME>, else the checkout's ``.tools/bin``
    (only when running from a source checkout, see :func:`~balloon_audit.locations.checkout_root`),
    else PATH."""
    explicit = os.environ.get(f"BALLOON_AUDIT_{name.upper()}")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    root = checkout_root()
    local = root / ".tools" / "bin" / name if root is not None else None
    if local is not None and local.is_file():
        return local
    found = shutil.which(name)
    return Path(found) if found else None


def find_vcsim() -> Path:
    path = find_tool("vcsim")
    if path is None:
        raise LabError(
            "vcsim not found",
            hint="install it (go install github.com/vmware/govmomi/vcsim@v0.46.3) and set "
            f"{VCSIM_ENV} or put it on PATH; in a source checkout, scripts/provision.sh "
            "installs it into .tools/bin",
        )
    return path


@dataclass(frozen=True)
class VcsimEndpoint:
    """Where a running vcsim listens. The simulator accepts any user and password."""

    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        return sdk_url(self.host, self.port)


def start_vcsim(
    args: list[str] | None = None,
    *,
    log_path: Path | None = None,
    timeout_s: float = 60.0,
    detach: bool = False,
) -> VcsimEndpoint:
    """Start vcsim on a free loopback port and wait until it answers.

    ``args`` are extra vcsim flags (model size, ``-load DIR``, ``-esx``...).
    ``detach`` puts vcsim in its own session so it outlives this process
    (``balloon-audit lab up``).
    """
    binary = find_vcsim()
    env_file = Path(tempfile.mkstemp(prefix="vcsim-env-")[1])
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    cmd = [str(binary), "-l", "127.0.0.1:0", "-E", str(env_file), *(args or [])]
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=detach,
        )
    except OSError as exc:
        raise LabError(f"could not run {binary}: {exc}") from exc
    finally:
        if not isinstance(log, int):  # a file we opened, not DEVNULL
            log.close()
    try:
        url = _wait_for_env(env_file, proc, timeout_s)
    except BaseException:
        _terminate(proc.pid)
        raise
    finally:
        env_file.unlink(missing_ok=True)
    parts = urlsplit(url)
    return VcsimEndpoint(parts.hostname or "127.0.0.1", parts.port or 443, proc.pid)


def _wait_for_env(env_file: Path, proc: subprocess.Popen, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = env_file.read_text() if env_file.exists() else ""
        for token in text.split():
            if token.startswith("GOVC_URL="):
                return token.split("=", 1)[1]
        if proc.poll() is not None:
            raise LabError(
                f"vcsim exited with code {proc.returncode} before it was ready",
                hint="run it by hand with the same flags to see why",
            )
        time.sleep(0.05)
    raise LabError(f"vcsim did not become ready within {timeout_s:.0f}s")


def stop_vcsim(pid: int, timeout_s: float = 10.0) -> None:
    """Stop a vcsim started by ``start_vcsim``; quiet if it is already gone."""
    _terminate(pid, timeout_s)


def _terminate(pid: int, timeout_s: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: poll for existence instead
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            done = 0
        if done:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
