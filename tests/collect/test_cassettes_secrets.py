"""No cassette may hold a password, a session cookie or key, or a real host name or address.

The scan reads every ``cassettes/*.yaml`` as text and as YAML. It is tested against planted
leaks first, so that a scanner that finds nothing cannot pass silently.
"""

from __future__ import annotations

import functools
import gzip
import ipaddress
import re
import socket
from pathlib import Path

import pytest
import yaml

from balloon_audit.collect.capture.scrub import (
    PASSWORD_PLACEHOLDER,
    SESSION_PLACEHOLDER,
    USER_PLACEHOLDER,
    is_placeholder_host,
)
from tests.paths import CASSETTES

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Host names that may appear in URLs: XML namespaces, not machines we talked to.
NAMESPACE_HOSTS = {"schemas.xmlsoap.org", "www.w3.org"}
DOCUMENTATION_V4 = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24")]
DOCUMENTATION_V4.append(ipaddress.ip_network("203.0.113.0/24"))
DOCUMENTATION_V6 = ipaddress.ip_network("2001:db8::/32")

_ELEMENT = r"<(?:\w+:)?{name}(?:\s[^>]*)?>([^<]*)</(?:\w+:)?{name}>"
_PASSWORD_RE = re.compile(_ELEMENT.format(name="password"))
_USER_RE = re.compile(_ELEMENT.format(name="userName"))
_COOKIE_RE = re.compile(r'vmware_soap_session="?([^";,\s]*)')
_SESSION_KEY_RE = re.compile(r"session\[([^\]]*)\]")
_LOGIN_KEY_RE = re.compile(r"<LoginResponse\b.*?<key>([^<]*)</key>", re.DOTALL)
_IPV4_RE = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])")
_IPV6_RE = re.compile(
    r"(?<![\w:])([0-9A-Fa-f:]*::[0-9A-Fa-f:]*|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4})"
)
_URL_RE = re.compile(r"\bhttps?://(\[[^\]]+\]|[^/\s\"'<>:]+)")
_VERSION_CONTEXT = re.compile(r"(?:ersion>|ersionId=\"|urn:vim25/|build>)$", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def _machine_names() -> frozenset[str]:
    names = {"localhost"}
    for name in (socket.gethostname(), socket.getfqdn()):
        if name and len(name) >= 4:
            names.add(name.lower())
    return frozenset(names)


def find_leaks(text: str) -> list[str]:
    """Every secret or real endpoint in a cassette's text, one line each."""
    return [*_secret_leaks(text), *_address_leaks(text), *_host_leaks(text)]


def _secret_leaks(text: str) -> list[str]:
    """Passwords, user names and session keys that are not the scrubber's placeholders."""
    found = [
        (_PASSWORD_RE, PASSWORD_PLACEHOLDER, "password"),
        (_USER_RE, USER_PLACEHOLDER, "user name"),
        (_COOKIE_RE, SESSION_PLACEHOLDER, "session cookie"),
        (_SESSION_KEY_RE, SESSION_PLACEHOLDER, "session key in a view ID"),
        (_LOGIN_KEY_RE, SESSION_PLACEHOLDER, "session key"),
    ]
    return [
        f"{what} {value!r}"
        for pattern, placeholder, what in found
        for value in pattern.findall(text)
        if value != placeholder
    ]


def _address_leaks(text: str) -> list[str]:
    """IPv4 and IPv6 addresses outside the documentation ranges."""
    leaks: list[str] = []
    for match in _IPV4_RE.finditer(text):
        before = text[max(0, match.start() - 12) : match.start()]
        if _VERSION_CONTEXT.search(before):
            continue  # 8.0.3.0 is an API version, not an address
        try:
            address = ipaddress.IPv4Address(match.group(1))
        except ValueError:
            continue
        if not any(address in net for net in DOCUMENTATION_V4):
            leaks.append(f"IPv4 address {address}")
    for match in _IPV6_RE.finditer(text):
        try:
            address6 = ipaddress.IPv6Address(match.group(1))
        except ValueError:
            continue
        if address6 not in DOCUMENTATION_V6:
            leaks.append(f"IPv6 address {address6}")
    return leaks


def _host_leaks(text: str) -> list[str]:
    """URL hosts that are not placeholders, and this machine's own names."""
    leaks: list[str] = []
    for host in _URL_RE.findall(text):
        name = host.strip("[]").lower()
        if name not in NAMESPACE_HOSTS and not is_placeholder_host(name):
            leaks.append(f"URL host {name!r}")
    lowered = text.lower()
    for name in _machine_names():
        if re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", lowered):
            leaks.append(f"machine name {name!r}")
    return leaks


def read_cassette(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def find_leaks_in_cassette(path: Path) -> list[str]:
    text = read_cassette(path)
    leaks = find_leaks(text)
    document = yaml.load(text, Loader=LOADER)
    for i, interaction in enumerate(document["interactions"]):
        request, response = interaction["request"], interaction["response"]
        host = re.sub(r"^https?://([^/:]+).*$", r"\1", request["uri"])
        if not is_placeholder_host(host):
            leaks.append(f"interaction {i}: request to {host!r}")
        for name in request.get("headers") or {}:
            if name.lower() in ("cookie", "authorization", "user-agent", "host"):
                leaks.append(f"interaction {i}: request header {name}")
        # YAML folds long strings: scan the parsed bodies too, in case a value was split
        for part in (request.get("body"), (response.get("body") or {}).get("string")):
            if isinstance(part, str):
                leaks.extend(f"interaction {i}: {leak}" for leak in find_leaks(part))
    return sorted(set(leaks))


def cassette_paths() -> list[Path]:
    return sorted([*CASSETTES.glob("*.yaml"), *CASSETTES.glob("*.yaml.gz")])


def test_there_are_cassettes_to_scan() -> None:
    names = {p.name.split(".")[0] for p in cassette_paths()}
    assert {"demo", "empty", "esx", "large", "rejected-login"} <= names


@pytest.mark.parametrize("path", cassette_paths(), ids=lambda p: p.name)
def test_cassette_holds_no_secret_and_no_real_host(path: Path) -> None:
    assert find_leaks_in_cassette(path) == []


# --- the scanner itself ---------------------------------------------------------------

CLEAN = (
    "https://vcenter-1.invalid/sdk <password>scrubbed-password</password> "
    '<userName versionId="8.0">scrubbed-user</userName> '
    'vmware_soap_session="scrubbed-session"; session[scrubbed-session]view-1 '
    "<ipAddress>192.0.2.1</ipAddress> <apiVersion>8.0.3.0</apiVersion> "
    'versionId="8.0.2.0" <loginTime>2024-01-01T12:34:56.123Z</loginTime> 00:50:56:aa:bb:cc '
    "http://schemas.xmlsoap.org/soap/envelope/ DC0_C0_H0 2001:db8::1"
)


def test_scanner_passes_a_clean_text() -> None:
    assert find_leaks(CLEAN) == []


@pytest.mark.parametrize(
    "planted",
    [
        "<password>hunter22</password>",
        '<password versionId="8.0">x</password>',
        "<userName>administrator@vsphere.local</userName>",
        'vmware_soap_session="52a1b2c3d4e5"',
        "session[52a1b2c3-aaaa]52ff",
        "<LoginResponse><returnval><key>52a1b2c3</key>",
        "connected to 10.0.0.12 today",
        "<val>127.0.0.1</val>",
        "[::1]:8989",
        "fe80::1ff:fe23:4567:890a",
        "https://vc01.corp.example/sdk",
        "<name>localhost.localdomain</name>",
    ],
)
def test_scanner_finds_a_planted_leak(planted: str) -> None:
    assert find_leaks(CLEAN + " " + planted) != []


def test_scanner_finds_a_leak_split_by_yaml_folding(tmp_path: Path) -> None:
    body = "<a>" + "x " * 80 + "<password>folded-secret</password></a>"
    document = {
        "interactions": [
            {
                "request": {"method": "POST", "uri": "https://vcenter-1.invalid/sdk", "body": body},
                "response": {"status": {"code": 200}, "body": {"string": ""}},
            }
        ]
    }
    path = tmp_path / "folded.yaml"
    path.write_text(yaml.safe_dump(document, width=40))
    assert any("folded-secret" in leak for leak in find_leaks_in_cassette(path))
