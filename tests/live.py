"""Helpers for tests that start real servers (vcsim, plain sockets).

A test that starts vcsim must carry the ``live`` marker: ``require_vcsim`` fails it otherwise,
so ``pytest -m "not live"`` really runs without vcsim.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

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


def connect(host: str, port: int, user: str = "u", password: str = "p") -> Any:
    """A pyVmomi session to a local vcsim (which takes any user and password by default)."""
    return SmartConnect(
        host=host, port=port, user=user, pwd=password, disableSslCertValidation=True
    )


@contextmanager
def session(host: str, port: int) -> Iterator[Any]:
    """``connect``, logged out again at the end."""
    si = connect(host, port)
    try:
        yield si
    finally:
        Disconnect(si)


def inventory(si: Any, kind: type = vim.VirtualMachine) -> list[Any]:
    """Every object of ``kind`` (VMs by default), sorted by name."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [kind], True)
    try:
        return sorted(view.view, key=lambda obj: obj.name)
    finally:
        view.DestroyView()


def reconfigure(vm: Any, extra: dict[str, object], **spec: object) -> None:
    """ReconfigVM with ``extra`` as extraConfig (vcsim's ``SET.`` keys seed quickStats)."""
    options = [vim.option.OptionValue(key=k, value=v) for k, v in extra.items()]
    WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(extraConfig=options, **spec)))
