"""Tell people about a run: e-mail over SMTP and webhooks (generic JSON, Slack, Teams).

See docs/notify.md for the user-facing description.

Configured in a ``[notify]`` table of the configuration file (or of the fleet file)::

    [notify]
    on = "findings"                 # always | findings | new  (--notify-on overrides)

    [notify.email]
    host = "smtp.example.com"
    port = 587
    security = "starttls"           # starttls | tls | none
    user = "audit-bot"              # optional; the password from password_env / password_file
    password_env = "SMTP_PASSWORD"
    sender = "balloon-audit@example.com"
    to = ["vmware-team@example.com", "oncall@example.com"]
    cc = ["capacity@example.com"]
    attach = ["html", "xlsx"]       # reports of this run to attach

    [[notify.webhook]]
    url = "https://hooks.slack.com/services/..."   # or url_env = "SLACK_WEBHOOK_URL"
    format = "slack"                # json | slack | teams

Delivery happens after the reports are written; a failed delivery is reported, the run
exits 3, and the reports stay where they are.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from balloon_audit.errors import BalloonAuditError, ConfigError
from balloon_audit.model import AuditResult
from balloon_audit.validation import InputModel, non_empty_text, port_number, reject, suggest

WEBHOOK_TIMEOUT_S = 30.0
SMTP_TIMEOUT_S = 30.0


class NotifyError(BalloonAuditError):
    """A notification could not be delivered (exit code 3; the reports are kept)."""


@dataclass(frozen=True)
class Summary:
    """What every notification says, computed once."""

    subject: str
    text: str
    counts: Mapping[str, int]
    failed_sources: tuple[str, ...]


def summarize(result: AuditResult, reports: Sequence[Path] = ()) -> Summary:
    counts = Counter(f.severity.value for f in result.findings)
    sources = result.snapshot.sources
    failed = tuple(s.server for s in sources if not s.ok)
    ballooned = sum(v.ballooned_mb or 0 for v in result.snapshot.vms)
    swapped = sum(v.swapped_mb or 0 for v in result.snapshot.vms)
    found = ", ".join(f"{counts[s]} {s}" for s in ("critical", "warning", "info") if counts[s])
    subject = f"balloon-audit: {len(result.findings)} findings ({found or 'none'})" + (
        f", {len(failed)} vCenter(s) not audited" if failed else ""
    )
    lines = [
        f"Audit of {len(sources)} source(s) at {result.generated_at:%Y-%m-%d %H:%M %Z}.",
        f"Findings: {found or 'none'}; {len(result.waived)} waived.",
        f"VMs: {len(result.snapshot.vms)}; ballooned {ballooned:,.0f} MB, "
        f"swapped {swapped:,.0f} MB.",
    ]
    if failed:
        lines.append("Not audited: " + ", ".join(failed))
    worst = sorted(result.findings, key=lambda f: -f.severity.rank)[:10]
    if worst:
        lines.append("")
        lines.append("Most severe findings:")
        lines += [f"- {f.severity.value} {f.rule} {f.entity.name}: {f.message}" for f in worst]
    if reports:
        lines.append("")
        lines.append("Reports: " + ", ".join(str(p) for p in reports))
    return Summary(subject, "\n".join(lines) + "\n", dict(counts), failed)


# --- e-mail -----------------------------------------------------------------------


@dataclass(frozen=True)
class EmailSettings:
    host: str
    port: int
    security: str  # starttls | tls | none
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    user: str | None = None
    password: str | None = None
    attach: tuple[str, ...] = ("html", "xlsx")
    ca_bundle: Path | None = None


_MIME = {
    ".html": ("text", "html"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".json": ("application", "json"),
    ".csv": ("text", "csv"),
}


def build_email(settings: EmailSettings, summary: Summary, attachments: Sequence[Path]) -> Any:
    message = EmailMessage()
    message["Subject"] = summary.subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    if settings.cc:
        message["Cc"] = ", ".join(settings.cc)
    message.set_content(summary.text)
    for path in attachments:
        maintype, subtype = _MIME.get(path.suffix, ("application", "octet-stream"))
        message.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    return message


def send_email(settings: EmailSettings, summary: Summary, attachments: Sequence[Path]) -> None:
    """Send one message to every To and Cc recipient; NotifyError says why it failed."""
    where = f"SMTP {settings.host}:{settings.port}"
    try:
        message = build_email(settings, summary, attachments)
        context = ssl.create_default_context(
            cafile=str(settings.ca_bundle) if settings.ca_bundle else None
        )
        if settings.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=SMTP_TIMEOUT_S, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_S)
        with client:
            if settings.security == "starttls":
                client.starttls(context=context)
            if settings.user:
                client.login(settings.user, settings.password or "")
            refused = client.send_message(message, to_addrs=[*settings.to, *settings.cc])
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(
            f"{where}: login refused ({exc.smtp_code})", hint="check the SMTP user and password"
        ) from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        reason = (
            getattr(exc, "strerror", None) or str(exc).splitlines()[0][:200] or type(exc).__name__
        )
        raise NotifyError(
            f"{where}: e-mail not sent: {reason}",
            hint="the reports were written; check [notify.email] (host, port, security)",
        ) from None
    if refused:
        raise NotifyError(
            f"{where}: refused recipients: {', '.join(sorted(refused))}",
            hint="the others received it",
        )


# --- webhooks ---------------------------------------------------------------------


def webhook_payload(kind: str, result: AuditResult, summary: Summary) -> dict[str, Any]:
    """The JSON body for a ``json``, ``slack`` or ``teams`` webhook."""
    if kind == "slack":
        return {"text": f"*{summary.subject}*\n{summary.text}"}
    if kind == "teams":
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {
                                "type": "TextBlock",
                                "text": summary.subject,
                                "weight": "Bolder",
                                "wrap": True,
                            },
                            {"type": "TextBlock", "text": summary.text, "wrap": True},
                        ],
                    },
                }
            ],
        }
    return {
        "subject": summary.subject,
        "text": summary.text,
        "generated_at": result.generated_at.isoformat(),
        "findings": dict(summary.counts),
        "failed_sources": list(summary.failed_sources),
        "sources": [s.server for s in result.snapshot.sources],
    }


def post_webhook(url: str, payload: Mapping[str, Any], *, ca_bundle: Path | None = None) -> None:
    """POST ``payload`` as JSON; NotifyError (naming the host, never the URL's secret path)."""
    from urllib.parse import urlsplit

    host = urlsplit(url).netloc.rpartition("@")[2] or "webhook"
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": "balloon-audit"},
        method="POST",
    )
    context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S, context=context) as answer:
            answer.read(65536)
    except urllib.error.HTTPError as exc:
        raise NotifyError(
            f"webhook {host}: answered HTTP {exc.code}", hint="check the webhook URL"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise NotifyError(f"webhook {host}: not delivered: {reason}") from None


# --- configuration ([notify] table) -----------------------------------------------

NOTIFY_ON = ("always", "findings", "new")
SECURITY = ("starttls", "tls", "none")
ATTACHABLE = ("html", "xlsx", "json", "csv")
WEBHOOK_FORMATS = ("json", "slack", "teams")


def _choice(choices: tuple[str, ...]) -> Any:
    def check(value: Any) -> str:
        if value not in choices:
            reject(f"must be one of {', '.join(choices)}{suggest(str(value), choices)}")
        return str(value)

    return BeforeValidator(check)


def _addresses(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and "@" in v for v in value):
        reject('must be an array of e-mail addresses, e.g. ["ops@example.com"]')
    return tuple(v.strip() for v in value)


class EmailSection(InputModel):
    """``[notify.email]``."""

    host: Annotated[str, BeforeValidator(non_empty_text)]
    port: Annotated[int, BeforeValidator(port_number)] = 587
    security: Annotated[str, _choice(SECURITY)] = "starttls"
    sender: Annotated[str, BeforeValidator(non_empty_text)]
    to: Annotated[tuple[str, ...], BeforeValidator(_addresses)]
    cc: Annotated[tuple[str, ...], BeforeValidator(_addresses)] = ()
    user: Annotated[str | None, BeforeValidator(non_empty_text)] = None
    password_env: Annotated[str | None, BeforeValidator(non_empty_text)] = None
    password_file: Annotated[str | None, BeforeValidator(non_empty_text)] = None
    attach: tuple[Annotated[str, _choice(ATTACHABLE)], ...] = ("html", "xlsx")
    ca_bundle: Annotated[str | None, BeforeValidator(non_empty_text)] = None

    @classmethod
    def unknown_key(cls, key: str) -> str:
        if key == "password":
            return "never write the SMTP password here: use password_env or password_file"
        return f"unknown key{suggest(key, cls.model_fields)}"

    @model_validator(mode="after")
    def _password_with_user(self) -> EmailSection:
        if self.password_env and self.password_file:
            reject("give password_env or password_file, not both", key="password_file")
        if (self.password_env or self.password_file) and not self.user:
            reject("a password needs a user", key="user")
        return self


class WebhookSection(InputModel):
    """``[[notify.webhook]]``."""

    url: Annotated[str | None, BeforeValidator(lambda v: _url(v))] = None
    url_env: Annotated[str | None, BeforeValidator(non_empty_text)] = None
    format: Annotated[str, _choice(WEBHOOK_FORMATS)] = "json"
    ca_bundle: Annotated[str | None, BeforeValidator(non_empty_text)] = None

    @model_validator(mode="after")
    def _one_url(self) -> WebhookSection:
        if (self.url is None) == (self.url_env is None):
            reject("give exactly one of url and url_env", key="url")
        return self


class NotifySection(InputModel):
    """``[notify]``."""

    on: Annotated[str, _choice(NOTIFY_ON)] = "findings"
    email: EmailSection | None = None
    webhook: tuple[WebhookSection, ...] = ()


def _url(value: Any) -> str:
    text = non_empty_text(value)
    if not text.startswith(("https://", "http://")):
        reject("must be an http:// or https:// URL")
    return text


# --- deciding and delivering --------------------------------------------------------


def should_notify(on: str, result: AuditResult, previous: AuditResult | None) -> bool:
    """``always``; ``findings``: any active finding or failed source; ``new``: a finding that
    is new or worse since the previous run (as ``--fail-on new``), or a failed source."""
    failed = any(not s.ok for s in result.snapshot.sources)
    if on == "always":
        return True
    if on == "findings":
        return failed or bool(result.findings)
    return failed or bool(new_findings(result, previous))


def new_findings(result: AuditResult, previous: AuditResult | None) -> list[Any]:
    """New and worsened findings: the history's comparison when the scan recorded one
    (``result.changes``), else a comparison with ``previous`` (the output directory's
    latest JSON result; ``None``: every finding is new)."""
    from balloon_audit.history.changes import NEW, WORSENED

    changes = result.changes
    if changes is None:
        from balloon_audit.history.compare import compare
        from balloon_audit.history.view import key_result

        old = key_result(previous).view if previous is not None else None
        changes = compare(old, key_result(result).view)
    return [*changes.of_status(NEW), *changes.of_status(WORSENED)]


def _secret(env_name: str | None, file_name: str | None, environ: Mapping[str, str]) -> str | None:
    from balloon_audit.fleet_file import read_secret_file

    if env_name:
        value = environ.get(env_name)
        if not value:
            raise ConfigError(f"notify: ${env_name} is not set or empty")
        return value
    if file_name:
        return read_secret_file("notify.email.password_file", Path(file_name).expanduser())
    return None


def deliver(
    section: NotifySection,
    result: AuditResult,
    reports: Mapping[str, Path],
    environ: Mapping[str, str],
) -> list[str]:
    """Send every configured notification; returns what was delivered.

    Every channel is tried; NotifyError lists those that failed.
    """
    summary = summarize(result, list(reports.values()))
    delivered: list[str] = []
    failures: list[NotifyError] = []
    if section.email is not None:
        email = section.email
        settings = EmailSettings(
            host=email.host,
            port=email.port,
            security=email.security,
            sender=email.sender,
            to=email.to,
            cc=email.cc,
            user=email.user,
            password=_secret(email.password_env, email.password_file, environ),
            attach=email.attach,
            ca_bundle=Path(email.ca_bundle) if email.ca_bundle else None,
        )
        attachments = [reports[k] for k in email.attach if k in reports]
        try:
            send_email(settings, summary, attachments)
            delivered.append(f"e-mail to {len(email.to) + len(email.cc)} recipient(s)")
        except NotifyError as exc:
            failures.append(exc)
    for hook in section.webhook:
        url = hook.url or environ.get(hook.url_env or "", "")
        if not url:
            failures.append(NotifyError(f"webhook: ${hook.url_env} is not set or empty"))
            continue
        try:
            post_webhook(
                url,
                webhook_payload(hook.format, result, summary),
                ca_bundle=Path(hook.ca_bundle) if hook.ca_bundle else None,
            )
            delivered.append(f"{hook.format} webhook")
        except NotifyError as exc:
            failures.append(exc)
    if failures:
        raise NotifyError(
            "; ".join(str(f) for f in failures),
            hint=(failures[0].hint or "") + " (the reports were kept)",
        )
    return delivered
