"""Notifications arrive at a real SMTP server (aiosmtpd) and a real HTTP receiver.

Both servers are started by the tests on 127.0.0.1; the runs are real
`balloon-audit scan --replay` processes of the bundled demo capture.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.live import free_port
from tests.paths import CASSETTES

SMTP_USER, SMTP_PASSWORD = "audit-bot", "smtp-Secr3t"
DEMO = str(CASSETTES / "demo.yaml")
EMPTY = str(CASSETTES / "empty.yaml")


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for IP 127.0.0.1 (subjectAltName, as TLS clients check)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("smtp-tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def smtp_server(certificate) -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server that requires STARTTLS and a login."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield mailbox, port
    controller.stop()


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's hook
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[type[_Receiver], int]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, server.server_address[1]
    server.shutdown()
    server.server_close()


def config(tmp_path: Path, smtp_port: int, http_port: int, certificate, on: str = "findings"):
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[notify]
on = "{on}"

[notify.email]
host = "127.0.0.1"
port = {smtp_port}
security = "starttls"
ca_bundle = "{certificate[0]}"
user = "{SMTP_USER}"
password_env = "SMTP_PASSWORD"
sender = "balloon-audit@example.com"
to = ["vmware@example.com", "oncall@example.com"]
cc = ["capacity@example.com"]
attach = ["html", "xlsx"]

[[notify.webhook]]
url = "http://127.0.0.1:{http_port}/generic"

[[notify.webhook]]
url_env = "SLACK_URL"
format = "slack"

[[notify.webhook]]
url = "http://127.0.0.1:{http_port}/teams"
format = "teams"
""",
        encoding="utf-8",
    )
    return path


def scan(cfg: Path, capture: str, out: Path, *extra: str, http_port: int):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    env.update({"SMTP_PASSWORD": SMTP_PASSWORD, "SLACK_URL": f"http://127.0.0.1:{http_port}/slack"})
    env["XDG_STATE_HOME"] = str(cfg.parent / "state")  # this test's own default history
    return subprocess.run(
        [sys.executable, "-m", "balloon_audit", "scan", "--replay", capture, "--config", str(cfg),
         "--output-dir", str(out), "-q", *extra],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip


def test_email_and_webhooks_arrive_with_the_summary_and_attachments(
    smtp_server, receiver, certificate, tmp_path
) -> None:
    mailbox, smtp_port = smtp_server
    handler, http_port = receiver
    cfg = config(tmp_path, smtp_port, http_port, certificate)
    done = scan(cfg, DEMO, tmp_path / "out", http_port=http_port)
    assert done.returncode == 1, done.stderr  # demo has findings; delivery succeeded
    ((recipients, message),) = mailbox.messages
    assert sorted(recipients) == [
        "capacity@example.com",
        "oncall@example.com",
        "vmware@example.com",
    ]
    assert message["Cc"] == "capacity@example.com"
    result = json.loads(next((tmp_path / "out").glob("balloon-audit-2*.json")).read_text())
    count = len(result["findings"])
    assert message["Subject"].startswith(f"balloon-audit: {count} findings (")
    body = message.get_body(("plain",)).get_content()
    assert "Most severe findings:" in body
    names = sorted(part.get_filename() for part in message.iter_attachments())
    assert [Path(n).suffix for n in names] == [".html", ".xlsx"]
    xlsx = next(p for p in message.iter_attachments() if p.get_filename().endswith(".xlsx"))
    assert xlsx.get_content()[:2] == b"PK"
    paths = sorted(path for path, _ in handler.received)
    assert paths == ["/generic", "/slack", "/teams"]
    payloads = dict(handler.received)
    assert sum(payloads["/generic"]["findings"].values()) == count
    assert payloads["/slack"]["text"].startswith(f"*balloon-audit: {count} findings")
    card = payloads["/teams"]["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"] == message["Subject"]
    assert SMTP_PASSWORD not in done.stderr + json.dumps(result)


def test_notify_on_new_stays_silent_when_nothing_changed(
    smtp_server, receiver, certificate, tmp_path
) -> None:
    mailbox, smtp_port = smtp_server
    handler, http_port = receiver
    cfg = config(tmp_path, smtp_port, http_port, certificate, on="new")
    out = tmp_path / "out"
    first = scan(cfg, DEMO, out, http_port=http_port)
    assert first.returncode == 1, first.stderr
    assert len(mailbox.messages) == 1 and len(handler.received) == 3, "first run: all new"
    second = scan(cfg, DEMO, out, http_port=http_port)
    assert second.returncode == 1, second.stderr
    assert len(mailbox.messages) == 1 and len(handler.received) == 3, "nothing new: silent"
    # --notify-on overrides the file
    third = scan(cfg, DEMO, out, "--notify-on", "always", http_port=http_port)
    assert third.returncode == 1 and len(mailbox.messages) == 2


def test_notify_on_new_asks_the_history_and_falls_back_to_the_latest_result(
    smtp_server, receiver, certificate, tmp_path
) -> None:
    """With the history on, "new" is since the previous run of these vCenters in the history,
    wherever its reports went; with --no-history, since the output directory's latest JSON."""
    mailbox, smtp_port = smtp_server
    handler, http_port = receiver
    cfg = config(tmp_path, smtp_port, http_port, certificate, on="new")
    assert scan(cfg, DEMO, tmp_path / "monday", http_port=http_port).returncode == 1
    assert len(mailbox.messages) == 1, "first run in the history: all new"
    tuesday = scan(cfg, DEMO, tmp_path / "tuesday", http_port=http_port)
    assert tuesday.returncode == 1, tuesday.stderr
    assert len(mailbox.messages) == 1, "the history knows monday's run: nothing new, silent"
    no_history = scan(cfg, DEMO, tmp_path / "wednesday", "--no-history", http_port=http_port)
    assert no_history.returncode == 1, no_history.stderr
    assert len(mailbox.messages) == 2, "no history, no latest result in this directory: all new"
    again = scan(cfg, DEMO, tmp_path / "wednesday", "--no-history", http_port=http_port)
    assert again.returncode == 1 and len(mailbox.messages) == 2, "latest result: nothing new"
    assert len(handler.received) == 6


def test_findings_mode_is_silent_on_a_clean_run(smtp_server, receiver, certificate, tmp_path):
    mailbox, smtp_port = smtp_server
    handler, http_port = receiver
    cfg = config(tmp_path, smtp_port, http_port, certificate)
    done = scan(cfg, EMPTY, tmp_path / "out", http_port=http_port)
    assert done.returncode == 0, done.stderr
    assert mailbox.messages == [] and handler.received == []


def test_failed_delivery_exits_3_and_keeps_the_reports(
    smtp_server, receiver, certificate, tmp_path
) -> None:
    mailbox, smtp_port = smtp_server
    handler, http_port = receiver
    handler.status = 500
    cfg = config(tmp_path, smtp_port, http_port, certificate)
    nobody = free_port()  # no SMTP server listens there
    cfg.write_text(cfg.read_text().replace(f"port = {smtp_port}", f"port = {nobody}"))
    out = tmp_path / "out"
    done = scan(cfg, DEMO, out, http_port=http_port)
    assert done.returncode == 3
    assert f"SMTP 127.0.0.1:{nobody}: e-mail not sent" in done.stderr
    assert "answered HTTP 500" in done.stderr
    assert SMTP_PASSWORD not in done.stderr
    assert mailbox.messages == []
    assert len(list(out.glob("balloon-audit-2*.*"))) == 3, "the reports were kept"


@pytest.mark.parametrize(
    ("notify", "expected"),
    [
        ({"on": "sometimes"}, "notify.on: must be one of always, findings, new"),
        (
            {"email": {"host": "h", "sender": "a@b", "to": ["x@y"], "password": "p"}},
            "notify.email.password: never write the SMTP password here",
        ),
        (
            {"email": {"host": "h", "sender": "a@b", "to": ["x@y"], "security": "ssl"}},
            "notify.email.security: must be one of starttls, tls, none",
        ),
        (
            {"email": {"host": "h", "sender": "a@b", "to": "not-an-address"}},
            "notify.email.to: must be an array of e-mail addresses",
        ),
        (
            {"email": {"host": "h", "sender": "a@b", "to": ["x@y"], "password_env": "P"}},
            "notify.email.user: a password needs a user",
        ),
        ({"webhook": [{"format": "slack"}]}, "notify.webhook[0].url: give exactly one of url"),
        ({"webhook": [{"url": "ftp://x", "format": "slack"}]}, "must be an http:// or https://"),
        ({"webhok": []}, "notify.webhok: unknown key (did you mean 'webhook'?)"),
    ],
)
def test_notify_table_mistakes_name_the_key(notify: dict, expected: str) -> None:
    from balloon_audit.config_file import parse_config
    from balloon_audit.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_config({"notify": notify})
    assert expected in str(caught.value)


def test_notify_table_in_the_fleet_file(smtp_server, receiver, certificate, tmp_path) -> None:
    mailbox, smtp_port = smtp_server
    handler, http_port = receiver
    notify = config(tmp_path, smtp_port, http_port, certificate, on="always").read_text()
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(
        '[[fleet]]\nserver = "vc01"\nuser = "u"\npassword_env = "VC01_PW"\n' + notify,
        encoding="utf-8",
    )
    done = scan(tmp_path / "none.toml", EMPTY, tmp_path / "out", http_port=http_port)
    assert done.returncode == 2 and "does not exist" in done.stderr
    empty_config = tmp_path / "empty.toml"
    empty_config.write_text("")
    done = scan(empty_config, EMPTY, tmp_path / "out", "--fleet", str(fleet), http_port=http_port)
    assert done.returncode == 0, done.stderr
    assert len(mailbox.messages) == 1 and len(handler.received) == 3
    ((_, message),) = mailbox.messages
    assert message["Subject"] == "balloon-audit: 0 findings (none)"


def test_notify_on_without_a_notify_table_is_a_usage_error(tmp_path) -> None:
    empty_config = tmp_path / "empty.toml"
    empty_config.write_text("")
    done = scan(empty_config, DEMO, tmp_path / "out", "--notify-on", "new", http_port=1)
    assert done.returncode == 2 and "--notify-on needs a [notify] table" in done.stderr
    assert not list((tmp_path / "out").glob("balloon-audit-*")), "no report was written"
