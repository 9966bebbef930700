"""Text rules for captures: scrub secrets out of SOAP traffic, and normalise bodies for matching.

Pure functions and one small stateful ``Scrubber``; no vcrpy, no pyVmomi, no I/O, so the
rules can be tested (and reused by the cassette secret scan) on plain strings.

What a capture may keep: inventory names and figures (the audit needs them). What it must
not keep: the user name and password of the Login call, session cookies and session keys,
and the endpoint's host name, address and port, which become ``vcenter-N.invalid``.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax import saxutils

from balloon_audit.netloc import split_hostport

PLACEHOLDER_SUFFIX = ".invalid"
"""RFC 2606 reserves ``.invalid``: a placeholder can never resolve to a real machine."""
USER_PLACEHOLDER = "scrubbed-user"
PASSWORD_PLACEHOLDER = "scrubbed-password"
SESSION_PLACEHOLDER = "scrubbed-session"
ADDRESS_PLACEHOLDER = "192.0.2.1"
"""TEST-NET-1 (RFC 5737), for client addresses the server echoes back."""
AGENT_PLACEHOLDER = "scrubbed-agent"
SESSION_COOKIE = "vmware_soap_session"

LOOPBACK_ALIASES = ("localhost.localdomain", "localhost")
"""Names of the recording machine that a loopback endpoint (vcsim) reports for itself."""

_PLACEHOLDER_HOST_RE = re.compile(r"^vcenter-(\d+)\.invalid$")

# Credentials, wherever they are sent.
_CREDENTIAL_ELEMENTS = {"userName": USER_PLACEHOLDER, "password": PASSWORD_PLACEHOLDER}
# A UserSession (the Login answer) also names the person and the client machine; these
# element names mean other things elsewhere (``about.fullName`` is the product name).
_SESSION_ELEMENTS = {
    **_CREDENTIAL_ELEMENTS,
    "fullName": USER_PLACEHOLDER,
    "ipAddress": ADDRESS_PLACEHOLDER,
    "userAgent": AGENT_PLACEHOLDER,
}


def _element_re(names: dict[str, str]) -> re.Pattern[str]:
    return re.compile(
        r"<(?P<tag>(?:\w+:)?(?:" + "|".join(names) + r"))(?P<attrs>(?:\s[^>]*)?)>"
        r"(?P<text>[^<]*)</(?P=tag)>"
    )


_CREDENTIAL_RE = _element_re(_CREDENTIAL_ELEMENTS)
_SESSION_RE = _element_re(_SESSION_ELEMENTS)
_USER_SESSION_MARKERS = ("LoginResponse", '"UserSession"', "<currentSession")
_LOGIN_KEY_RE = re.compile(r"(<LoginResponse\b.*?<key>)([^<]*)(</key>)", re.DOTALL)
_COOKIE_RE = re.compile(SESSION_COOKIE + r'=(?P<q>"?)(?P<value>[^";,\s]*)(?P=q)')
_VIEW_RE = re.compile(r"session\[(?P<key>[^\]]*)\](?P<id>[0-9A-Za-z_-]+)")
_TOKEN_RE = re.compile(r"<token(?P<attrs>\s[^>]*)?>(?P<value>[^<]*)</token>")
_SOAP_OP_RE = re.compile(r"<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?(?P<op>\w+)")
_PERF_TIME_RE = re.compile(r"<(?P<tag>startTime|endTime)>[^<]*</(?P=tag)>")


def placeholder_host(index: int) -> str:
    """The placeholder name of the ``index``-th source of a capture (1-based)."""
    return f"vcenter-{index}{PLACEHOLDER_SUFFIX}"


def is_placeholder_host(name: str) -> bool:
    return _PLACEHOLDER_HOST_RE.match(name.lower()) is not None


def placeholder_index(name: str) -> int:
    """1-based index of a placeholder host; large for anything else (sorts last)."""
    match = _PLACEHOLDER_HOST_RE.match(name.lower())
    return int(match.group(1)) if match else 1_000_000


def soap_operation(body: str | bytes | None) -> str:
    """``RetrievePropertiesEx`` for a SOAP call, ``GET``-style requests give ``""``."""
    text = _text(body)
    match = _SOAP_OP_RE.search(text)
    return match.group("op") if match else ""


def normalise_body(body: str | bytes | None) -> str:
    """The part of a request body that says what was asked, for matching a capture.

    Per-run values are blanked: credentials, view and session IDs, paging tokens and
    performance query times. Everything else (operation, object, property paths, page
    size) must be equal, so a collector that asks differently fails replay loudly.
    """
    text = _text(body)
    text = _CREDENTIAL_RE.sub(lambda m: f"<{m['tag']}{m['attrs']}>*</{m['tag']}>", text)
    text = _VIEW_RE.sub("session[*]*", text)
    text = _TOKEN_RE.sub(lambda m: f"<token{m['attrs'] or ''}>*</token>", text)
    return _PERF_TIME_RE.sub(lambda m: f"<{m['tag']}>*</{m['tag']}>", text)


def _text(body: str | bytes | None) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    return body


@dataclass(frozen=True)
class Endpoint:
    """A real server as recorded, and the placeholder that replaces it."""

    host: str
    port: int
    placeholder: str


def endpoint_key(netloc: str, default_port: int = 443) -> tuple[str, int]:
    """``[user@]host[:port]`` → (lower-case host without brackets, port): how endpoints match."""
    host, port = split_hostport(netloc.strip().rsplit("@", 1)[-1])
    return host.lower(), default_port if port is None else port


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_ALIASES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Scrubber:
    """Rewrites recorded requests and responses of one capture; thread-safe.

    Endpoints get placeholders in the order they are declared, then in the order
    they are first seen. Random per-run IDs (views, paging tokens) become stable,
    per-capture names, so a re-recording of the same lab differs only where the
    server's answers differ.
    """

    def __init__(self, servers: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._endpoints: dict[tuple[str, int], Endpoint] = {}
        self._secrets: dict[str, str] = {}
        self._passwords: set[str] = set()
        self._views: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        for server in servers:
            self.endpoint(*endpoint_key(server))

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        with self._lock:
            return tuple(self._endpoints.values())

    def endpoint(self, host: str, port: int) -> Endpoint:
        """The endpoint for a real ``host``/``port``, given a placeholder on first sight."""
        key = (host.lower().strip("[]"), port)
        with self._lock:
            found = self._endpoints.get(key)
            if found is None:
                if is_placeholder_host(key[0]):  # already scrubbed (replay of a capture)
                    found = Endpoint(key[0], port, key[0])
                else:
                    found = Endpoint(key[0], port, placeholder_host(len(self._endpoints) + 1))
                self._endpoints[key] = found
            return found

    def add_secret(self, value: str, replacement: str) -> None:
        """Replace ``value`` wherever it appears (raw or XML-escaped). Short values are
        kept out: replacing ``a`` everywhere would wreck the capture, and the element
        rules already cover the places where credentials are sent."""
        if len(value) < 4 or value == replacement:
            return
        with self._lock:
            self._secrets[value] = replacement
            escaped = _xml_escape(value)
            if escaped != value:
                self._secrets[escaped] = replacement

    def learn(self, request_body: str, response_headers: dict, response_body: str) -> None:
        """Pick up the secrets of one exchange before any text is rewritten."""
        for match in _CREDENTIAL_RE.finditer(request_body):
            name = match["tag"].split(":")[-1]
            if name == "password" and match["text"]:
                with self._lock:
                    self._passwords.add(_xml_unescape(match["text"]))
                    self._passwords.add(match["text"])
        for values in response_headers.values():
            for value in values if isinstance(values, list) else [values]:
                for cookie in _COOKIE_RE.finditer(str(value)):
                    self.add_secret(cookie["value"], SESSION_PLACEHOLDER)
        login = _LOGIN_KEY_RE.search(response_body)
        if login:
            self.add_secret(login.group(2), SESSION_PLACEHOLDER)

    def scrub_text(
        self, text: str, endpoint: Endpoint | None = None, *, login: bool = False
    ) -> str:
        """Rewrite one body or header value; ``login`` for the Login call and its answer.

        The password is sent once, in the Login call: it is replaced wherever it appears
        there (an error answer may echo it), and nowhere else, where the same characters
        are inventory data (a password ``DC0_C0`` must not rename cluster ``DC0_C0``).
        """
        if not text:
            return text
        with self._lock:
            secrets = dict(self._secrets)
            if login:
                secrets.update(dict.fromkeys(self._passwords, PASSWORD_PLACEHOLDER))
            longest_first = sorted(secrets.items(), key=lambda kv: -len(kv[0]))
            endpoints = list(self._endpoints.values())
        for value, replacement in longest_first:
            text = text.replace(value, replacement)
        text = _LOGIN_KEY_RE.sub(lambda m: m.group(1) + SESSION_PLACEHOLDER + m.group(3), text)
        is_session = any(marker in text for marker in _USER_SESSION_MARKERS)
        text = (_SESSION_RE if is_session else _CREDENTIAL_RE).sub(_element_placeholder, text)
        text = _COOKIE_RE.sub(f'{SESSION_COOKIE}="{SESSION_PLACEHOLDER}"', text)
        text = _VIEW_RE.sub(self._view_name, text)
        text = _TOKEN_RE.sub(self._token_name, text)
        return _replace_hosts(text, endpoints, endpoint)

    def _view_name(self, match: re.Match[str]) -> str:
        view_id = match["id"]
        if not re.fullmatch(r"view-\d+", view_id):
            with self._lock:
                view_id = self._views.setdefault(view_id, f"view-{len(self._views) + 1}")
        return f"session[{SESSION_PLACEHOLDER}]{view_id}"

    def _token_name(self, match: re.Match[str]) -> str:
        value = match["value"]
        if re.fullmatch(r"page-\d+", value):
            return match.group(0)
        with self._lock:
            name = self._tokens.setdefault(value, f"page-{len(self._tokens) + 1}")
        return f"<token{match['attrs'] or ''}>{name}</token>"


def _element_placeholder(match: re.Match[str]) -> str:
    tag = match["tag"]
    return f"<{tag}{match['attrs']}>{_SESSION_ELEMENTS[tag.split(':')[-1]]}</{tag}>"


def _replace_hosts(text: str, endpoints: list[Endpoint], current: Endpoint | None) -> str:
    for ep in endpoints:
        if ep.host == ep.placeholder:
            continue
        host_forms = [ep.host, f"[{ep.host}]"] if ":" in ep.host else [ep.host]
        for form in host_forms:
            text = re.sub(
                re.escape(f"{form}:{ep.port}") + r"(?![0-9])", ep.placeholder, text, flags=re.I
            )
    for ep in endpoints:
        if ep.host == ep.placeholder:
            continue
        text = _sub_word(ep.host, ep.placeholder, text)
    if current is not None and is_loopback(current.host):
        for alias in LOOPBACK_ALIASES:
            text = _sub_word(alias, current.placeholder, text)
    return text


def _sub_word(word: str, replacement: str, text: str) -> str:
    """Replace ``word`` where it stands as a whole host name (not inside a longer name)."""
    pattern = r"(?<![\w.:-])" + re.escape(word) + r"(?![\w-]|\.[\w-]|:[0-9a-fA-F]*:)"
    return re.sub(pattern, replacement, text, flags=re.I)


def _xml_escape(text: str) -> str:
    return saxutils.escape(text, {'"': "&quot;", "'": "&apos;"})


def _xml_unescape(text: str) -> str:
    return saxutils.unescape(text, {"&quot;": '"', "&apos;": "'"})
