"""Each error class carries its exit code, and a collection error the kind of failure."""

from __future__ import annotations

import pytest

from balloon_audit import errors
from balloon_audit.errors import ExitCode, FailureKind


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (errors.ConfigError, ExitCode.USAGE),
        (errors.ResultFileError, ExitCode.USAGE),
        (errors.CollectionError, ExitCode.FAILED),
        (errors.AuthenticationError, ExitCode.FAILED),
        (errors.ReportError, ExitCode.FAILED),
        (errors.LabError, ExitCode.FAILED),
    ],
)
def test_exit_codes(cls: type[errors.BalloonAuditError], code: ExitCode) -> None:
    assert cls("x").exit_code == code


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (errors.AuthenticationError, FailureKind.LOGIN),
        (errors.TLSVerificationError, FailureKind.TLS),
        (errors.TLSHandshakeError, FailureKind.TLS),
        (errors.CollectionTimeoutError, FailureKind.TIMEOUT),
        (errors.ConnectionFailedError, FailureKind.UNREACHABLE),
        (errors.PermissionDeniedError, FailureKind.PERMISSION),
        (errors.ProtocolError, FailureKind.PROTOCOL),
        (errors.CollectionError, FailureKind.PROTOCOL),
        (errors.ConfigError, FailureKind.CONFIG),
    ],
)
def test_failure_kinds(cls: type[errors.BalloonAuditError], kind: FailureKind) -> None:
    assert cls("x").kind is kind
    assert str(kind) == kind.value


def test_exit_codes_are_the_documented_numbers() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 141]
