"""Print what `balloon-audit vm NAME` costs on a big vCenter: time, SOAP calls, bytes, VMs read.

    .venv/bin/python scripts/bench_vm.py [--server 127.0.0.1:18989] [--name DC0_C0_RP0_VM0]

Against a running vCenter or vcsim (default: the shared 10,000-VM vcsim of the project's
machines, `vcsim -cluster 10 -host 10 -vm 1000`; any user and password). The connection
goes through a local TCP relay that counts the bytes on the wire each way; the HTTP
requests are counted in-process, by SOAP method. Three runs of the whole command (login to
logout, live counters included) in-process through the relay, three without it, then one
of the real command line, timed.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from balloon_audit.collect.target import Target  # noqa: E402
from balloon_audit.vmexplain import explain  # noqa: E402


class Relay:
    """127.0.0.1:<port> → the server, counting bytes each way."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.sent = self.received = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(self.upstream)
            for src, dst, up in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pipe, args=(src, dst, up), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while data := src.recv(65536):
                with self.lock:
                    if up:
                        self.sent += len(data)
                    else:
                        self.received += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def reset(self) -> None:
        with self.lock:
            self.sent = self.received = 0


CALLS: Counter[str] = Counter()
_request = http.client.HTTPConnection.request


def _counting(self, method, url, body=None, headers=None, **kw):  # type: ignore[no-untyped-def]
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    found = re.search(r"<(?:soapenv:)?Body[^>]*>\s*<(?:\w+:)?(\w+)", text)
    CALLS[found.group(1) if found else f"{method} {url}"] += 1
    return _request(self, method, url, body, headers or {}, **kw)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--server", default="127.0.0.1:18989")
    parser.add_argument("--name", default="DC0_C0_RP0_VM0")
    args = parser.parse_args()
    host, _, port = args.server.rpartition(":")
    relay = Relay(host, int(port))
    http.client.HTTPConnection.request = _counting  # type: ignore[method-assign]
    target = Target(
        server="127.0.0.1", port=relay.port, user="user", password="pass", insecure=True
    )
    for run in range(1, 4):
        CALLS.clear()
        relay.reset()
        started = time.monotonic()
        report = explain(target, args.name)
        took = time.monotonic() - started
        time.sleep(0.2)  # let the relay count the logout
        (exp,) = report.explanations
        print(
            f"run {run}: {took:.2f}s  {sum(CALLS.values())} HTTP requests  "
            f"{relay.sent / 1024:,.0f} KiB sent, {relay.received / 1024:,.0f} KiB received  "
            f"{report.names_read:,} names read, {report.vms_read} VMs' properties read "
            f"({len(exp.findings)} findings, {len(exp.live.series) if exp.live else 0} series)"
        )
    print("requests of the last run: " + ", ".join(f"{k} {v}" for k, v in sorted(CALLS.items())))
    direct = Target(server=host, port=int(port), user="user", password="pass", insecure=True)
    times = []
    for _ in range(3):
        started = time.monotonic()
        explain(direct, args.name)
        times.append(time.monotonic() - started)
    print("without the relay: " + ", ".join(f"{t:.2f}s" for t in times))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    env.update(BALLOON_AUDIT_PASSWORD="pass", COLUMNS="120")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "balloon_audit", "vm", args.name, "-s", args.server, "-u", "user",
         "-k", "--fail-on", "never"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    print(
        f"command line: balloon-audit vm {args.name} -s {args.server}: "
        f"{time.monotonic() - started:.2f}s wall (Python start-up included), exit {done.returncode}"
    )


if __name__ == "__main__":
    main()
