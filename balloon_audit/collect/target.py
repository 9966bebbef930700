"""Where to collect from: a vCenter / ESXi endpoint and how to reach it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from balloon_audit.errors import ConfigError
from balloon_audit.netloc import join_hostport
from balloon_audit.scope import Scope

DEFAULT_PORT = 443

_HOST_RE = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class Target:
    """One endpoint to audit. The password is kept out of ``repr`` and never logged."""

    server: str
    """Host name or IP address (IPv6 without brackets)."""
    port: int = DEFAULT_PORT
    user: str = ""
    password: str = field(default="", repr=False)
    insecure: bool = False
    """Skip TLS certificate verification. Verification is the default, also for 127.0.0.1."""
    ca_bundle: Path | None = None
    """PEM file with the CA (or self-signed) certificate(s) to trust for this endpoint."""
    connect_timeout_s: float = 15.0
    """TCP connect, TLS handshake, API version discovery and login."""
    request_timeout_s: float = 300.0
    """Longest time for one whole API answer (one page of properties) once logged in."""
    deadline_s: float = 3600.0
    """Longest time for the whole collection from this endpoint, login to logout."""
    scope: Scope | None = None
    """Only these datacenters, clusters, hosts, folders, pools, VMs (None: everything)."""

    @property
    def label(self) -> str:
        """How the endpoint is named in results: ``host``, or ``host:port`` when not 443."""
        return join_hostport(self.server, None if self.port == DEFAULT_PORT else self.port)

    @property
    def hostport(self) -> str:
        """``host:port`` always (IPv6 bracketed), e.g. for capture placeholders."""
        return join_hostport(self.server, self.port)


def parse_server(spec: str) -> tuple[str, int | None, str | None]:
    """Split a server spec into (host, port or None, user or None).

    Accepts ``vc01``, ``vc01:8443``, ``[::1]:8443``, ``::1`` and GOVC_URL-style
    ``https://user@vc01:8443/sdk``. A password inside the spec is refused:
    secrets belong in the environment or a prompt, never on a command line.
    """
    text = spec.strip()
    if not text:
        raise ConfigError("empty server name", hint="pass a host name or IP, e.g. --server vc01")
    if "://" not in text and _is_bare_ipv6(text):
        return text, None, None
    parts, port = _split_url(text)
    if parts.password is not None:
        raise ConfigError(
            "the server URL contains a password",
            hint="remove it from the URL; set BALLOON_AUDIT_PASSWORD or answer the prompt instead",
        )
    if parts.path not in ("", "/", "/sdk", "/sdk/") or parts.query or parts.fragment:
        raise ConfigError(
            "server URL path must be /sdk",
            hint="use https://host/sdk or just the host name",
        )
    host = parts.hostname or ""
    if not host or not (_HOST_RE.match(host) or _is_bare_ipv6(host)):
        raise ConfigError(
            "server has no valid host name",
            hint="examples: vc01, vc01:8443, [::1]:8443, https://user@vc01/sdk",
        )
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"port {port} is out of range", hint="use a port between 1 and 65535")
    user = unquote(parts.username) if parts.username else None
    return host, port, user


def _split_url(text: str) -> tuple[SplitResult, int | None]:
    """``text`` (an https:// URL or host[:port]) split, with its port."""
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme != "https":
            raise ConfigError(
                f"unsupported URL scheme {scheme!r} in server",
                hint="vSphere speaks HTTPS only: use https://host/sdk or just the host name",
            )
    else:
        text = "//" + text
    try:
        parts = urlsplit(text)
        return parts, parts.port
    except ValueError:
        raise ConfigError(
            "server is not a valid host[:port] or https:// URL",
            hint="examples: vc01, vc01:8443, [::1]:8443, https://user@vc01/sdk",
        ) from None


def _is_bare_ipv6(text: str) -> bool:
    return text.count(":") >= 2 and re.fullmatch(r"[0-9A-Fa-f:.%a-zA-Z0-9]+", text) is not None
