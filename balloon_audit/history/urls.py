"""Passwords out of database URLs before a command line is recorded or shown."""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(://[^/:@\s]*):[^@/\s]*@")
_QUERY_PASSWORD = re.compile(r"[?&]password=", re.IGNORECASE)


def has_password(url: str) -> bool:
    """Whether ``url`` carries a password (``user:secret@`` or ``?password=``)."""
    return bool(_URL_PASSWORD.search(url) or _QUERY_PASSWORD.search(url))


def redact_urls(text: str) -> str:
    """``postgresql://u:secret@h/db`` → ``postgresql://u:***@h/db`` (for ``run_by.command``)."""
    return _URL_PASSWORD.sub(r"\1:***@", text)
