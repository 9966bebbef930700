"""The project's own exceptions; each carries a hint the user can act on."""

from __future__ import annotations


class BalloonAuditError(Exception):
    """Base class. ``str(e)`` is one line without secrets; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(BalloonAuditError):
    """Invalid configuration or command-line input (exit code 2)."""


class CollectionError(BalloonAuditError):
    """A vCenter could not be audited."""


class AuthenticationError(CollectionError):
    pass


class ConnectionFailedError(CollectionError):
    """Unreachable host, refused port, DNS failure."""


class TLSVerificationError(CollectionError):
    pass


class CollectionTimeoutError(CollectionError):
    pass


class PermissionDeniedError(CollectionError):
    pass


class ReportError(BalloonAuditError):
    """A report could not be written."""


class LabError(BalloonAuditError):
    """The vcsim lab could not be started, seeded or stopped."""


class HistoryError(BalloonAuditError):
    """The history database could not be opened, read or written (exit code 3).

    Reports are still written: history is never a reason to lose a run's output.
    """
