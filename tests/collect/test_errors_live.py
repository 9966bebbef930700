"""Live failure modes: each is a project error with a hint, and none carries the password."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyVim.connect import Disconnect, SmartConnect

from balloon_audit.collect import Target, collect_all, collect_source
from balloon_audit.errors import (
    AuthenticationError,
    CollectionError,
    CollectionTimeoutError,
    ConfigError,
    ConnectionFailedError,
    TLSVerificationError,
)
from balloon_audit.lab.vcsim import VcsimEndpoint, start_vcsim, stop_vcsim
from tests.live import LOGIN_PASSWORD, free_port, require_vcsim

pytestmark = pytest.mark.live

SECRET = LOGIN_PASSWORD
WRONG = "Wr0ng-Staple-Secret"


def assert_no_secret(err: BaseException, *secrets: str) -> None:
    """Not in the message, repr, hint, formatted traceback, nor any chained exception."""
    formatted = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    texts = [str(err), repr(err), getattr(err, "hint", None) or "", formatted]
    for secret in secrets:
        for text in texts:
            assert secret not in text
    assert err.__cause__ is None and err.__context__ is None


def expect_failure(target: Target, kind: type[CollectionError]) -> CollectionError:
    with pytest.raises(kind) as info:
        collect_source(target)
    err = info.value
    assert err.hint
    assert "\n" not in str(err)
    assert str(err).startswith(target.label + ":")
    assert_no_secret(err, target.password)
    return err


# --- authentication --------------------------------------------------------------------------


def test_wrong_password(vcsim_with_login: VcsimEndpoint) -> None:
    ep = vcsim_with_login
    err = expect_failure(
        Target(ep.host, ep.port, "auditor", WRONG, insecure=True), AuthenticationError
    )
    assert "auditor" in str(err)
    assert_no_secret(err, WRONG, SECRET)


def test_right_password(vcsim_with_login: VcsimEndpoint) -> None:
    ep = vcsim_with_login
    snap = collect_source(Target(ep.host, ep.port, "auditor", SECRET, insecure=True))
    assert len(snap.vms) == 4
    assert SECRET not in repr(snap)


# --- network ---------------------------------------------------------------------------------


def test_closed_port_is_refused() -> None:
    err = expect_failure(
        Target("127.0.0.1", free_port(), "u", SECRET, insecure=True), ConnectionFailedError
    )
    assert "refused" in str(err)
    assert "wrong port" in (err.hint or "")


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.send_error(404)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def http_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_plain_http_server_on_the_port(http_server: http.server.HTTPServer) -> None:
    port = http_server.server_address[1]
    err = expect_failure(
        Target("127.0.0.1", port, "u", SECRET, insecure=True), ConnectionFailedError
    )
    assert "does not speak TLS" in str(err)
    assert err.kind == "protocol"


def test_https_server_that_is_not_vsphere(
    http_server: http.server.HTTPServer, tmp_path: Path
) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a throwaway certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    http_server.socket = context.wrap_socket(http_server.socket, server_side=True)
    port = http_server.server_address[1]
    err = expect_failure(
        Target("127.0.0.1", port, "u", SECRET, insecure=True), ConnectionFailedError
    )
    assert "HTTP 404" in str(err) and "not a vSphere API endpoint" in str(err)
    assert err.kind == "protocol"


def test_silent_server_times_out_while_connecting() -> None:
    """A port that accepts TCP but never answers: the connect timeout must fire."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        started = time.monotonic()
        err = expect_failure(
            Target("127.0.0.1", port, "u", SECRET, insecure=True, connect_timeout_s=0.5),
            CollectionTimeoutError,
        )
        assert time.monotonic() - started < 5
    assert "while connecting" in str(err)


# --- TLS -----------------------------------------------------------------------------------


def test_self_signed_certificate_is_refused_by_default(vcsim_default: VcsimEndpoint) -> None:
    """pyVmomi alone would skip verification for 127.0.0.1; we verify anyway."""
    ep = vcsim_default
    err = expect_failure(Target(ep.host, ep.port, "u", SECRET), TLSVerificationError)
    assert err.kind == "tls"
    assert "--ca-bundle" in (err.hint or "") and "--insecure" in (err.hint or "")


def test_ca_bundle_makes_the_certificate_trusted(
    vcsim_default: VcsimEndpoint, tmp_path: Path
) -> None:
    ep = vcsim_default
    bundle = tmp_path / "vcsim.pem"
    bundle.write_text(ssl.get_server_certificate((ep.host, ep.port)))
    snap = collect_source(Target(ep.host, ep.port, "u", SECRET, ca_bundle=bundle), perf=False)
    assert len(snap.vms) == 4


def test_missing_ca_bundle_is_a_config_error(vcsim_default: VcsimEndpoint, tmp_path: Path) -> None:
    ep = vcsim_default
    with pytest.raises(ConfigError) as info:
        collect_source(Target(ep.host, ep.port, "u", SECRET, ca_bundle=tmp_path / "none.pem"))
    assert info.value.hint


# --- request timeout ---------------------------------------------------------------------------


def test_slow_api_hits_the_request_timeout() -> None:
    require_vcsim()
    endpoint = start_vcsim(["-method-delay", "RetrievePropertiesEx:3000"])
    try:
        started = time.monotonic()
        err = expect_failure(
            Target(endpoint.host, endpoint.port, "u", SECRET, insecure=True, request_timeout_s=0.5),
            CollectionTimeoutError,
        )
        assert time.monotonic() - started < 2.5
        # the failed run still logged out: only the checking session is left
        si = SmartConnect(
            host=endpoint.host,
            port=endpoint.port,
            user="checker",
            pwd="p",
            disableSslCertValidation=True,
        )
        try:
            sessions = si.RetrieveContent().sessionManager.sessionList
            assert [s.userName for s in sessions] == ["checker"]
        finally:
            Disconnect(si)
    finally:
        stop_vcsim(endpoint.pid)
    assert "longer than 0.5s" in str(err)


# --- many sources ------------------------------------------------------------------------------


def test_collect_all_keeps_the_good_source(vcsim_default: VcsimEndpoint) -> None:
    ep = vcsim_default
    good = Target(ep.host, ep.port, "u", SECRET, insecure=True)
    dead = Target("127.0.0.1", free_port(), "u", WRONG, insecure=True)
    messages: list[str] = []
    snap = collect_all([dead, good, good], progress=messages.append)
    assert [s.server for s in snap.sources] == [dead.label, good.label]
    failed, ok = snap.sources
    assert failed.status == "failed" and failed.error and failed.hint
    assert "refused" in failed.error
    assert (failed.vm_count, failed.host_count) == (0, 0)
    assert ok.status == "ok" and ok.vm_count == 4
    assert len(snap.vms) == 4 and all(vm.server == good.label for vm in snap.vms)
    assert len(snap.hosts) == 4 and len(snap.clusters) == 1
    everything = repr(snap) + "".join(messages)
    assert SECRET not in everything and WRONG not in everything
    assert any("failed" in m for m in messages)


def test_collect_all_turns_config_errors_into_failed_sources(tmp_path: Path) -> None:
    bad = Target("127.0.0.1", free_port(), "u", SECRET, ca_bundle=tmp_path / "missing.pem")
    snap = collect_all([bad])
    (source,) = snap.sources
    assert source.status == "failed" and source.hint
    assert collect_all([]).sources == ()
