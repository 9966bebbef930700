"""Live: vcsim's own answers read by the streaming parser and by pyVmomi's are the same.

A private vcsim gets VMs with awkward names, annotations and extraConfig values; the
same collection is then made with both parsers (``BALLOON_AUDIT_PARSER``), in small
pages and with the whole extraConfig, and a fault from the server is raised as pyVmomi
raises it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl

from balloon_audit.collect import Target, collect_source
from balloon_audit.collect.connection import open_session
from balloon_audit.collect.pagecall import PARSER_ENV
from balloon_audit.collect.properties import vm_paths
from balloon_audit.collect.retrieve import container_view, filter_spec, retrieve_pages
from balloon_audit.lab.vcsim import VcsimEndpoint, start_vcsim, stop_vcsim
from balloon_audit.model import Snapshot
from tests.collect.test_pageparser import normal
from tests.live import inventory, reconfigure, require_vcsim, session

pytestmark = pytest.mark.live

NAMES = (
    "a&b <c> \"d\" 'e'",
    "ünïcødé — ✓ 𝄞 日本語",
    "  spaced  ",
    "]]> not CDATA",
)


@pytest.fixture(scope="module")
def awkward() -> Iterator[VcsimEndpoint]:
    require_vcsim()
    endpoint = start_vcsim()
    try:
        with session(endpoint.host, endpoint.port) as si:
            for vm, name in zip(inventory(si), NAMES, strict=False):
                WaitForTask(vm.Rename_Task(name))
                extra = {"sched.mem.maxmemctl": name[:3], "guestinfo.text": name}
                reconfigure(vm, extra, annotation=f"{name}\nline 2")
        yield endpoint
    finally:
        stop_vcsim(endpoint.pid)


def target(endpoint: VcsimEndpoint) -> Target:
    return Target(endpoint.host, endpoint.port, "auditor", "pw", insecure=True)


def collect(
    endpoint: VcsimEndpoint, monkeypatch: pytest.MonkeyPatch, parser: str, **kwargs: Any
) -> Snapshot:
    monkeypatch.setenv(PARSER_ENV, parser)
    snapshot = collect_source(target(endpoint), perf=False, **kwargs)
    return dataclasses.replace(
        snapshot, sources=tuple(dataclasses.replace(s, duration_s=None) for s in snapshot.sources)
    )


@pytest.mark.parametrize("options", [{}, {"page_size": 1}, {"keyed_extra_config": False}], ids=str)
def test_both_parsers_give_the_same_snapshot(
    awkward: VcsimEndpoint, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    streamed = collect(awkward, monkeypatch, "stream", **options)
    assert streamed == collect(awkward, monkeypatch, "pyvmomi", **options)
    names = {vm.name for vm in streamed.vms}
    assert set(NAMES) <= names
    vm = next(v for v in streamed.vms if v.name == NAMES[1])
    assert vm.annotation == f"{NAMES[1]}\nline 2"
    assert vm.maxmemctl == NAMES[1][:3]


def _rows(endpoint: VcsimEndpoint, monkeypatch: pytest.MonkeyPatch, parser: str) -> list[Any]:
    monkeypatch.setenv(PARSER_ENV, parser)
    rows = []
    with open_session(target(endpoint)) as si:
        content = si.RetrieveContent()
        with container_view(content, [vim.VirtualMachine, vim.HostSystem]) as view:
            paths = [*vm_paths(False), "config.memoryAllocation", "datastore", "summary.runtime"]
            spec = filter_spec(
                view, [(vim.VirtualMachine, paths), (vim.HostSystem, ["name", "hardware"])]
            )
            for page in retrieve_pages(content, spec, 3):
                rows += [(normal(r), {k: normal(v) for k, v in p.items()}) for r, p in page]
    return rows


def test_whole_objects_and_arrays_parse_identically(
    awkward: VcsimEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole data objects (host hardware, VM runtime summary) as vcsim serialises them."""
    streamed = _rows(awkward, monkeypatch, "stream")
    assert len(streamed) == 8
    assert streamed == _rows(awkward, monkeypatch, "pyvmomi")


@pytest.mark.parametrize("parser", ["stream", "pyvmomi"])
def test_a_server_fault_is_raised_as_pyvmomi_raises_it(
    awkward: VcsimEndpoint, monkeypatch: pytest.MonkeyPatch, parser: str
) -> None:
    """A view that does not exist: vcsim answers HTTP 500 with ManagedObjectNotFound."""
    monkeypatch.setenv(PARSER_ENV, parser)
    with open_session(target(awkward)) as si:
        content = si.RetrieveContent()
        gone = vim.view.ContainerView("session[0000]no-such-view", si._stub)
        spec = filter_spec(gone, [(vim.VirtualMachine, ["name"])])
        with pytest.raises(vmodl.fault.ManagedObjectNotFound) as raised:
            list(retrieve_pages(content, spec, 10))
        assert raised.value.obj._moId == "session[0000]no-such-view"
        # the session and its connection pool still work afterwards
        with container_view(content, [vim.VirtualMachine]) as view:
            names = filter_spec(view, [(vim.VirtualMachine, ["name"])])
            assert [len(page) for page in retrieve_pages(content, names, 10)] == [4]
