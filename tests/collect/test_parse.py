"""Pure parts of collection: property values to model objects, error translation, perf parsing.

Values are built from real pyVmomi data types (no stand-ins for the server: these
functions never talk to one).
"""

from __future__ import annotations

import socket
import ssl

import pytest
from pyVmomi import vim, vmodl

from balloon_audit.collect import properties as P
from balloon_audit.collect.connection import translate_error
from balloon_audit.collect.perf import counter_ids, latest_values
from balloon_audit.collect.source import _rejects_keyed_path
from balloon_audit.collect.target import Target
from balloon_audit.errors import (
    AuthenticationError,
    CollectionError,
    CollectionTimeoutError,
    ConnectionFailedError,
    PermissionDeniedError,
    TLSVerificationError,
)
from balloon_audit.model import Host

TARGET = Target("vc01", user="auditor", password="pw-Xy9-secret")
HOST = Host("host-1", "esx01", "vc01", "DC1", "CL1", "connected")


def option(key: str, value: str) -> vim.option.OptionValue:
    return vim.option.OptionValue(key=key, value=value)


# --- sched.mem.maxmemctl: keyed path and whole-extraConfig fallback -------------------


def test_maxmemctl_from_keyed_path() -> None:
    assert P.parse_maxmemctl(option("sched.mem.maxmemctl", "0")) == "0"
    assert P.parse_maxmemctl(None) is None


def test_maxmemctl_from_whole_extra_config() -> None:
    whole = [option("guestinfo.x", "1"), option("sched.mem.maxmemctl", "1330"), option("a", "b")]
    assert P.parse_maxmemctl(whole) == "1330"
    assert P.parse_maxmemctl([option("guestinfo.x", "1")]) is None
    assert P.parse_maxmemctl([]) is None


def test_build_vm_reads_either_extra_config_form() -> None:
    keyed = {"runtime.powerState": "poweredOn", P.MAXMEMCTL_PATH: option(P.MAXMEMCTL_KEY, "0")}
    whole = {"runtime.powerState": "poweredOn", P.EXTRA_CONFIG: [option(P.MAXMEMCTL_KEY, "0")]}
    assert P.build_vm("vm-1", keyed, server="vc01", host=HOST).maxmemctl == "0"
    assert P.build_vm("vm-1", whole, server="vc01", host=HOST).maxmemctl == "0"


def test_vm_paths_switch_between_keyed_and_whole() -> None:
    assert P.MAXMEMCTL_PATH in P.vm_paths(True) and P.EXTRA_CONFIG not in P.vm_paths(True)
    assert P.EXTRA_CONFIG in P.vm_paths(False) and P.MAXMEMCTL_PATH not in P.vm_paths(False)
    assert all(not p.endswith(("summary", "config", "guest", "runtime")) for p in P.vm_paths())


def test_fallback_only_for_faults_about_extra_config() -> None:
    assert _rejects_keyed_path(vmodl.query.InvalidProperty(name=P.MAXMEMCTL_PATH))
    assert _rejects_keyed_path(vmodl.query.InvalidProperty())
    assert not _rejects_keyed_path(vmodl.query.InvalidProperty(name="summary.quickStats.foo"))


# --- units and quickStats availability ------------------------------------------------


def running(**extra: object) -> dict:
    props = {
        "name": "app01",
        "runtime.powerState": "poweredOn",
        "config.hardware.memoryMB": 8192,
        "runtime.host": vim.HostSystem("host-1"),
    }
    props.update(extra)
    return props


def test_units_are_normalised() -> None:
    vm = P.build_vm(
        "vm-1",
        running(
            **{
                P.COMPRESSED: 3072,  # KB
                P.BALLOONED: 512,
                P.SWAPPED: 0,
                P.HOST_MEMORY_USAGE: 8000,
                "config.memoryAllocation.limit": 4096,
                "config.memoryAllocation.reservation": 1024,
            }
        ),
        server="vc01",
        host=HOST,
    )
    assert vm.compressed_mb == 3.0
    assert vm.ballooned_mb == 512
    assert vm.swapped_mb == 0
    assert vm.memory_limit_mb == 4096
    assert vm.memory_reservation_mb == 1024
    assert vm.quickstats_available
    assert (vm.datacenter, vm.cluster, vm.host, vm.host_moid) == ("DC1", "CL1", "esx01", "host-1")
    assert vm.host_connection_state == "connected"


@pytest.mark.parametrize("limit", [-1, None])
def test_unlimited_memory_is_none(limit: int | None) -> None:
    props = running(**{"config.memoryAllocation.limit": limit})
    assert P.build_vm("vm-1", props, server="vc01", host=HOST).memory_limit_mb is None


def test_host_memory_bytes_to_mb() -> None:
    host = P.build_host(
        "host-1",
        {
            "name": "esx01",
            "hardware.memorySize": 4294430720,
            "runtime.connectionState": "connected",
        },
        server="vc01",
        datacenter="DC1",
        cluster=None,
    )
    assert host.memory_size_mb == pytest.approx(4095.488, abs=0.001)
    assert host.cluster is None and host.connected


def test_all_zero_counters_mean_no_runtime_data() -> None:
    zeros = {path: 0 for path in P.RUNTIME_COUNTERS}
    vm = P.build_vm("vm-1", running(**zeros), server="vc01", host=HOST)
    assert not vm.quickstats_available
    assert vm.ballooned_mb is None and vm.swapped_mb is None and vm.compressed_mb is None
    assert vm.runtime_value(vm.ballooned_mb) is None


def test_absent_counters_mean_no_runtime_data() -> None:
    vm = P.build_vm("vm-1", running(), server="vc01", host=HOST)
    assert not vm.quickstats_available
    assert vm.ballooned_mb is None


@pytest.mark.parametrize("counter", P.RUNTIME_COUNTERS)
def test_any_nonzero_counter_means_runtime_data(counter: str) -> None:
    vm = P.build_vm("vm-1", running(**{counter: 5}), server="vc01", host=HOST)
    assert vm.quickstats_available


def test_runtime_data_needs_power_and_a_connected_host() -> None:
    props = running(**{P.HOST_MEMORY_USAGE: 100})
    off = P.build_vm("vm-1", {**props, "runtime.powerState": "poweredOff"}, server="v", host=HOST)
    assert not off.quickstats_available
    lost = Host("host-1", "esx01", "vc01", "DC1", "CL1", "notResponding")
    assert not P.build_vm("vm-1", props, server="v", host=lost).quickstats_available
    assert not P.build_vm("vm-1", props, server="v", host=None).quickstats_available


# --- error translation ------------------------------------------------------------------


def assert_clean(err: CollectionError) -> None:
    for text in (str(err), repr(err), err.hint or ""):
        assert "pw-Xy9-secret" not in text
    assert err.hint
    assert "\n" not in str(err)


def test_invalid_login() -> None:
    err = translate_error(vim.fault.InvalidLogin(), TARGET, phase="connect")
    assert isinstance(err, AuthenticationError)
    assert "auditor" in str(err)
    assert_clean(err)


@pytest.mark.parametrize(
    "fault", [vim.fault.NoPermission(privilegeId="System.View"), vim.fault.NotAuthenticated()]
)
def test_permission_faults(fault: Exception) -> None:
    err = translate_error(fault, TARGET, phase="collect")
    assert isinstance(err, PermissionDeniedError)
    assert "System.View" in (err.hint or "") and "System.Read" in (err.hint or "")
    assert_clean(err)


def test_wrapped_socket_errors_are_unwrapped() -> None:
    """pyVmomi wraps socket errors during RetrieveContent in HostConnectFault."""
    try:
        try:
            raise TimeoutError("timed out")
        except TimeoutError:
            raise vim.fault.HostConnectFault(msg="timed out")  # noqa: B904 - as pyVmomi does
    except vim.fault.HostConnectFault as exc:
        err = translate_error(exc, TARGET, phase="collect")
    assert isinstance(err, CollectionTimeoutError)
    assert_clean(err)


def test_os_level_errors() -> None:
    assert isinstance(
        translate_error(ConnectionRefusedError(111, "refused"), TARGET, phase="connect"),
        ConnectionFailedError,
    )
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    assert isinstance(translate_error(cert, TARGET, phase="connect"), TLSVerificationError)
    timeout = translate_error(TimeoutError(), TARGET, phase="connect")
    assert isinstance(timeout, CollectionTimeoutError) and "connecting" in str(timeout)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (vim.fault.InvalidLogin(), "login"),
        (vim.fault.NoPermission(privilegeId="System.View"), "permission"),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "protocol"),
        (ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] handshake failure"), "tls"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "tls"),
        (ConnectionRefusedError(111, "refused"), "unreachable"),
        (TimeoutError(), "timeout"),
        (RuntimeError("boom"), "protocol"),
    ],
)
def test_every_translated_error_names_its_kind(exc: Exception, kind: str) -> None:
    assert translate_error(exc, TARGET, phase="connect").kind == kind


def test_unknown_errors_while_connecting_quote_no_server_text() -> None:
    # The password was just sent: whatever the server or library says is left out.
    err = translate_error(RuntimeError("boom pw-Xy9-secret"), TARGET, phase="connect")
    assert type(err) is CollectionError
    assert_clean(err)
    assert "boom" not in str(err) and "RuntimeError" in str(err)


def test_messages_are_never_masked() -> None:
    # Masking substrings disclosed the password (host 'vc01.ex***.com'); nothing is masked.
    target = Target(server="vc01.example.com", port=8443, user="u", password="ample")
    err = translate_error(socket.gaierror(-2, "Name or service not known"), target, phase="connect")
    assert "'vc01.example.com'" in str(err) and "***" not in str(err)
    port = Target(server="vc01", port=8443, user="u", password="8443")
    refused = translate_error(ConnectionRefusedError(111, "refused"), port, phase="connect")
    assert "port 8443" in str(refused)


# --- performance counters ---------------------------------------------------------------


def counter_info(
    key: int, group: str, name: str, rollup: str
) -> vim.PerformanceManager.CounterInfo:
    return vim.PerformanceManager.CounterInfo(
        key=key,
        groupInfo=vim.ElementDescription(key=group, label=group, summary=group),
        nameInfo=vim.ElementDescription(key=name, label=name, summary=name),
        rollupType=rollup,
    )


def test_counter_ids_by_full_name() -> None:
    infos = [
        counter_info(85, "mem", "swapinRate", "average"),
        counter_info(86, "mem", "swapoutRate", "average"),
        counter_info(87, "mem", "swapinRate", "maximum"),
    ]
    assert counter_ids(infos, ["mem.swapinRate.average", "mem.swapoutRate.average"]) == {
        "mem.swapinRate.average": 85,
        "mem.swapoutRate.average": 86,
    }
    assert counter_ids([], ["mem.swapinRate.average"]) == {}


def test_latest_values_drop_no_data_markers() -> None:
    pm = vim.PerformanceManager
    metric = pm.EntityMetric(
        entity=vim.VirtualMachine("vm-7"),
        value=[
            pm.IntSeries(id=pm.MetricId(counterId=85, instance=""), value=[3, 12]),
            pm.IntSeries(id=pm.MetricId(counterId=86, instance=""), value=[-1]),
            pm.IntSeries(id=pm.MetricId(counterId=90, instance=""), value=[]),
        ],
    )
    assert latest_values([metric]) == {"vm-7": {85: 12.0}}
