"""Where a scan keeps its history: ``--history`` / ``--no-history``, the fleet file, the config.

Both files may say ``history = "postgresql://audit@db.example.com/balloon"`` (or a file
path, or ``sqlite:///PATH``) or ``history = false``. The first of these that says something
wins: ``--no-history``, ``--history`` (or ``$BALLOON_AUDIT_HISTORY``), the fleet file, the
configuration file; otherwise the default SQLite file. A URL in a file never holds a
password: libpq reads it from ``PGPASSWORD``, ``PGPASSFILE``, ``~/.pgpass`` or the URL's
``?passfile=PATH``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator

from balloon_audit.history.urls import has_password
from balloon_audit.validation import reject

HistoryValue = str | bool
"""``history = …`` in a file: a URL or path, ``false`` (off) or ``true`` (the default)."""


def history_value(value: Any) -> HistoryValue:
    """Validator of ``history = …`` in the configuration file and the fleet file."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.strip():
        reject(
            'must be a database URL or a file path, e.g. "postgresql://audit@db.example.com/'
            'balloon_audit", or false'
        )
    if has_password(value):
        reject(
            "must not hold a password (anyone who can read the file could use it): PostgreSQL "
            "reads it from PGPASSWORD, PGPASSFILE, ~/.pgpass or ?passfile=PATH (docs/history.md)"
        )
    return value.strip()


HistoryValueField = Annotated[str | bool | None, BeforeValidator(history_value)]
"""The ``history`` key of the configuration file and the fleet file."""


@dataclass(frozen=True)
class HistoryChoice:
    """The database a scan uses, and who chose it (for messages)."""

    on: bool
    url: str | None
    """``None``: the default SQLite file."""
    origin: str


def choose(
    no_history: bool, option: str | None, fleet_value: HistoryValue | None,
    config_value: HistoryValue | None,
) -> HistoryChoice:  # fmt: skip
    """The first of --no-history, --history, the fleet file and the config file that says."""
    if no_history:
        return HistoryChoice(False, None, "--no-history")
    if option:
        return HistoryChoice(True, option, "--history")
    for value, origin in (
        (fleet_value, "the fleet file"),
        (config_value, "the configuration file"),
    ):
        if value is None:
            continue
        if value is False:
            return HistoryChoice(False, None, f"history = false in {origin}")
        return HistoryChoice(True, None if value is True else str(value), origin)
    return HistoryChoice(True, None, "default")
