"""Shared fixtures. Live tests need vcsim: they fail under CI without it and skip locally."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from balloon_audit.lab.vcsim import VcsimEndpoint, find_tool, start_vcsim, stop_vcsim

if TYPE_CHECKING:
    from balloon_audit.lab import LabInstance


def require_vcsim(*, govc: bool = False) -> None:
    """Skip (locally) or fail (CI=true) when vcsim -- and govc, if asked -- is missing.

    Scenarios with host values (demo, esx, ...) need govc too: see lab/hostmodel.py.
    """
    for tool in ("vcsim", "govc") if govc else ("vcsim",):
        if find_tool(tool) is None:
            reason = f"{tool} is not installed: run scripts/provision.sh (live tests need it)"
            if os.environ.get("CI"):
                pytest.fail(reason + " -- CI must not skip live tests")
            pytest.skip("SKIPPING LIVE TEST: " + reason)


@pytest.fixture(scope="session")
def vcsim_default() -> Iterator[VcsimEndpoint]:
    """vcsim with its default model (1 DC, 1 cluster of 3 hosts, 1 standalone host, 4 VMs).

    Read-only tests only: never reconfigure anything on this shared instance.
    """
    require_vcsim()
    endpoint = start_vcsim()
    yield endpoint
    stop_vcsim(endpoint.pid)


@pytest.fixture(scope="session")
def demo_lab() -> Iterator[LabInstance]:
    """vcsim loaded with the ``demo`` scenario (``lab.url``, ``lab.port``, ``lab.scenario``).

    ``lab.scenario.expectations()`` lists the findings the demo should produce.
    Read-only tests only: never reconfigure anything on this shared instance.
    """
    from balloon_audit.lab import load_scenario, start_lab, stop_lab

    require_vcsim(govc=True)
    lab = start_lab(load_scenario("demo"))
    yield lab
    stop_lab(lab)
