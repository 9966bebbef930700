"""Server specs and targets: parsing, labels, and the password kept out of repr."""

from __future__ import annotations

import pytest

from balloon_audit.collect import Target, parse_server
from balloon_audit.errors import ConfigError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("vc01", ("vc01", None, None)),
        ("vc01.example.com", ("vc01.example.com", None, None)),
        ("vc01:8443", ("vc01", 8443, None)),
        ("10.0.0.5:443", ("10.0.0.5", 443, None)),
        ("https://vc01/sdk", ("vc01", None, None)),
        ("https://user@vc01/sdk", ("vc01", None, "user")),
        ("https://user@vc01:8443/sdk", ("vc01", 8443, "user")),
        (
            "https://administrator%40vsphere.local@vc01/sdk",
            ("vc01", None, "administrator@vsphere.local"),
        ),
        ("HTTPS://vc01", ("vc01", None, None)),
        ("[::1]:8443", ("::1", 8443, None)),
        ("[::1]", ("::1", None, None)),
        ("::1", ("::1", None, None)),
        ("https://[fe80::1]:9443/sdk", ("fe80::1", 9443, None)),
        ("  vc01  ", ("vc01", None, None)),
    ],
)
def test_parse_server_accepts(spec: str, expected: tuple) -> None:
    assert parse_server(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        "http://vc01/sdk",
        "ftp://vc01",
        "vc01:notaport",
        "vc01:70000",
        "https://vc01/ui",
        "vc 01",
    ],
)
def test_parse_server_rejects(spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_server(spec)
    assert info.value.hint


def test_password_in_url_is_refused_and_not_repeated() -> None:
    with pytest.raises(ConfigError) as info:
        parse_server("https://admin:Sup3rS3cret@vc01/sdk")
    assert "Sup3rS3cret" not in str(info.value)
    assert "Sup3rS3cret" not in (info.value.hint or "")
    assert "BALLOON_AUDIT_PASSWORD" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("target", "label"),
    [
        (Target("vc01"), "vc01"),
        (Target("vc01", port=8443), "vc01:8443"),
        (Target("::1"), "::1"),
        (Target("::1", port=8443), "[::1]:8443"),
    ],
)
def test_label(target: Target, label: str) -> None:
    assert target.label == label


def test_target_repr_hides_password_and_verifies_tls_by_default() -> None:
    target = Target("vc01", user="auditor", password="hunter2-secret")
    assert "hunter2-secret" not in repr(target)
    assert "hunter2-secret" not in str(target)
    assert target.insecure is False
    assert target.ca_bundle is None
