"""Misbehaving servers for the fault catalogue, all real sockets on 127.0.0.1.

- :class:`SilentServer`: accepts TCP connections and never sends a byte (no TLS either);
- :class:`TrickleServer`: completes the TLS handshake, then answers every request with a
  valid-looking HTTP response sent one byte at a time, ``interval_s`` apart;
- :class:`SoapProxy`: a TLS proxy in front of vcsim that passes SOAP calls through and,
  for chosen methods, delays or trickles the answer or cuts the connection half-way
  through it. It logs every SOAP method it saw (to check that a session was logged out).
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SOAP_OP_RE = re.compile(rb"<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?(\w+)")


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A throw-away self-signed certificate and key for 127.0.0.1 (openssl CLI)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


class _Server:
    """A listening socket served by one daemon thread per connection."""

    def __init__(self, tls: tuple[Path, Path] | None = None, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, 0), family=family)
        self.port = self._listener.getsockname()[1]
        self._context: ssl.SSLContext | None = None
        if tls is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(*map(str, tls))
        self._closed = threading.Event()
        self.connections = 0
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._serve_guarded, args=(conn,), daemon=True).start()

    def _serve_guarded(self, conn: socket.socket) -> None:
        try:
            if self._context is not None:
                conn.settimeout(30)
                conn = self._context.wrap_socket(conn, server_side=True)
                self._open.append(conn)
            self.serve(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with suppress(OSError):
                conn.close()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._closed.set()
        with suppress(OSError):
            self._listener.close()
        for conn in self._open:
            with suppress(OSError):
                conn.close()


class SilentServer(_Server):
    """Accepts and never answers: not even the TLS handshake."""

    def serve(self, conn: socket.socket) -> None:
        self._closed.wait()


class BlackholeServer:
    """A port whose connection backlog is full: the kernel drops new SYNs, so a TCP
    connect hangs until its timeout, like a firewalled or vanished host."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=0)
        self.port = self._listener.getsockname()[1]
        self._filler = socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def close(self) -> None:
        self._filler.close()
        self._listener.close()


def _read_request(conn: socket.socket | ssl.SSLSocket) -> tuple[bytes, bytes] | None:
    """One HTTP request: (head, body); None when the client closed the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(match.group(1)) if match else 0
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head, body


class TrickleServer(_Server):
    """Answers every request, but one byte every ``interval_s`` seconds."""

    def __init__(self, tls: tuple[Path, Path], interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        super().__init__(tls)

    def serve(self, conn: socket.socket) -> None:
        if _read_request(conn) is None:
            return
        body = b"<namespaces>" + b" " * 100_000 + b"</namespaces>"
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        for byte in answer:
            if self._closed.wait(self.interval_s):
                return
            conn.sendall(bytes([byte]))


@dataclass
class Fault:
    """What the proxy does to the ``occurrence``-th call (1-based) of a SOAP method."""

    action: str
    """``delay`` (hold the answer ``seconds``), ``trickle`` (one byte per ``seconds``),
    ``cut`` (send half the answer, then close the connection)."""
    seconds: float = 0.0
    occurrence: int = 1
    """Which matching call to hit (1 = the first)."""
    match: bytes = b""
    """Only calls whose request body contains this count (e.g. the VM pass)."""


VM_PASS = b"<type>VirtualMachine</type>"
"""In a RetrievePropertiesEx body: the call that reads the VMs' properties."""


class SoapProxy(_Server):
    """A TLS proxy to ``upstream_port`` (vcsim) that injects :class:`Fault` s by method."""

    def __init__(
        self,
        upstream_port: int,
        tls: tuple[Path, Path],
        faults: dict[str, Fault] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.upstream_port = upstream_port
        self.faults = faults or {}
        self.methods: list[str] = []
        """Every SOAP method seen, in order (``GET /path`` for other requests)."""
        self.hit = threading.Event()
        """Set when a fault starts to act."""
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        super().__init__(tls, host)

    def serve(self, conn: socket.socket) -> None:
        upstream = http.client.HTTPSConnection(
            "127.0.0.1", self.upstream_port, timeout=60,
            context=ssl._create_unverified_context(),
        )  # fmt: skip
        try:
            while not self._closed.is_set():
                request = _read_request(conn)
                if request is None:
                    return
                if not self._relay(conn, upstream, *request):
                    return
        finally:
            upstream.close()

    def _relay(self, conn: socket.socket, upstream: http.client.HTTPSConnection,
               head: bytes, body: bytes) -> bool:  # fmt: skip
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        headers.pop("Accept-Encoding", None)
        op_match = _SOAP_OP_RE.search(body)
        op = op_match.group(1).decode() if op_match else f"{method} {path}"
        fault = self.faults.get(op)
        with self._lock:
            self.methods.append(op)
            if fault is not None and fault.match in body:
                self._counts[op] = self._counts.get(op, 0) + 1
            count = self._counts.get(op, 0)
        upstream.request(method, path, body=body or None, headers=headers)
        response = upstream.getresponse()
        payload = response.read()
        dropped = ("content-length", "transfer-encoding", "connection")
        keep = [(k, v) for k, v in response.getheaders() if k.lower() not in dropped]
        out = f"HTTP/1.1 {response.status} {response.reason}\r\n".encode()
        out += b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in keep)
        out += b"Content-Length: %d\r\n\r\n" % len(payload) + payload
        if fault is None or fault.match not in body or fault.occurrence != count:
            conn.sendall(out)
            return True
        self.hit.set()
        if fault.action == "delay":
            if self._closed.wait(fault.seconds):
                return False
            conn.sendall(out)
            return True
        if fault.action == "trickle":
            for byte in out:
                if self._closed.wait(fault.seconds):
                    return False
                conn.sendall(bytes([byte]))
            return True
        assert fault.action == "cut", fault.action
        conn.sendall(out[: len(out) // 2])
        return False

    def wait_for(self, op: str, timeout_s: float = 20.0) -> None:
        """Block until the proxy has seen ``op``."""
        end = time.monotonic() + timeout_s
        while op not in self.methods:
            if time.monotonic() > end:
                raise AssertionError(f"the proxy never saw {op}; it saw {self.methods}")
            time.sleep(0.05)


@contextmanager
def serving(server: Any) -> Iterator[Any]:
    try:
        yield server
    finally:
        server.close()
