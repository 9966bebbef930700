"""Hostile names and a PowerShell literal decoder for the quoting tests of generated commands."""

from __future__ import annotations

# Names that break naive quoting in bash, PowerShell, spreadsheets, HTML or govc.
PS_QUOTES = "'\u2018\u2019\u201a\u201b"

HOSTILE_NAMES = [
    'it\'s "odd" $(rm -rf) ; x',
    '=HYPERLINK("http://x")',
    "<script>alert(1)</script>",
    "虚拟机 ’quote’",
    "‘a’ ‚b‛ 'c'",
    "`backtick` $env:PATH @(1) ${x}",
    "line1\nline2\r\tend",
    "-starts-with-dash",
    "a*b?[c]",
    "vm-42",
    "VirtualMachine:vm-42",
    "back\\slash %2f 100%25",
    "",
    " spaces  ",
    "!history & | > < #",
]


def decode_powershell_literal(text: str, start: int = 0) -> tuple[str, int]:
    """Decode the single-quoted PowerShell literal at ``text[start]``; return (value, end).

    Inside '...' PowerShell expands nothing; any single-quote character (' or
    U+2018..U+201B) ends the literal unless it is followed by another one,
    which stands for one quote.
    """
    assert text[start] in PS_QUOTES, text[start:]
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch in PS_QUOTES:
            if i + 1 < len(text) and text[i + 1] in PS_QUOTES:
                out.append(ch)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise AssertionError(f"unterminated PowerShell literal in {text!r}")
