"""Make untrusted text (VM names, server messages) safe to print on a terminal.

Names come from the vCenter inventory and may hold control characters: C0/C1 controls
can move the cursor or start escape sequences, and bidi overrides reorder what the
reader sees. They are shown as visible escapes (``\\u202e``) instead.
"""

from __future__ import annotations

from rich.markup import escape

_UNSAFE = [
    *range(0x00, 0x20),
    0x7F,
    *range(0x80, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_TABLE = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _UNSAFE}


def printable(text: str) -> str:
    """``text`` with control and bidi-override characters replaced by visible escapes."""
    return text.translate(_TABLE)


def safe(text: str) -> str:
    """``printable`` and escaped for rich markup: for every untrusted string on a console."""
    return escape(printable(text))
