"""Shared fixtures. Live tests need vcsim: they fail under CI without it and skip locally."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from balloon_audit.lab.vcsim import VcsimEndpoint, find_tool, start_vcsim, stop_vcsim


def require_vcsim() -> None:
    if find_tool("vcsim") is None:
        reason = "vcsim is not installed: run scripts/provision.sh (live tests need it)"
        if os.environ.get("CI"):
            pytest.fail(reason + " -- CI must not skip live tests")
        pytest.skip("SKIPPING LIVE TEST: " + reason)


@pytest.fixture(scope="session")
def vcsim_default() -> Iterator[VcsimEndpoint]:
    """vcsim with its default model (1 DC, 1 cluster of 3 hosts, 1 standalone host, 8 VMs).

    Read-only tests only: never reconfigure anything on this shared instance.
    """
    require_vcsim()
    endpoint = start_vcsim()
    yield endpoint
    stop_vcsim(endpoint.pid)
