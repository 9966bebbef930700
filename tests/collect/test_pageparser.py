"""The streaming page parser gives exactly what pyVmomi's deserialiser gives.

Compared strictly (Python types included) on every PropertyCollector answer in the
committed cassettes, on an edge-case page in vcsim's serialisation, and on edge cases
serialised by pyVmomi itself; whole snapshots are compared by replaying every cassette
with both parsers (``BALLOON_AUDIT_PARSER=pyvmomi`` switches to pyVmomi's).
"""

from __future__ import annotations

import dataclasses
import gzip
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyVmomi import SoapAdapter, vim, vmodl
from pyVmomi.VmomiSupport import DataObject, ManagedObject, Object

from balloon_audit.audit import replay_snapshot
from balloon_audit.collect.pagecall import PARSER_ENV
from balloon_audit.collect.pageparser import PageParser, Record, parse_page
from balloon_audit.model import Snapshot
from tests.paths import CASSETTES

CASSETTE_FILES = sorted(p for p in CASSETTES.iterdir() if p.name.endswith((".yaml", ".yaml.gz")))
PAGES = Path(__file__).resolve().parent / "data" / "pages"
RESULT = vmodl.query.PropertyCollector.RetrieveResult
PC = vmodl.query.PropertyCollector
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ------------------------------------------------------------------------------ helpers


def normal(value: Any) -> Any:
    """A comparable form of a value from either parser: type names kept, unset left out."""
    if isinstance(value, ManagedObject):
        return ("ref", type(value).__name__, value._moId, value._serverGuid)
    if isinstance(value, (DataObject, Record)):
        data_type = type(value) if isinstance(value, DataObject) else value.data_type
        props = {}
        for prop in data_type._GetPropertyList():
            item = getattr(value, prop.name)  # a Record answers pyVmomi's defaults
            if item is not None and not (isinstance(item, list) and not item):
                props[prop.name] = normal(item)
        return ("object", data_type._wsdlName, props)
    if isinstance(value, list):
        return ("list", [normal(v) for v in value])
    return (type(value).__name__, value)


def pyvmomi_rows(body: bytes) -> tuple[list[Any], str | None]:
    result = SoapAdapter.SoapResponseDeserializer(None).Deserialize(body, RESULT)
    if result is None:
        return [], None
    rows = [(normal(oc.obj), {p.name: normal(p.val) for p in oc.propSet}) for oc in result.objects]
    return rows, result.token


def streamed_rows(
    body: bytes, chunk: int = 0, *, fast_path: bool = True
) -> tuple[list[Any], str | None]:
    page = streamed_page(body, chunk, fast_path=fast_path)
    rows = [(normal(ref), {k: normal(v) for k, v in props.items()}) for ref, props in page.rows]
    return rows, page.token


def streamed_page(body: bytes, chunk: int = 0, *, fast_path: bool = True) -> Any:
    parser = PageParser(None, fast_path=fast_path)
    step = chunk or len(body) or 1
    for start in range(0, len(body), step):
        parser.feed(body[start : start + step])
    page = parser.close()
    page.fast_rows = parser.fast_rows  # type: ignore[attr-defined]  # for the tests
    return page


def cassette_pages(path: Path) -> list[bytes]:
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    document = yaml.load(text, Loader=LOADER)
    bodies = []
    for item in document["interactions"]:
        request = item["request"].get("body") or ""
        if "RetrievePropertiesEx" not in request or item["response"]["status"]["code"] != 200:
            continue
        bodies.append(item["response"]["body"]["string"].encode("utf-8"))
    return bodies


def replay(path: Path, monkeypatch: pytest.MonkeyPatch, parser: str | None) -> Snapshot:
    if parser is None:
        monkeypatch.delenv(PARSER_ENV, raising=False)
    else:
        monkeypatch.setenv(PARSER_ENV, parser)
    snapshot = replay_snapshot(path, perf=True)
    return dataclasses.replace(
        snapshot,
        sources=tuple(dataclasses.replace(s, duration_s=None) for s in snapshot.sources),
    )


# ------------------------------------------------------------------------------- cassettes


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: p.name)
def test_every_cassette_page_parses_identically(path: Path) -> None:
    pages = cassette_pages(path)
    for body in pages:
        expected = pyvmomi_rows(body)
        assert streamed_rows(body) == expected
        assert streamed_rows(body, chunk=997) == expected  # split anywhere, as it arrives
        assert streamed_rows(body, fast_path=False) == expected  # expat reads every object


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: p.name)
def test_every_cassette_replays_to_the_same_snapshot(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    streamed = replay(path, monkeypatch, None)
    assert streamed == replay(path, monkeypatch, "pyvmomi")


def test_the_cassettes_hold_pages_of_every_kind() -> None:
    """The comparison above is not empty: VMs, hosts, several pages, keyed extraConfig."""
    bodies = [b for p in CASSETTE_FILES for b in cassette_pages(p)]
    text = b"".join(bodies)
    assert len(bodies) >= 8
    for needle in (b'type="VirtualMachine"', b'type="HostSystem"', b"<token>", b"OptionValue"):
        assert needle in text
    # most objects take the fast path, and some (nested values) go through expat
    pages = [streamed_page(body) for body in bodies]
    read_fast = sum(page.fast_rows for page in pages)
    total = sum(len(page.rows) for page in pages)
    assert total > read_fast > total * 0.9


# --------------------------------------------------------------------------- edge cases


def test_vcsim_style_edge_cases_match_pyvmomi() -> None:
    body = (PAGES / "vcsim-edge-cases.xml").read_bytes()
    expected = pyvmomi_rows(body)
    for chunk in (0, 1, 7, 64):
        assert streamed_rows(body, chunk) == expected


def test_vcsim_style_edge_cases_values() -> None:
    page = parse_page((PAGES / "vcsim-edge-cases.xml").read_bytes())
    assert page.token == "session[52a3]token-<1>"
    (vm1, p1), (vm2, p2), (host, ph) = page.rows
    assert isinstance(vm1, vim.VirtualMachine) and vm1._moId == "vm-1"
    assert p1["name"] == "a&b <c> \"d\" 'e' — ünïcødé ✓ 𝄞"
    assert p1["config.annotation"] == "line 1 <not a tag> & more\nline 2\ntab\tend"
    assert p1["config.guestFullName"] == "" and p1["config.guestId"] == ""
    assert p1["config.template"] is True
    assert p1["config.memoryAllocation.limit"] == -1
    allocation = p1["config.memoryAllocation"]
    assert allocation.reservation == 1024 and allocation.shares.level == "normal"
    assert allocation.overheadLimit == 0 and allocation.expandableReservation is False
    assert p1["runtime.host"]._serverGuid == "8b1c3e2a-0000-4c2f-9d1e-1234567890ab"
    assert p1["runtime.bootTime"] == datetime(2026, 11, 30, 9, 15, 0, 123456, timezone.utc)
    options = {o.key: o.value for o in p1["config.extraConfig"]}
    assert options == {
        "sched.mem.maxmemctl": "0",
        "guestinfo.note": "x < y && ü",
        "numeric": 42,
        "empty": "",
    }
    assert p1['config.extraConfig["sched.mem.maxmemctl"]'].value == "0"
    assert [d._moId for d in p1["datastore"]] == ["datastore-1", "datastore-2"]
    assert "guest.toolsVersionStatus2" not in p1
    assert page.missing == [("vm-1", "guest.toolsVersionStatus2", "NoPermission")]
    assert p2["guest.toolsStatus"] == vim.vm.GuestInfo.ToolsStatus.toolsOld
    assert isinstance(p2["parent"], vim.Folder)
    assert isinstance(host, vim.HostSystem) and host._serverGuid is not None
    assert ph["hardware.memorySize"] == 4294430720


def _pyvmomi_serialised(result: Any) -> bytes:
    """A RetrievePropertiesEx answer serialised by pyVmomi itself."""
    version = "vim.version.version9"
    info = Object(name="returnval", type=RESULT, version=version, flags=0)
    inner = SoapAdapter.SerializeToStr(result, info, version, dict(SoapAdapter.SOAP_NSMAP))
    return (
        SoapAdapter.XML_HEADER
        + "\n"
        + SoapAdapter.SOAP_ENVELOPE_START
        + SoapAdapter.SOAP_BODY_START
        + '<RetrievePropertiesExResponse xmlns="urn:vim25">'
        + inner
        + "</RetrievePropertiesExResponse>"
        + SoapAdapter.SOAP_BODY_END
        + SoapAdapter.SOAP_ENVELOPE_END
    ).encode("utf-8")


def _edge_result() -> Any:
    prop = vmodl.DynamicProperty
    host = vim.HostSystem("host-7", None, "guid-1")
    options = vim.option.OptionValue.Array(
        [
            vim.option.OptionValue(key="sched.mem.maxmemctl", value="0"),
            vim.option.OptionValue(key="note", value="<&> ü 𝄞 ]]> end"),
            vim.option.OptionValue(key="number", value=7),
        ]
    )
    allocation = vim.ResourceAllocationInfo(
        reservation=0, limit=-1, shares=vim.SharesInfo(shares=1000, level="custom")
    )
    missing = PC.MissingProperty(
        path="summary.quickStats.balloonedMemory",
        fault=vim.fault.NoPermission(msg="denied", privilegeId="System.Read"),
    )
    vm = PC.ObjectContent(
        obj=vim.VirtualMachine("vm-7", None, "guid-1"),
        propSet=[
            prop(name="name", val="quote \" apostrophe ' amp & lt < gt > ü"),
            prop(name="config.annotation", val=""),
            prop(name="config.hardware.memoryMB", val=4096),
            prop(name="config.memoryAllocation", val=allocation),
            prop(name="config.template", val=False),
            prop(name="runtime.powerState", val=vim.VirtualMachine.PowerState.suspended),
            prop(name="runtime.host", val=host),
            prop(name="config.extraConfig", val=options),
            prop(name='config.extraConfig["sched.mem.maxmemctl"]', val=options[0]),
            prop(name="summary.quickStats.uptimeSeconds", val=0),
        ],
        missingSet=[missing],
    )
    other = PC.ObjectContent(
        obj=vim.Datacenter("datacenter-2"),
        propSet=[prop(name="name", val="DC")],
    )
    return PC.RetrieveResult(token="t-1", objects=[vm, other])


def test_pyvmomi_serialised_edge_cases_match_pyvmomi() -> None:
    body = _pyvmomi_serialised(_edge_result())
    expected = pyvmomi_rows(body)
    assert expected[1] == "t-1" and len(expected[0]) == 2
    for chunk in (0, 1, 13):
        assert streamed_rows(body, chunk) == expected
    (_, props), _ = parse_page(body).rows
    assert props["name"] == "quote \" apostrophe ' amp & lt < gt > ü"
    assert props["config.extraConfig"][1].value == "<&> ü 𝄞 ]]> end"
    assert props["runtime.powerState"] == "suspended"
    assert props["runtime.host"]._serverGuid == "guid-1"
    assert parse_page(body).missing == [
        ("vm-7", "summary.quickStats.balloonedMemory", "NoPermission")
    ]


def test_an_enum_value_newer_than_pyvmomi_is_kept_and_counted() -> None:
    body = (
        (PAGES / "vcsim-edge-cases.xml")
        .read_bytes()
        .replace(b">poweredOn<", b">poweredHibernating<")
    )
    with pytest.raises(AttributeError):
        pyvmomi_rows(body)  # pyVmomi cannot read the page at all
    unknown: Counter[str] = Counter()
    page = parse_page(body, unknown_values=unknown)
    assert page.rows[0][1]["runtime.powerState"] == "poweredHibernating"
    assert type(page.rows[0][1]["runtime.powerState"]) is str
    assert unknown == Counter({"VirtualMachinePowerState=poweredHibernating": 1})


def test_an_empty_result_is_an_empty_page() -> None:
    """What a server sends when nothing matches: a response without ``returnval``."""
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
        b'"http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
        b'<RetrievePropertiesExResponse xmlns="urn:vim25"></RetrievePropertiesExResponse>'
        b"</soapenv:Body></soapenv:Envelope>"
    )
    assert pyvmomi_rows(body) == ([], None)
    page = parse_page(body)
    assert page.rows == [] and page.token is None


def test_a_newer_servers_enum_value_reaches_ba903(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamed: kept as text and reported; pyVmomi's deserialiser fails the source."""
    from balloon_audit.engine import evaluate
    from tests.newer_server import NEWER_VALUE, newer_server_capture

    path = newer_server_capture(tmp_path)
    streamed = replay(path, monkeypatch, None)
    (source,) = streamed.sources
    assert source.ok
    assert source.unknown_values == (f"VirtualMachinePowerState={NEWER_VALUE} (1)",)
    assert [vm.power_state for vm in streamed.vms].count(NEWER_VALUE) == 1
    assert [f.rule for f in evaluate(streamed).findings].count("BA903") == 1
    (old,) = replay(path, monkeypatch, "pyvmomi").sources
    assert not old.ok
