"""Pages asked for ahead (collect/lookahead.py) against real servers and a real faulty proxy.

The next page is requested as soon as the current page's token is read, on a second
connection. These tests check what that must not change: every page once and in
order, a stop after the first page leaves no request or thread behind, and a page
that fails while it is fetched ahead fails the collection as it always did.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from pyVmomi import vim

from balloon_audit.collect import Target, collect_source
from balloon_audit.collect.connection import open_session
from balloon_audit.collect.retrieve import container_view, filter_spec, retrieve_pages
from balloon_audit.errors import CollectionError
from tests.faults.servers import Fault, SoapProxy

pytestmark = pytest.mark.live


def _target(port: int) -> Target:
    return Target("127.0.0.1", port, "auditor", "pw", insecure=True)


def _ahead_threads(before: frozenset[threading.Thread] = frozenset()) -> list[threading.Thread]:
    """Threads fetching pages ahead that are still running (other than ``before``)."""
    return [
        t
        for t in threading.enumerate()
        if t.name == "page-ahead" and t.is_alive() and t not in before
    ]


def test_every_page_once_and_in_order(fault_proxy: Callable[..., SoapProxy]) -> None:
    proxy = fault_proxy()
    with open_session(_target(proxy.port)) as si:
        content = si.RetrieveContent()
        with container_view(content, [vim.VirtualMachine]) as view:
            spec = filter_spec(view, [(vim.VirtualMachine, ["name"])])
            pages = [[ref._moId for ref, _ in page] for page in retrieve_pages(content, spec, 1)]
            expected = sorted(vm._moId for vm in view.view)
    assert all(len(page) == 1 for page in pages)
    assert sorted(moid for page in pages for moid in page) == expected
    calls = [m for m in proxy.methods if m.endswith("RetrievePropertiesEx")]
    assert calls.count("ContinueRetrievePropertiesEx") == len(pages) - 1  # no call twice


def test_stopping_after_the_first_page_leaves_nothing_running(
    fault_proxy: Callable[..., SoapProxy],
) -> None:
    proxy = fault_proxy()
    before = frozenset(threading.enumerate())
    with open_session(_target(proxy.port)) as si:
        content = si.RetrieveContent()
        with container_view(content, [vim.VirtualMachine]) as view:
            spec = filter_spec(view, [(vim.VirtualMachine, ["name"])])
            pages = retrieve_pages(content, spec, 1)
            for page in pages:
                assert len(page) == 1
                break
            pages.close()
            assert not _ahead_threads(before)
            # at most two pages were asked for beyond the one read
            assert proxy.methods.count("ContinueRetrievePropertiesEx") <= 2
            # the session goes on working
            names = filter_spec(view, [(vim.VirtualMachine, ["name"])])
            assert sum(len(page) for page in retrieve_pages(content, names, 100)) >= 4


def test_a_page_cut_while_fetched_ahead_fails_the_vcenter(
    fault_proxy: Callable[..., SoapProxy],
) -> None:
    """The proxy cuts the second ContinueRetrievePropertiesEx half-way: that page is
    fetched ahead, on its own thread; the failure reaches the collection all the same."""
    proxy = fault_proxy({"ContinueRetrievePropertiesEx": Fault("cut", occurrence=2)})
    before = frozenset(threading.enumerate())
    started = time.monotonic()
    with pytest.raises(CollectionError):
        collect_source(_target(proxy.port), perf=False, page_size=1)
    assert time.monotonic() - started < 30
    assert proxy.hit.is_set()
    assert not _ahead_threads(before)
    assert proxy.methods[-1] == "Logout"  # the session was still logged out
