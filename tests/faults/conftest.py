"""Fixtures of the fault catalogue: a certificate, a second vcsim, the fault proxy."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from balloon_audit.lab.vcsim import VcsimEndpoint, start_vcsim, stop_vcsim
from tests.conftest import require_vcsim
from tests.faults.harness import CATALOGUE
from tests.faults.servers import Fault, SoapProxy, make_certificate


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI, when the machine lacks what a case needs."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(reason + " -- CI must run every fault case")
    pytest.skip("SKIPPING FAULT CASE: " + reason)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require(shutil.which("openssl") is not None, "openssl is not installed")
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def healthy_vcsim() -> Iterator[VcsimEndpoint]:
    """A second endpoint, an ESXi host (vcsim -esx), that must survive every fault.

    Not a second vCenter: every vcsim vCenter has the same instance UUID, and one vCenter
    under two names is audited once.
    """
    require_vcsim()
    endpoint = start_vcsim(["-esx"])
    yield endpoint
    stop_vcsim(endpoint.pid)


@pytest.fixture
def fault_proxy(
    vcsim_default: VcsimEndpoint, certificate: tuple[Path, Path]
) -> Iterator[Callable[..., SoapProxy]]:
    """``fault_proxy({"RetrievePropertiesEx": Fault("delay", 30)})``: a proxy to vcsim
    (``upstream=PORT`` for another one than the default vcsim)."""
    made: list[SoapProxy] = []

    def make(faults: dict[str, Fault] | None = None, upstream: int | None = None) -> SoapProxy:
        proxy = SoapProxy(upstream or vcsim_default.port, certificate, faults)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


@pytest.fixture
def watched(healthy_vcsim: VcsimEndpoint, certificate: tuple[Path, Path]) -> Iterator[SoapProxy]:
    """A pass-through proxy to the healthy endpoint: it shows that sessions are logged out."""
    proxy = SoapProxy(healthy_vcsim.port, certificate)
    yield proxy
    proxy.close()
    if proxy.methods:
        assert proxy.methods[-1] == "Logout", proxy.methods


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's hook
    if not CATALOGUE:
        return
    terminalreporter.section("fault catalogue")
    for case, seconds, outcome in CATALOGUE:
        terminalreporter.write_line(f"{case:<48} {seconds:6.1f}s  {outcome}")
