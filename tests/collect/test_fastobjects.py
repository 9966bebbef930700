"""The page parser's fast path reads exactly what expat reads, or leaves the object to expat.

Each page below is parsed three ways: by pyVmomi's deserialiser, by the page parser
with its fast path (whole pages and split into chunks as they may arrive), and by the
page parser with expat alone. Pages built to sit on the fast path's edges (entities,
characters XML forbids or normalises, markup hidden in CDATA or comments, unusual
attributes and namespaces) must give the same rows, the same token and the same
unknown enum values; a page that is not well-formed must fail the same way.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from pyVmomi import vim

from balloon_audit.collect.pageparser import PageParser
from tests.collect.test_pageparser import normal, pyvmomi_rows

HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenc='
    b'"http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv='
    b'"http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
    b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
    b'<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>t-9</token>'
)
TAIL = b"</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"
VCSIM_XSI = b'xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"'


def obj(moid: str, *props: bytes, kind: bytes = b"VirtualMachine") -> bytes:
    return (
        b'<objects><obj type="' + kind + b'">' + moid.encode() + b"</obj>" + b"".join(props)
    ) + b"</objects>"


def prop(name: bytes, val: bytes | None = None, attrs: bytes = b' xsi:type="xsd:string"') -> bytes:
    inner = b"" if val is None else b"<val" + attrs + b">" + val + b"</val>"
    return b"<propSet><name>" + name + b"</name>" + inner + b"</propSet>"


def plain_vm(moid: str) -> bytes:
    """An object the fast path reads: the shape of every VM row."""
    return obj(
        moid,
        prop(b"name", b"vm " + moid.encode()),
        prop(b"config.template", b"false", b' xsi:type="xsd:boolean"'),
        prop(b"config.hardware.memoryMB", b"4096", b' xsi:type="xsd:int"'),
        prop(b"config.memoryAllocation.limit", b"-1", b' xsi:type="xsd:long"'),
        prop(b"runtime.powerState", b"poweredOn", b' xsi:type="VirtualMachinePowerState"'),
        prop(b"runtime.host", b"host-1", b' type="HostSystem" xsi:type="ManagedObjectReference"'),
        prop(b"config.annotation"),
        prop(b"config.extraConfig[&#34;sched.mem.maxmemctl&#34;]"),
    )


def page(*objects: bytes) -> bytes:
    return HEAD + b"".join(objects) + TAIL


def parsed(body: bytes, chunk: int, fast_path: bool) -> tuple[Any, ...]:
    unknown: Counter[str] = Counter()
    parser = PageParser(None, unknown, fast_path=fast_path)
    step = chunk or len(body)
    for start in range(0, len(body), step):
        parser.feed(body[start : start + step])
    result = parser.close()
    rows = [(normal(ref), {k: normal(v) for k, v in props.items()}) for ref, props in result.rows]
    return rows, result.token, result.missing, unknown, parser.fast_rows


def outcome(body: bytes, chunk: int, fast_path: bool) -> Any:
    try:
        return parsed(body, chunk, fast_path)
    except Exception as exc:  # noqa: BLE001 - the failure itself is compared
        return ("failed", type(exc).__name__)


def assert_same_as_expat(body: bytes) -> Any:
    """Every chunking of ``body`` with the fast path gives what expat alone gives."""
    reference = outcome(body, 0, fast_path=False)
    for chunk in (0, 1, 7, 64, 997):
        got = outcome(body, chunk, fast_path=True)
        if reference[0] == "failed":
            assert got == reference
        else:
            assert got[:4] == reference[:4], f"chunk {chunk}"
    return outcome(body, 0, fast_path=True)


# --------------------------------------------------------------------- read fast, same values

FAST_CASES = {
    "plain": plain_vm("vm-1"),
    "entities": obj(
        "vm-&amp;2",
        prop(b"name", b"a&amp;b &lt;c&gt; &#34;d&#34; &apos;e&apos; &#x1F600; \xc3\xbc &#233;"),
        prop(b"config.guestId", b""),
        prop(b"config.annotation", b"line 1\nline 2\ttab &#13; cr ]] > ] >"),
    ),
    "attribute order": obj(
        "vm-3",
        prop(b"runtime.host", b"host-2", b' xsi:type="ManagedObjectReference" type="HostSystem"'),
    ),
    "vcsim namespaces": obj(
        "vm-4",
        prop(b"name", b"four", b" " + VCSIM_XSI + b' XMLSchema-instance:type="xsd:string"'),
        prop(
            b"runtime.host",
            b"host-3",
            b' type="HostSystem" '
            + VCSIM_XSI
            + b' XMLSchema-instance:type="ManagedObjectReference"',
        ),
    ),
    "another prefix for xsi": obj(
        "vm-5",
        prop(
            b"config.hardware.memoryMB",
            b"512",
            b' xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:type="xsd:int"',
        ),
    ),
    "a host": obj(
        "host-9",
        prop(b"hardware.memorySize", b"4294430720", b' xsi:type="xsd:long"'),
        prop(b"runtime.inMaintenanceMode", b"true", b' xsi:type="xsd:boolean"'),
        prop(b"runtime.bootTime", b"2026-11-30T09:15:00.123456Z", b' xsi:type="xsd:dateTime"'),
        kind=b"HostSystem",
    ),
}


@pytest.mark.parametrize("case", list(FAST_CASES))
def test_simple_objects_are_read_fast_and_match_pyvmomi(case: str) -> None:
    body = page(FAST_CASES[case], plain_vm("vm-100"))
    rows, token, missing, unknown, fast_rows = assert_same_as_expat(body)
    assert fast_rows == 2  # both objects took the fast path
    assert (rows, token) == pyvmomi_rows(body)
    assert not missing and not unknown


def test_fast_values_have_pyvmomi_types() -> None:
    parser = PageParser(None)
    parser.feed(page(FAST_CASES["entities"], plain_vm("vm-1"), FAST_CASES["a host"]))
    (ref, props), (_, vm), (_, host) = parser.close().rows
    assert isinstance(ref, vim.VirtualMachine) and ref._moId == "vm-&2"
    assert props["name"] == "a&b <c> \"d\" 'e' \U0001f600 ü é"
    assert props["config.annotation"] == "line 1\nline 2\ttab \r cr ]] > ] >"
    assert vm["config.template"] is False and vm["config.hardware.memoryMB"] == 4096
    assert vm["runtime.powerState"] == vim.VirtualMachine.PowerState.poweredOn
    assert isinstance(vm["runtime.host"], vim.HostSystem) and vm["config.annotation"] is None
    assert vm['config.extraConfig["sched.mem.maxmemctl"]'] is None
    assert host["runtime.inMaintenanceMode"] is True
    assert parser.fast_rows == 3


def test_an_unknown_enum_value_is_counted_once_on_either_path() -> None:
    newer = prop(
        b"runtime.powerState", b"poweredHibernating", b' xsi:type="VirtualMachinePowerState"'
    )
    nested = (
        b'<propSet><name>config.memoryAllocation</name><val xsi:type="ResourceAllocationInfo">'
        b"<limit>-1</limit></val></propSet>"
    )
    body = page(obj("vm-1", newer), obj("vm-2", newer, nested))  # vm-2 falls back to expat
    rows, _, _, unknown, fast_rows = assert_same_as_expat(body)
    assert fast_rows == 1
    assert unknown == Counter({"VirtualMachinePowerState=poweredHibernating": 2})
    assert rows[1][1]["runtime.powerState"] == ("str", "poweredHibernating")


# ----------------------------------------------------------------- left to expat, same result

FALLBACK_CASES = {
    "carriage return": obj("vm-1", prop(b"name", b"a\r\nb\rc")),
    "nested value": obj(
        "vm-1",
        b'<propSet><name>config.memoryAllocation</name><val xsi:type="ResourceAllocationInfo">'
        b"<reservation>0</reservation><limit>-1</limit></val></propSet>",
    ),
    "self-closing val": obj(
        "vm-1",
        prop(b"name", None) + b'<propSet><name>x</name><val xsi:type="xsd:string"/></propSet>',
    ),
    "single quotes": obj("vm-1", prop(b"name", b"q", b" xsi:type='xsd:string'")),
    "server guid": obj(
        "vm-1",
        prop(
            b"runtime.host",
            b"host-1",
            b' type="HostSystem" serverGuid="g-1" xsi:type="ManagedObjectReference"',
        ),
    ),
    "obj server guid": b'<objects><obj type="VirtualMachine" serverGuid="g-1">vm-1</obj></objects>',
    "default namespace on val": obj(
        "vm-1", prop(b"name", b"d", b' xmlns="urn:vim25" xsi:type="xsd:string"')
    ),
    "xsd redeclared": obj(
        "vm-1", prop(b"name", b"7", b' xmlns:xsd="urn:other" xsi:type="xsd:int"')
    ),
    "no xsi:type": obj("vm-1", prop(b"name", b"n", b' type="x"')),
    "other attribute": obj("vm-1", prop(b"name", b"n", b' xsi:type="xsd:string" foo="1"')),
    "missingSet": obj("vm-1", prop(b"name", b"n"))[: -len(b"</objects>")]
    + b'<missingSet><path>guest.toolsStatus</path><fault><fault xsi:type="NoPermission">'
    b"<privilegeId>System.Read</privilegeId></fault><localizedMessage></localizedMessage>"
    b"</fault></missingSet></objects>",
    "cdata hiding objects": obj(
        "vm-1",
        prop(b"config.annotation", b"<![CDATA[</objects>" + plain_vm("vm-fake-1") + b"]]>"),
    ),
    "whitespace between objects": b"\n  " + plain_vm("vm-1") + b"\n",
    "utf-8 with a fullwidth letter": obj("vm-1", prop(b"name", "ｆｕｌｌ\uffe0".encode())),
}


@pytest.mark.parametrize("case", list(FALLBACK_CASES))
def test_unusual_objects_give_what_expat_gives(case: str) -> None:
    body = page(plain_vm("vm-0"), FALLBACK_CASES[case], plain_vm("vm-9"))
    rows, token, missing, unknown, _ = assert_same_as_expat(body)
    if case != "no xsi:type":  # pyVmomi cannot read an untyped value at all
        assert (rows, token) == pyvmomi_rows(body)
    assert [moid for (_, _, moid, _), _ in rows][-1] == "vm-9"


def test_markup_hidden_in_a_comment_is_not_read() -> None:
    body = page(plain_vm("vm-0"), b"<!-- " + plain_vm("vm-fake") + b" -->", plain_vm("vm-1"))
    rows, *_ = assert_same_as_expat(body)
    assert [moid for (_, _, moid, _), _ in rows] == ["vm-0", "vm-1"]
    body = page(plain_vm("vm-0"), b"<?pi " + plain_vm("vm-fake") + b" ?>", plain_vm("vm-1"))
    rows, *_ = assert_same_as_expat(body)
    assert [moid for (_, _, moid, _), _ in rows] == ["vm-0", "vm-1"]


def test_cdata_hiding_a_whole_object_is_not_read() -> None:
    annotation = b"<![CDATA[x</val></propSet></objects>" + plain_vm("vm-fake") + b"]]>"
    body = page(obj("vm-0", prop(b"config.annotation", annotation)), plain_vm("vm-1"))
    rows, *_ = assert_same_as_expat(body)
    assert [moid for (_, _, moid, _), _ in rows] == ["vm-0", "vm-1"]


BROKEN_CASES = {
    "forbidden control character": obj("vm-1", prop(b"name", b"a\x01b")),
    "]]> in text": obj("vm-1", prop(b"name", b"a]]>b")),
    "reference to a forbidden character": obj("vm-1", prop(b"name", b"a&#1;b")),
    "undefined entity": obj("vm-1", prop(b"name", b"a&nbsp;b")),
    "bare ampersand": obj("vm-1", prop(b"name", b"a & b")),
    "not UTF-8": obj("vm-1", prop(b"name", b"caf\xe9")),
    "U+FFFE": obj("vm-1", prop(b"name", "a\ufffe".encode())),
    "unbound prefix": obj("vm-1", prop(b"name", b"n", b' bad:type="xsd:string"')),
    "repeated attribute": obj(
        "vm-1", prop(b"name", b"n", b' xsi:type="xsd:string" xsi:type="xsd:int"')
    ),
    "empty number": obj("vm-1", prop(b"config.hardware.memoryMB", b"", b' xsi:type="xsd:int"')),
    "bad boolean": obj("vm-1", prop(b"config.template", b"maybe", b' xsi:type="xsd:boolean"')),
    "unclosed object": b'<objects><obj type="VirtualMachine">vm-1</obj>',
    "mismatched tag": obj("vm-1", prop(b"name", b"n"))[:-10] + b"</object>",
}


@pytest.mark.parametrize("case", list(BROKEN_CASES))
def test_a_broken_page_fails_as_with_expat(case: str) -> None:
    body = page(plain_vm("vm-0"), BROKEN_CASES[case])
    assert outcome(body, 0, fast_path=False)[0] == "failed"
    assert_same_as_expat(body)


def test_utf8_spelt_otherwise_is_left_to_expat() -> None:
    """pyexpat reads ``encoding="UTF8"`` as a single-byte encoding: ü fails the page."""
    body = page(FAST_CASES["entities"]).replace(b'encoding="UTF-8"', b'encoding="UTF8"')
    assert outcome(body, 0, fast_path=False)[0] == "failed"
    assert_same_as_expat(body)


@pytest.mark.parametrize("seed", range(4))
def test_damaged_pages_give_what_expat_gives(seed: int) -> None:
    """Pages with markup, references and bytes inserted, overwritten or cut at random
    places: with the fast path, each gives exactly what expat alone gives."""
    rnd = random.Random(seed)
    base = page(plain_vm("vm-1"), *FAST_CASES.values(), plain_vm("vm-2"))
    for _ in range(60):
        body = bytearray(base)
        for _ in range(rnd.randint(1, 3)):
            at = rnd.randrange(len(body))
            piece = rnd.choice(_DAMAGE)
            choice = rnd.random()
            if choice < 0.5:
                body[at:at] = piece
            elif choice < 0.8:
                body[at : at + len(piece)] = piece
            else:
                del body[at : at + rnd.randint(1, 5)]
        assert_same_as_expat(bytes(body))


_DAMAGE = (
    *(b"<", b">", b"&", b"&amp;", b"&#34;", b"&#1;", b"&#x1F600;", b"\r", b"\r\n", b"]]>"),
    *(b"\x01", b'"', b"'", b" ", b"\n", b"<!--x-->", b"<![CDATA[y]]>", b"<?pi?>"),
    *(b"</objects>", b"<objects>", b"</propSet>", b"<propSet><name>", b"</name>", b"<val>"),
    *(b"</val>", b"\xc3\xbc", b"\xe9", b"\xef\xbf\xbe", b'xmlns:q="urn:x" ', b"=", b"/", b"8"),
    b'xsi:type="xsd:int"',
)


def test_another_encoding_is_left_to_expat() -> None:
    body = page(obj("vm-1", prop(b"name", "café".encode("latin-1")))).replace(
        b'encoding="UTF-8"', b'encoding="ISO-8859-1"'
    )
    rows, _, _, _, fast_rows = assert_same_as_expat(body)
    assert fast_rows == 0 and rows[0][1]["name"] == ("str", "café")
