"""The fast path of the page parser: simple ``<objects>`` read by one regex, not by expat.

Almost every object a collection reads looks the same: an ``<obj>`` reference and a
row of ``<propSet>`` elements, each a name and at most one ``<val>`` of a simple type
(text, number, boolean, enum, reference). Through expat that is about 70 elements
and 200 Python callbacks per VM, and the callbacks cost more than the parsing. This
module recognises such an object with a strict grammar (a regex over its bytes) and
reads the whole row at once.

The grammar accepts only what is certainly well-formed XML that expat would read the
same way: no CDATA, comments or processing instructions, no carriage returns (expat
normalises them), no characters XML forbids, only the five named entities and
numeric references to allowed characters, attributes in double quotes with no
entities or white space to normalise, and on ``<val>`` only ``xmlns:p``, ``p:type``
(``p`` bound to the XML Schema instance namespace) and ``type``. Anything else, and
any value that does not convert, is left to expat (:class:`~.pageparser.PageParser`
decides when a block may be read here at all), which then gives what it always gave,
errors included. The equivalence tests compare both paths.
"""

from __future__ import annotations

import re
from typing import Any

from pyVmomi.VmomiSupport import XMLNS_XSI

OBJ = re.compile(rb'<objects><obj type="([A-Za-z_][\w.-]*)">([^<]*)</obj>')
"""What precedes an object's propSets: (reference type, moid)."""
PROPSET = b"<propSet><name>"
PROPSET_END = b"</propSet>"
VAL_END = b"</val></propSet>"
OBJECTS_END = b"</objects>"
_VAL_HEAD = re.compile(rb'<val(?: [A-Za-z_][\w.:-]*="[^"<>&\x00-\x1f]*")+')
"""``<val`` and its attributes, double-quoted, nothing to unescape or normalise."""
_ATTR = re.compile(rb' ([^=]+)="([^"]*)"')
_NCNAME = re.compile(rb"[A-Za-z_][\w.-]*")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
PLAIN = bytes(c for c in range(256) if not (c <= 0x08 or 0x0B <= c <= 0x1F or c in (0x26, 0xEF)))
"""Bytes that need no second look: not ``&``, not a control character XML forbids or
normalises (``\\r``), not 0xEF (which starts U+FFFE and U+FFFF, not XML characters)."""


class NotSimple(Exception):
    """This object is not for the fast path; expat reads it."""


def needs_entities(block: bytes) -> bool:
    """False: nothing to unescape. Raises :class:`NotSimple` for what expat must judge."""
    unusual = block.translate(None, PLAIN)
    if unusual.strip(b"&") or b"]]>" in block:
        raise NotSimple("characters XML forbids or normalises")
    return bool(unusual)


def name_text(raw: bytes) -> str:
    """A property name (``<name>`` text); it holds no markup."""
    if b"<" in raw:
        raise NotSimple("markup in a name")
    return text(raw)


def text(raw: bytes) -> str:
    """Element text as expat reports it: UTF-8 decoded, references replaced."""
    value = raw.decode("utf-8")
    if "&" not in value:
        return value
    replaced, count = _ENTITY.subn(_reference, value)
    if count != value.count("&"):
        raise NotSimple("an entity XML does not define")
    return replaced


def _reference(match: re.Match[str]) -> str:
    name = match.group(1)
    if name[0] != "#":
        return _NAMED[name]
    code = int(name[2:], 16) if name[1] == "x" else int(name[1:])
    if not (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    ):
        raise NotSimple("a reference to a character XML forbids")
    return chr(code)


def val_attributes(head: bytes, scope: dict[str | None, list[str]]) -> tuple[str, str, str | None]:
    """``<val …`` → (namespace URI, local name of its xsi:type, its ``type`` attribute).

    ``scope`` is the parser's namespace stack by prefix. Raises :class:`NotSimple` for
    anything the fast path does not handle (another attribute, a default namespace
    declaration, an unbound prefix, no xsi:type).
    """
    if not _VAL_HEAD.fullmatch(head):
        raise NotSimple("not a simple <val>")
    pairs = _ATTR.findall(head)
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise NotSimple("a repeated attribute")
    local = _declarations(pairs)
    qname, ref_type = _type_attributes(pairs, local, scope)
    prefix, _, type_name = qname.rpartition(":")
    uri = local.get(prefix) if prefix else None
    if uri is None:
        stack = scope.get(prefix or None)
        uri = stack[-1] if stack else ""
    return uri, type_name, ref_type


def _declarations(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The ``xmlns:p="uri"`` declarations among an element's attributes."""
    local: dict[str, str] = {}
    for name, value in pairs:
        if name == b"xmlns":
            raise NotSimple("a default namespace declaration")
        if name.startswith(b"xmlns:"):
            prefix = name[6:]
            if not value or not _NCNAME.fullmatch(prefix) or prefix in (b"xml", b"xmlns"):
                raise NotSimple("an unusual namespace declaration")
            local[prefix.decode()] = value.decode()
    return local


def _type_attributes(
    pairs: list[tuple[bytes, bytes]], local: dict[str, str], scope: dict[str | None, list[str]]
) -> tuple[str, str | None]:
    """(the xsi:type value, the ``type`` attribute) of ``<val>``; nothing else is allowed."""
    qname = ref_type = None
    for name, value in pairs:
        if name.startswith(b"xmlns:"):
            continue
        prefix, colon, attr = name.decode().partition(":")
        if colon and attr == "type" and _uri(prefix, local, scope) == XMLNS_XSI:
            qname = value.decode()
        elif name == b"type":
            ref_type = value.decode()
        else:
            raise NotSimple(f"attribute {name!r}")
    if qname is None:
        raise NotSimple("no xsi:type")
    return qname, ref_type


def _uri(prefix: str, local: dict[str, str], scope: dict[str | None, list[str]]) -> str:
    if prefix in local:
        return local[prefix]
    stack = scope.get(prefix)
    if not stack:
        raise NotSimple("an unbound prefix")  # expat fails the page: let it
    return stack[-1]


def scope_key(scope: dict[str | None, list[str]]) -> tuple[Any, ...]:
    """The namespaces in scope, as a hashable key for caches."""
    return tuple(sorted((str(p), s[-1]) for p, s in scope.items() if s))
