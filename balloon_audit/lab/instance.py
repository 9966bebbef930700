"""A running lab: vcsim started on 127.0.0.1, loaded with a scenario; up, status, down."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from balloon_audit import userdirs
from balloon_audit.errors import LabError
from balloon_audit.lab.hostmodel import prepare_model
from balloon_audit.lab.scenario import Scenario, load_scenario
from balloon_audit.lab.vcsim import start_vcsim, stop_vcsim
from balloon_audit.netloc import join_hostport, sdk_url

STATE_FILE = "lab.json"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class LabInstance:
    """A vcsim the lab started. vcsim accepts any user name and password."""

    scenario: Scenario
    host: str
    port: int
    pid: int
    workdir: Path | None
    """Files this lab owns (loaded model, datastore directories); removed when it stops."""
    started_at: str
    """UTC, ISO 8601."""
    seed_seconds: float | None = None
    """Wall time from starting vcsim to the last seeded VM."""

    @property
    def url(self) -> str:
        return sdk_url(self.host, self.port)

    @property
    def server(self) -> str:
        """``host:port``, the form the auditor's ``--server``/``--port`` pair describes."""
        return join_hostport(self.host, self.port)

    def govc_env(self) -> dict[str, str]:
        """Environment for govc against this lab (vcsim accepts any credentials)."""
        return {
            "GOVC_URL": self.url,
            "GOVC_USERNAME": "lab",
            "GOVC_PASSWORD": "lab",
            "GOVC_INSECURE": "1",
        }

    def to_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario.name,
            "scenario_source": self.scenario.source,
            "host": self.host,
            "port": self.port,
            "pid": self.pid,
            "url": self.url,
            "workdir": str(self.workdir) if self.workdir else None,
            "started_at": self.started_at,
            "seed_seconds": self.seed_seconds,
        }


def start_lab(
    scenario: Scenario,
    *,
    detach: bool = False,
    log_path: Path | None = None,
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> LabInstance:
    """Start vcsim on 127.0.0.1 with the scenario's model, seed it, and return the instance.

    ``detach`` lets vcsim outlive this process (``lab up``). ``workdir`` holds the
    loaded model and datastores; a temporary directory is used when not given.
    On failure nothing is left running.
    """
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    owned = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="balloon-audit-lab-")) if workdir is None else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if scenario.needs_load:
            model = prepare_model(scenario, workdir, say)
            args = ["-load", str(model)]
        else:
            args = scenario.model.vcsim_args()
        endpoint = start_vcsim(args, log_path=log_path, detach=detach)
    except BaseException:
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    say(f"vcsim pid {endpoint.pid} listening on {endpoint.url}")
    try:
        from balloon_audit.lab.seed import seed  # pyVmomi: imported only when seeding

        seed(endpoint.host, endpoint.port, scenario, say)
    except BaseException:
        stop_vcsim(endpoint.pid)
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return LabInstance(
        scenario=scenario,
        host=endpoint.host,
        port=endpoint.port,
        pid=endpoint.pid,
        workdir=workdir,
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        seed_seconds=round(time.monotonic() - started, 3),
    )


def stop_lab(instance: LabInstance) -> None:
    """Stop the lab's vcsim and remove its working files."""
    stop_vcsim(instance.pid)
    if instance.workdir is not None:
        shutil.rmtree(instance.workdir, ignore_errors=True)


@contextlib.contextmanager
def running_lab(scenario: Scenario, **kwargs: object) -> Iterator[LabInstance]:
    """``with running_lab(load_scenario("demo")) as lab: ...`` -- stopped on exit."""
    instance = start_lab(scenario, **kwargs)  # type: ignore[arg-type]
    try:
        yield instance
    finally:
        stop_lab(instance)


# ------------------------------------------------------------- detached: lab up / down


def default_state_dir() -> Path:
    """Where ``lab up`` records its lab: $XDG_STATE_HOME/balloon-audit/lab (~/.local/state/...)."""
    return userdirs.state_home() / "balloon-audit" / "lab"


def lab_up(
    scenario: Scenario | str | Path, state_dir: Path, progress: Progress | None = None
) -> LabInstance:
    """Start a detached lab and record it in ``state_dir/lab.json`` (one lab per state dir)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    state_dir.mkdir(parents=True, exist_ok=True)
    running = lab_status(state_dir)
    if running is not None:
        raise LabError(
            f"a lab is already running from {state_dir} ({running.scenario.name}, {running.url})",
            hint="stop it first with `balloon-audit lab down`",
        )
    _clean_stale(state_dir)
    instance = start_lab(
        scenario,
        detach=True,
        log_path=state_dir / "vcsim.log",
        workdir=state_dir / "work",
        progress=progress,
    )
    tmp = state_dir / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(instance.to_json(), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, state_dir / STATE_FILE)
    return instance


def lab_status(state_dir: Path) -> LabInstance | None:
    """The lab recorded in ``state_dir`` if its vcsim is still running, else ``None``."""
    state = _read_state(state_dir)
    if state is None or not _is_vcsim(int(state["pid"])):
        return None
    source = state.get("scenario_source") or state["scenario"]
    workdir = state.get("workdir")
    return LabInstance(
        scenario=load_scenario(source),
        host=str(state["host"]),
        port=int(state["port"]),
        pid=int(state["pid"]),
        workdir=Path(workdir) if workdir else None,
        started_at=str(state.get("started_at", "")),
        seed_seconds=state.get("seed_seconds"),
    )


def lab_down(state_dir: Path) -> bool:
    """Stop the lab recorded in ``state_dir``; ``True`` if one was running."""
    state = _read_state(state_dir)
    if state is None:
        return False
    pid = int(state["pid"])
    was_running = _is_vcsim(pid)
    if was_running:  # never signal a pid that no longer belongs to our vcsim
        stop_vcsim(pid)
    _clean_stale(state_dir)
    return was_running


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    """The JSON state file as written by ``to_json`` (values as JSON gives them)."""
    path = state_dir / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
        int(state["pid"])
        return state
    except (ValueError, KeyError, TypeError) as exc:
        raise LabError(
            f"unreadable lab state file {path}: {exc}",
            hint="stop vcsim by its pid if it still runs, then delete the file",
        ) from None


def _clean_stale(state_dir: Path) -> None:
    shutil.rmtree(state_dir / "work", ignore_errors=True)
    (state_dir / STATE_FILE).unlink(missing_ok=True)


def _is_vcsim(pid: int) -> bool:
    """Is ``pid`` alive and a vcsim process (guards against a reused pid)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: not ours
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        if cmdline.exists():
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            stat = Path(f"/proc/{pid}/stat").read_text()
            if ") Z" in stat:  # zombie: already exited, not yet reaped
                return False
        else:  # macOS and other systems without /proc
            text = subprocess.run(
                ["ps", "-p", str(pid), "-o", "command="],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
    except OSError:
        return False
    return "vcsim" in text
