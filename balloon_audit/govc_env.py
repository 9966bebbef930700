"""govc's environment variables, read as govc users expect (docs/fleet.md, "govc variables").

Precedence, highest first: command-line options; ``BALLOON_AUDIT_*`` variables; the
fleet file (servers only); ``GOVC_*`` variables. In detail:

- server: ``--server`` / ``$BALLOON_AUDIT_SERVER``, else the fleet file, else ``$GOVC_URL``;
- user: ``--user`` / ``$BALLOON_AUDIT_USER``, else the user in the server URL,
  else ``$GOVC_USERNAME``;
- password: ``--password-stdin``, else ``$BALLOON_AUDIT_PASSWORD``, else the password in
  ``$GOVC_URL``, else ``$GOVC_PASSWORD``, else a prompt;
- ``--insecure``, else ``$GOVC_INSECURE`` (``1`` or ``true``);
- ``--ca-bundle``, else ``$GOVC_TLS_CA_CERTS`` (one PEM file).

A password is accepted inside ``$GOVC_URL`` (govc allows it; the environment is not a
command line) but never inside ``--server``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from balloon_audit.errors import ConfigError

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class GovcSettings:
    """What the ``GOVC_*`` variables say; ``None`` where a variable is unset."""

    server: str | None = None
    """``$GOVC_URL`` without its password (still with its user)."""
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    insecure: bool = False
    ca_bundle: Path | None = None


def read_govc_env(environ: Mapping[str, str] | None = None) -> GovcSettings:
    """The ``GOVC_*`` settings in ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    server, url_password = _split_password(env.get("GOVC_URL", "").strip())
    ca_text = env.get("GOVC_TLS_CA_CERTS", "").strip()
    if os.pathsep in ca_text:
        raise ConfigError(
            "$GOVC_TLS_CA_CERTS names several files; balloon-audit reads one PEM file",
            hint="concatenate the certificates into one file (cat a.pem b.pem > ca.pem)",
        )
    return GovcSettings(
        server=server or None,
        user=env.get("GOVC_USERNAME", "").strip() or None,
        password=url_password or env.get("GOVC_PASSWORD") or None,
        insecure=env.get("GOVC_INSECURE", "").strip().lower() in _TRUE,
        ca_bundle=Path(ca_text).expanduser() if ca_text else None,
    )


def _split_password(url: str) -> tuple[str, str | None]:
    """``https://user:pw@vc/sdk`` -> (``https://user@vc/sdk``, ``pw``)."""
    if not url or "@" not in url:
        return url, None
    text = url if "://" in url else "https://" + url
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return url, None  # parse_server reports the malformed URL later
    if password is None:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit(parts._replace(netloc=netloc)), unquote(password)
