"""The project's own exceptions; each carries a hint the user can act on and its exit code.

Exit codes (also in the README): 0 nothing at or above ``--fail-on``, 1 findings at or
above it, 2 usage or configuration error, 3 the audit could not be completed. A
collection error also names the *kind* of failure, which the JSON result records
per failed source (``error_kind``) so that scripts need not parse messages.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class ExitCode(enum.IntEnum):
    """What ``balloon-audit`` exits with."""

    OK = 0
    FINDINGS = 1
    USAGE = 2
    FAILED = 3
    STDOUT_CLOSED = 141
    """128 + SIGPIPE, as a shell reports a pipeline member killed by a closed pipe."""


class FailureKind(str, enum.Enum):
    """Why a source could not be audited: the ``error_kind`` of a failed source."""

    LOGIN = "login"
    TLS = "tls"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    PERMISSION = "permission"
    PROTOCOL = "protocol"
    """The server answered, but not as a vSphere API endpoint should."""
    CONFIG = "config"
    """Local settings made the source unusable, e.g. an unreadable ``--ca-bundle``."""
    CAPTURE = "capture"
    """Replay: the capture cannot answer what the run asked."""
    UNEXPECTED = "unexpected"
    """A bug in balloon-audit or a library; the message says what was raised."""

    def __str__(self) -> str:
        return self.value


class BalloonAuditError(Exception):
    """Base class. ``str(e)`` is one line without secrets; ``hint`` says what to do."""

    exit_code: ClassVar[ExitCode] = ExitCode.FAILED
    kind: ClassVar[FailureKind] = FailureKind.UNEXPECTED
    """What a failed source records when this error stopped its collection."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(BalloonAuditError):
    """Invalid configuration or command-line input."""

    exit_code = ExitCode.USAGE
    kind = FailureKind.CONFIG


class CollectionError(BalloonAuditError):
    """A vCenter could not be audited; ``kind`` says why, in one word."""

    kind = FailureKind.PROTOCOL


class AuthenticationError(CollectionError):
    kind = FailureKind.LOGIN


class ConnectionFailedError(CollectionError):
    """Unreachable host, refused port, DNS failure."""

    kind = FailureKind.UNREACHABLE


class ProtocolError(ConnectionFailedError):
    """Something answered on the port, but it is not a vSphere API endpoint."""

    kind = FailureKind.PROTOCOL


class TLSHandshakeError(ConnectionFailedError):
    """The TLS handshake failed (protocol versions, ciphers), before any certificate check."""

    kind = FailureKind.TLS


class TLSVerificationError(CollectionError):
    kind = FailureKind.TLS


class CollectionTimeoutError(CollectionError):
    kind = FailureKind.TIMEOUT


class PermissionDeniedError(CollectionError):
    kind = FailureKind.PERMISSION


class ReportError(BalloonAuditError):
    """A report could not be written."""


class ResultFileError(ReportError):
    """A saved JSON result cannot be read back (``balloon-audit report``): a usage error."""

    exit_code = ExitCode.USAGE


class LabError(BalloonAuditError):
    """The vcsim lab could not be started, seeded or stopped."""


class HistoryError(BalloonAuditError):
    """The history database could not be opened, read or written (exit code 3).

    Reports are still written: history is never a reason to lose a run's output.
    """
