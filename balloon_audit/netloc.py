"""``host[:port]`` text: the one place that splits and joins it (IPv6 goes in brackets).

A server is named ``vc01``, ``vc01:8443``, ``[2001:db8::1]:8443`` or a bare IPv6 address
``2001:db8::1`` (no port: the colons belong to the address). Used for result labels,
capture placeholders, PowerCLI/govc commands and ``https://…/sdk`` URLs alike.
"""

from __future__ import annotations


def split_hostport(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port``, ``[v6]`` or bare IPv6 -> (host, port or None).

    The host comes back without brackets; a port that is not a number is left in the
    host (nothing is guessed).
    """
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        if port.isdigit():
            return host, int(port)
    return text, None


def bracketed(host: str) -> str:
    """``host`` as it is written before ``:port`` or inside a URL: IPv6 in brackets."""
    return f"[{host}]" if ":" in host else host


def join_hostport(host: str, port: int | None) -> str:
    """``host`` alone when ``port`` is None, else ``host:port`` (IPv6 bracketed)."""
    return host if port is None else f"{bracketed(host)}:{port}"


def sdk_url(host: str, port: int | None = None) -> str:
    """``https://host[:port]/sdk``, the vSphere API endpoint URL."""
    return f"https://{bracketed(host) if port is None else join_hostport(host, port)}/sdk"
