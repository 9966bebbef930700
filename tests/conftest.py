"""Shared fixtures. Live tests need vcsim: they fail under CI without it and skip locally.

Test data comes from tests/factories.py; helpers for live tests from tests/live.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from balloon_audit.lab.vcsim import VcsimEndpoint, start_vcsim, stop_vcsim
from tests import live
from tests.live import LOGIN_PASSWORD, LOGIN_USER, require_vcsim

if TYPE_CHECKING:
    from balloon_audit.lab import LabInstance


@pytest.fixture(scope="session", autouse=True)
def private_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every command the tests run keeps its state (the default history database, ``lab up``)
    in a temporary ``$XDG_STATE_HOME``, never in the user's ``~/.local/state``: a scan in one
    test must not become the "previous run" that a later test's report compares with."""
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state-home"))
    yield
    if saved is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = saved


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Remember the test being set up: ``require_vcsim`` checks that it is marked ``live``."""
    live.current_test = item


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


@pytest.fixture(scope="session")
def vcsim_with_login() -> Iterator[VcsimEndpoint]:
    """vcsim (default model) that accepts only ``LOGIN_USER`` / ``LOGIN_PASSWORD``.

    Read-only tests only: never reconfigure anything on this shared instance.
    """
    require_vcsim()
    endpoint = start_vcsim(["-username", LOGIN_USER, "-password", LOGIN_PASSWORD])
    yield endpoint
    stop_vcsim(endpoint.pid)
