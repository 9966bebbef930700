"""A real PostgreSQL server for the tests: Debian's binaries, a throw-away cluster.

``initdb`` + ``pg_ctl`` in a temporary directory, listening on 127.0.0.1 on a
free port with password authentication. PostgreSQL refuses to run as root, so
as root the server runs as ``nobody`` (``runuser``); the data directory is
owned by that user. ``.ci/run`` installs the ``postgresql`` package.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

RUN_AS = "nobody"


def find_pg_bin() -> Path | None:
    """The directory with initdb and pg_ctl (Debian keeps them out of PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PgServer:
    bin_dir: Path
    root: Path
    port: int
    password: str
    user: str = "balloon"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", RUN_AS, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> None:
        data = self.root / "data"
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, RUN_AS)
            shutil.chown(pwfile, RUN_AS)
        done = self._run(
            "initdb",
            "-D",
            str(data),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._run(
            "pg_ctl", "-D", str(data), "-l", str(self.root / "log"), "-o", options, "-w", "start"
        )
        if done.returncode:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr}{log}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_pg() -> PgServer:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL (initdb, pg_ctl) is not installed")
    root = Path(tempfile.mkdtemp(prefix="ba-pg-"))
    server = PgServer(bin_dir, root, _free_port(), secrets.token_hex(12))
    try:
        server.start()
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
