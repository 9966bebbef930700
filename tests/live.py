"""Helpers for tests that start real servers (vcsim, plain sockets).

A test that starts vcsim must carry the ``live`` marker: ``require_vcsim`` fails it otherwise,
so ``pytest -m "not live"`` really runs without vcsim.
"""

from __future__ import annotations

import os
import socket

import pytest

from balloon_audit.lab.vcsim import find_tool

LOGIN_USER = "auditor"
LOGIN_PASSWORD = "Corr3ct-Horse-Battery"
"""The only credentials the ``vcsim_with_login`` fixture (tests/conftest.py) accepts."""

current_test: pytest.Item | None = None
"""The test being set up or run (kept by the hook in tests/conftest.py)."""


def require_vcsim(*, govc: bool = False) -> None:
    """Skip (locally) or fail (CI=true) when vcsim -- and govc, if asked -- is missing.

    Scenarios with host values (demo, esx, ...) need govc too: see lab/hostmodel.py.
    """
    if current_test is not None and current_test.get_closest_marker("live") is None:
        pytest.fail(f"{current_test.nodeid} starts vcsim but is not marked live")
    for tool in ("vcsim", "govc") if govc else ("vcsim",):
        if find_tool(tool) is None:
            reason = f"{tool} is not installed: run scripts/provision.sh (live tests need it)"
            if os.environ.get("CI"):
                pytest.fail(reason + " -- CI must not skip live tests")
            pytest.skip("SKIPPING LIVE TEST: " + reason)


def free_port() -> int:
    """A local TCP port nobody listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
