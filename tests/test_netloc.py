"""host:port text: one helper for labels, placeholders, commands and URLs."""

from __future__ import annotations

import pytest

from balloon_audit.netloc import bracketed, join_hostport, sdk_url, split_hostport


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vc01", ("vc01", None)),
        ("vc01:8443", ("vc01", 8443)),
        ("10.0.0.5:443", ("10.0.0.5", 443)),
        ("[2001:db8::1]:8443", ("2001:db8::1", 8443)),
        ("[2001:db8::1]", ("2001:db8::1", None)),
        ("2001:db8::1", ("2001:db8::1", None)),
        ("::1", ("::1", None)),
        ("vc01:https", ("vc01:https", None)),
    ],
)
def test_split(text: str, expected: tuple[str, int | None]) -> None:
    assert split_hostport(text) == expected


@pytest.mark.parametrize(
    ("host", "port", "text"),
    [
        ("vc01", None, "vc01"),
        ("vc01", 8443, "vc01:8443"),
        ("2001:db8::1", None, "2001:db8::1"),
        ("2001:db8::1", 8443, "[2001:db8::1]:8443"),
    ],
)
def test_join_round_trips(host: str, port: int | None, text: str) -> None:
    assert join_hostport(host, port) == text
    assert split_hostport(text) == (host, port)


def test_urls_bracket_ipv6() -> None:
    assert bracketed("vc01") == "vc01"
    assert sdk_url("vc01") == "https://vc01/sdk"
    assert sdk_url("127.0.0.1", 8989) == "https://127.0.0.1:8989/sdk"
    assert sdk_url("::1") == "https://[::1]/sdk"
    assert sdk_url("fe80::1", 8443) == "https://[fe80::1]:8443/sdk"
