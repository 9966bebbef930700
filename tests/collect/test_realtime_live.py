"""Live counters of one VM and its host read from a real vcsim (``read_live_counters``).

vcsim answers QueryPerf from canned tables with random noise, so these tests check the
structure (series, units, order, window, notes, round trips), never the values. Its tables for
mem.vmmemctl, the swap and compression rates (VM) and mem.state (host) are all zero, and vcsim
leaves zero values out of its answer: those counters come back as notes (docs/vm.md).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pyVim.connect import Disconnect
from pyVmomi import vim

from balloon_audit.collect.connection import open_session
from balloon_audit.collect.deadline import DeadlineExceeded
from balloon_audit.collect.perf import add_host_memory_state
from balloon_audit.collect.realtime import counter_ids_for, read_live_counters
from balloon_audit.collect.target import Target
from balloon_audit.counters import (
    ACTIVE,
    CONSUMED,
    COUNTERS,
    HOST_ENTITY,
    MEM_STATE,
    SWAPIN_RATE,
    VM_ENTITY,
    VMMEMCTL,
    VMMEMCTLTARGET,
    LiveCounters,
)
from balloon_audit.lab.vcsim import start_vcsim, stop_vcsim
from balloon_audit.model import Host
from tests.faults.servers import Fault, SoapProxy, make_certificate
from tests.live import connect, require_vcsim

pytestmark = pytest.mark.live

SERVED = {VMMEMCTLTARGET, ACTIVE, CONSUMED}
"""The VM counters vcsim has non-zero samples for."""
LEFT_OUT = {
    "mem.vmmemctl.average",
    "mem.swapinRate.average",
    "mem.swapoutRate.average",
    "mem.compressionRate.average",
    "mem.decompressionRate.average",
    "mem.state.latest",
}
"""Offered by vcsim, but its tables are all zero, and it leaves zeros out of the answer."""


@dataclass
class Traced:
    """A vcsim writing every SOAP request and answer to ``trace``."""

    host: str
    port: int
    trace: Path

    def requests(self, start: int = 0) -> list[str]:
        """The SOAP requests traced since byte ``start`` of the trace file."""
        text = self.trace.read_bytes()[start:].decode(errors="replace")
        return [chunk.split("\nResponse: ", 1)[0] for chunk in text.split("Request: ")[1:]]

    def size(self) -> int:
        return self.trace.stat().st_size


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    require_vcsim()
    trace = tmp_path_factory.mktemp("trace") / "soap.log"
    endpoint = start_vcsim(["-trace", "-trace-file", str(trace)])
    yield Traced(endpoint.host, endpoint.port, trace)
    stop_vcsim(endpoint.pid)


@pytest.fixture
def session(traced: Traced) -> Iterator[Any]:
    si = connect(traced.host, traced.port)
    yield si
    Disconnect(si)


def a_vm(si: Any) -> tuple[Any, Any]:
    """A powered-on VM of the default model and its host."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        vm = next(v for v in view.view if v.runtime.powerState == "poweredOn")
    finally:
        view.DestroyView()
    return vm, vm.runtime.host


def methods(requests: list[str]) -> list[str]:
    return [re.search(r"<soapenv:Body><(\w+) ", r).group(1) for r in requests]  # type: ignore[union-attr]


def test_one_query_for_the_vm_and_its_host(traced: Traced, session: Any) -> None:
    vm, host = a_vm(session)
    content = session.RetrieveContent()
    now = session.CurrentTime()
    before = traced.size()
    live = read_live_counters(content, vm, host, since=timedelta(minutes=10), now=now)
    sent = traced.requests(before)
    assert methods(sent) == ["Fetch", "QueryPerf"]  # the counter table, then one QueryPerf
    assert ">perfCounter</prop>" in sent[0]
    query = sent[1]
    assert query.count("<querySpec>") == 2 and query.count("<intervalId>20</intervalId>") == 2
    assert f'<entity type="VirtualMachine">{vm._moId}</entity>' in query
    assert f'<entity type="HostSystem">{host._moId}</entity>' in query
    assert "<maxSample>" not in query and "<endTime>" not in query

    assert {s.counter for s in live.series} == SERVED
    assert {n.split(":")[0] for n in live.notes} == LEFT_OUT
    assert all(n.endswith(": no samples in the window") for n in live.notes)
    for series in live.series:
        spec = COUNTERS[series.counter]
        assert (series.entity, series.label, series.unit) == (VM_ENTITY, spec.label, "MB")
        assert series.interval_s == 20
        assert len(series.times) == len(series.values) == 31  # 10 min of 20 s, both ends
        assert all(t.utcoffset() == timedelta(0) for t in series.times)
        assert list(series.times) == sorted(series.times)  # vcsim sends newest first
        steps = {b - a for a, b in zip(series.times[:-1], series.times[1:], strict=True)}
        assert steps == {timedelta(seconds=20)}
        assert live.since <= series.times[0] and series.times[-1] <= live.until
        assert all(v is not None and v >= 0 for v in series.values)
    assert live.since == now.astimezone(timezone.utc) - timedelta(minutes=10)
    assert live.until >= now


def test_counter_table_is_read_once_per_connection(traced: Traced, session: Any) -> None:
    """read_live_counters, the swap-rate and the mem.state passes share one table read."""
    vm, host = a_vm(session)
    content = session.RetrieveContent()
    before = traced.size()
    counter_ids_for(content, [SWAPIN_RATE])
    read_live_counters(content, vm, host, since=timedelta(minutes=1))
    hosts = [Host(host._moId, "h", "sim", "DC0", None, "connected")]
    messages: list[str] = []
    add_host_memory_state(content, hosts, {host._moId: host}, label="sim", progress=messages.append)
    assert methods(traced.requests(before)) == ["Fetch", "QueryPerf", "QueryPerf"]
    assert messages == ["sim: host mem.state: samples for 0 of 1 hosts"]

    other = connect(traced.host, traced.port)
    try:
        before = traced.size()
        counter_ids_for(other.RetrieveContent(), [SWAPIN_RATE])
        assert "Fetch" in methods(traced.requests(before))  # a new login reads its own table
    finally:
        Disconnect(other)


def test_window_is_capped_at_the_realtime_hour(session: Any) -> None:
    vm, host = a_vm(session)
    now = session.CurrentTime()
    live = read_live_counters(session.content, vm, host, since=timedelta(hours=3), now=now)
    assert live.window >= timedelta(hours=1) and live.since == live.until - live.window
    assert live.notes[0] == "window capped at 1 h: vCenter keeps no older realtime samples"
    consumed = live.get(CONSUMED)
    assert consumed is not None and len(consumed.times) == 181


def test_values_are_converted_and_misaligned_series_refused(session: Any) -> None:
    """Point two names at counters vcsim has samples for: one never zero (shown, KB -> MB),
    one often zero (vcsim drops the zeros, so values no longer match times: not shown)."""
    vm, host = a_vm(session)
    content = session.content
    ids = counter_ids_for(content, ["mem.swapped.average", "disk.maxTotalLatency.latest"])
    live = read_live_counters(
        content,
        vm,
        host,
        since=timedelta(minutes=30),
        counter_ids={
            VMMEMCTL: ids["mem.swapped.average"],
            SWAPIN_RATE: ids["disk.maxTotalLatency.latest"],
        },
    )
    balloon = live.get(VMMEMCTL)
    assert balloon is not None and balloon.unit == "MB" and len(balloon.values) == 91
    assert all(v is not None and (v * 1024).is_integer() for v in balloon.values)
    assert live.get(SWAPIN_RATE) is None
    (note,) = live.notes
    assert re.fullmatch(
        r"mem\.swapinRate\.average: \d+ values for 91 sample times; not shown", note
    )


def test_without_a_host_only_the_vm_is_asked(traced: Traced, session: Any) -> None:
    vm, _ = a_vm(session)
    content = session.RetrieveContent()
    counter_ids_for(content, [MEM_STATE])
    before = traced.size()
    live = read_live_counters(content, vm, None, since=timedelta(minutes=2))
    (query,) = traced.requests(before)
    assert query.count("<querySpec>") == 1 and "HostSystem" not in query
    assert "host not known: mem.state not read" in live.notes
    assert not any(n.startswith(MEM_STATE) for n in live.notes)
    assert live.get(MEM_STATE, HOST_ENTITY) is None


def test_failure_becomes_a_note(traced: Traced) -> None:
    """A session that has ended: no series, one note, no exception."""
    si = connect(traced.host, traced.port)
    vm, host = a_vm(si)
    content = si.RetrieveContent()
    content.sessionManager.Logout()
    live = read_live_counters(content, vm, host, since=timedelta(minutes=5))
    assert live.series == ()
    assert live.notes == ("live counters could not be read: NotAuthenticated",)
    assert LiveCounters.from_json(live.to_json()) == live


# --- deadlines through a real proxy that trickles the QueryPerf answer ----------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return make_certificate(tmp_path_factory.mktemp("tls"))


def trickled(traced: Traced, certificate: tuple[Path, Path], **limits: float) -> Any:
    proxy = SoapProxy(traced.port, certificate, {"QueryPerf": Fault("trickle", 0.3)})
    target = Target("127.0.0.1", proxy.port, "u", "p", insecure=True, **limits)  # type: ignore[arg-type]
    return proxy, target


def test_request_deadline_leaves_the_counters_out(
    traced: Traced, certificate: tuple[Path, Path]
) -> None:
    proxy, target = trickled(traced, certificate, request_timeout_s=1.0)
    try:
        with open_session(target) as si:
            vm, host = a_vm(si)
            live = read_live_counters(si.content, vm, host, since=timedelta(minutes=5))
    finally:
        proxy.close()
    assert proxy.hit.is_set()
    assert live.series == () and live.notes == (
        "live counters could not be read: DeadlineExceeded",
    )


def test_overall_deadline_is_raised(traced: Traced, certificate: tuple[Path, Path]) -> None:
    proxy, target = trickled(traced, certificate, deadline_s=4.0)
    try:
        with pytest.raises(DeadlineExceeded) as raised, open_session(target) as si:
            vm, host = a_vm(si)
            read_live_counters(si.content, vm, host, since=timedelta(minutes=5))
    finally:
        proxy.close()
    assert raised.value.kind == "overall"
