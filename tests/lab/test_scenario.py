"""Scenario files: validation (no vcsim needed), the shipped scenarios, the demo's arithmetic."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from balloon_audit import memstate
from balloon_audit.errors import LabError
from balloon_audit.lab import (
    ScenarioError,
    api_name,
    list_scenarios,
    load_scenario,
    parse_scenario,
)
from balloon_audit.lab.hostmodel import _get, _set
from balloon_audit.lab.scenario import tomllib
from balloon_audit.lab.seed import config_spec, set_values

MB = 1024 * 1024
BASE = """
[model]
clusters = 1
hosts_per_cluster = 2
standalone_hosts = 1
"""


def parse(text: str):
    return parse_scenario(tomllib.loads(BASE + text), name="t", source="t.toml")


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse(text)
    return list(info.value.problems)


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nballoned_mb = 5',
            "vms[0] 'a'.balloned_mb: unknown key (did you mean 'ballooned_mb'?)",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nballooned_mb = "12"',
            "vms[0] 'a'.ballooned_mb: expected an integer, got '12'",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nswapped_mb = -1',
            "vms[0] 'a'.swapped_mb: expected an integer between 0 and 2147483647, got -1",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nmemory_mb = true',
            "vms[0] 'a'.memory_mb: expected an integer, got True",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nhost_memory_usage_mb = 3000000000',
            "vms[0] 'a'.host_memory_usage_mb: expected an integer between 0 and 2147483647",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\ntools_running_status = "running"',
            "vms[0] 'a'.tools_running_status: expected one of guestToolsNotRunning",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\ntools_version_status2 = "current"',
            "vms[0] 'a'.tools_version_status2: expected one of guestToolsNotInstalled",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\ntools_status = "toolsOK"',
            "vms[0] 'a'.tools_status: expected one of toolsNotInstalled",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\ntools_version = "11.0.0"',
            "vms[0] 'a'.tools_version: expected a build number",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\npower_state = "on"',
            "vms[0] 'a'.power_state: expected one of poweredOn, poweredOff, suspended",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\ntemplate = true\npower_state = "poweredOn"',
            "vms[0] 'a'.power_state: a template is always poweredOff",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nextra_config = {"sched.mem.maxmemctl" = 0}',
            "vms[0] 'a'.extra_config.sched.mem.maxmemctl: values are strings in the API",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\n'
            'extra_config = {"SET.summary.quickStats.balloonedMemory" = "5"}',
            "reserved for the simulator",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nextra_config = {"sched.mem.maxmemctl" = ""}',
            "an empty value deletes the key",
        ),
        ('[[vms]]\nname = "a"\nhost = "DC9_H0"', "vms[0] 'a'.host: no host 'DC9_H0' in the model"),
        ('[[vms]]\nname = "a"', "vms[0] 'a': give exactly one of host or cluster"),
        ('[[vms]]\nname = "a"\ncluster = "DC0_C7"', "vms[0] 'a'.cluster: no cluster 'DC0_C7'"),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nexpect = ["BA301:high"]',
            "vms[0] 'a'.expect[0]: expected 'BA###:info|warning|critical'",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nno_quickstats = true\nballooned_mb = 5',
            "vms[0] 'a'.ballooned_mb: contradicts no_quickstats = true",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nmemory_mb = 1024\nswapped_mb = 2048',
            "vms[0] 'a'.swapped_mb: 2048 is more than memory_mb (1024)",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nmemory_reservation_mb = 2048\n'
            "memory_limit_mb = 1024",
            "vms[0] 'a'.memory_limit_mb: is below the reservation",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nmemory_mb = 1024\nmemory_reservation_mb = 2048',
            "vms[0] 'a'.memory_reservation_mb: expected an integer between 0 and 1024",
        ),
        (
            '[[vms]]\nname = "a/b"\nhost = "DC0_H0"\n[[vms]]\nname = "a/b"\nhost = "DC0_C0_H0"',
            "vms: name 'a%2fb' is used twice",
        ),
        (
            '[[hosts]]\nname = "DC0_H0"\nconnection_state = "down"',
            "hosts[0].connection_state: expected one of connected, disconnected, notResponding",
        ),
        (
            '[[hosts]]\nname = "DC0_H0"\nmemory_mb = 4096\nmemory_usage_mb = 5000',
            "hosts[0].memory_usage_mb: 5000 is more than the host's 4096 MB",
        ),
        (
            '[[hosts]]\nname = "DC0_H0"\nmemory_mb = 4096\nmemory_bytes = 4294967296',
            "hosts[0]: give memory_mb or memory_bytes, not both",
        ),
        ('[[hosts]]\nname = "nope"', "hosts[0].name: no host 'nope' in the model"),
        ('[[clusters]]\nname = "DC0_C0"\nexpect = "BA503:info"', "clusters[0].expect"),
        ('[[vm_groups]]\nname = "web"\ncount = 2\nhost = "DC0_H0"', "vm_groups[0].name"),
        ("[vm_defaults]\nballon_mb = 1", "vm_defaults.ballon_mb: unknown key"),
        ("colour = 1", "colour: unknown key"),
    ],
)
def test_validation_names_the_key(snippet: str, expected: str) -> None:
    found = problems(snippet)
    assert any(expected in p for p in found), found


def test_model_keys_are_validated() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(tomllib.loads("[model]\nhost = 3\nesx = 1"), name="t")
    text = str(info.value)
    assert "model.host: unknown key" in text
    assert "model.esx: expected true or false, got 1" in text


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        '[[vms]]\nname = "a"\nhost = "DC0_H0"\nballooned_mb = "x"\n'
        '[[vms]]\nname = "b"\nhost = "DC0_H0"\npower_state = "off"\n'
    )
    assert len(found) == 2


def test_scenario_error_is_a_lab_error_with_a_hint() -> None:
    with pytest.raises(LabError) as info:
        load_scenario("no-such-scenario")
    assert "demo" in str(info.value)  # lists the known names
    assert info.value.hint


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[vms]\nname = ")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "missing.toml")


def test_defaults_groups_and_placement() -> None:
    scenario = parse(
        "[host_defaults]\nmemory_mb = 65536\n"
        '[[hosts]]\nname = "DC0_H0"\nconnection_state = "disconnected"\n'
        '[vm_defaults]\nguest_id = "rhel9_64Guest"\nmemory_mb = 2048\n'
        '[[vm_groups]]\nname = "w-{n:02d}"\ncount = 3\nhosts = ["DC0_C0_H0", "DC0_C0_H1"]\n'
        'expect = ["BA301:info"]\nballooned_mb = 100\n'
        '[[vms]]\nname = "locked"\ncluster = "DC0_C0"\nreservation_locked_to_max = true\n'
        "memory_limit_mb = -1\n"
    )
    assert scenario.needs_load
    assert {h.name for h in scenario.hosts} == {"DC0_H0", "DC0_C0_H0", "DC0_C0_H1"}
    assert all(h.memory_bytes == 65536 * MB for h in scenario.hosts)
    assert not scenario.host_connected("DC0_H0")
    names = [v.name for v in scenario.vms]
    assert names == ["locked", "w-01", "w-02", "w-03"]
    assert [v.host for v in scenario.vms[1:]] == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H0"]
    assert all(v.guest_id == "rhel9_64Guest" and v.memory_mb == 2048 for v in scenario.vms)
    locked = scenario.vm("locked")
    assert locked.memory_reservation_mb == 2048  # vCenter keeps it at the configured size
    assert locked.memory_limit_mb is None  # -1 means unlimited
    assert len(scenario.expectations()) == 3


def test_api_name_escapes_like_vcenter() -> None:
    assert api_name("a/b\\c%d") == "a%2fb%5cc%25d"
    assert api_name("<script>") == "<script>"


# ------------------------------------------------------------- what is sent to vcsim


def test_set_values_have_api_types_and_duplicated_fields() -> None:
    vm = parse(
        '[[vms]]\nname = "a"\nhost = "DC0_H0"\nmemory_mb = 8192\nballooned_mb = 512\n'
        "compressed_kb = 2048\n"
    ).vms[0]
    values = dict(set_values(vm))
    assert values["summary.quickStats.balloonedMemory"] == 512
    assert values["summary.quickStats.compressedMemory"] == 2048  # KB, as the API has it
    assert values["summary.quickStats.hostMemoryUsage"] == 8192 * 8 // 10
    assert values["summary.quickStats.uptimeSeconds"] > 0
    assert "summary.quickStats.swappedMemory" not in values  # zero is omitted, as on the wire
    for prop in ("toolsVersionStatus2", "toolsStatus", "toolsRunningStatus"):
        assert values[f"guest.{prop}"] == values[f"summary.guest.{prop}"]
    assert values["guest.toolsVersion"] == "12352"
    for path, value in values.items():
        assert type(value) in (int, str), path  # never bool, float or None
        assert not path.startswith("SET.")


def test_no_quickstats_and_disconnected_hosts_send_no_counters() -> None:
    scenario = parse(
        '[[hosts]]\nname = "DC0_H0"\nconnection_state = "notResponding"\n'
        '[[vms]]\nname = "a"\nhost = "DC0_C0_H0"\nno_quickstats = true\n'
        '[[vms]]\nname = "b"\nhost = "DC0_H0"\n'
        '[[vms]]\nname = "c"\nhost = "DC0_C0_H0"\npower_state = "poweredOff"\n'
    )
    for vm in scenario.vms:
        values = dict(set_values(vm, scenario.host_connected(vm.host)))
        counters = [
            k for k in values if k.startswith("summary.quickStats.") and "Heartbeat" not in k
        ]
        assert counters == [], vm.name
    b = dict(set_values(scenario.vm("b"), False))
    assert b["runtime.connectionState"] == b["summary.runtime.connectionState"] == "disconnected"
    c = dict(set_values(scenario.vm("c")))
    assert c["guest.toolsRunningStatus"] == "guestToolsNotRunning"  # powered off


def test_config_spec_carries_allocation_and_extra_config() -> None:
    vm = parse(
        '[[vms]]\nname = "a"\nhost = "DC0_H0"\nmemory_mb = 8192\nmemory_limit_mb = 4096\n'
        'memory_reservation_mb = 1024\nextra_config = {"sched.mem.maxmemctl" = "0"}\n'
        'annotation = "x"\n'
    ).vms[0]
    spec = config_spec(vm, "LocalDS_0")
    assert spec.memoryMB == 8192
    assert spec.memoryAllocation.limit == 4096
    assert spec.memoryAllocation.reservation == 1024
    assert spec.memoryReservationLockedToMax is False
    assert spec.files.vmPathName == "[LocalDS_0]"
    extra = {o.key: o.value for o in spec.extraConfig}
    assert extra["sched.mem.maxmemctl"] == "0"
    assert extra["SET.summary.quickStats.hostMemoryUsage"] == 6553


def test_tools_not_installed_reports_version_zero() -> None:
    vm = parse(
        '[[vms]]\nname = "a"\nhost = "DC0_H0"\ntools_version_status2 = ""\n'
        'tools_version_status = ""\ntools_status = "toolsNotInstalled"\n'
    ).vms[0]
    values = dict(set_values(vm))
    assert values["guest.toolsVersion"] == "0"
    assert "guest.toolsVersionStatus2" not in values


# ----------------------------------------------------------------- saved-model surgery

HOST_XML = """<ObjectContent>
  <obj type="HostSystem">host-21</obj>
  <propSet>
    <name>summary</name>
    <val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" \
XMLSchema-instance:type="HostListSummary">
      <hardware>
        <memorySize>4294430720</memorySize>
      </hardware>
      <runtime>
        <connectionState>connected</connectionState>
      </runtime>
      <quickStats>
        <overallCpuUsage>67</overallCpuUsage>
      </quickStats>
    </val>
  </propSet>
  <propSet>
    <name>hardware</name>
    <val XMLSchema-instance:type="HostHardwareInfo">
      <reliableMemoryInfo>
        <memorySize>0</memorySize>
      </reliableMemoryInfo>
      <memorySize>4294430720</memorySize>
    </val>
  </propSet>
</ObjectContent>
"""


def test_saved_model_edits_the_right_element() -> None:
    text = _set(HOST_XML, "hardware", ["memorySize"], "68719476736")
    assert _get(text, "hardware", ["memorySize"]) == "68719476736"
    assert "<memorySize>0</memorySize>" in text  # the nested one is untouched
    text = _set(text, "summary", ["runtime", "connectionState"], "notResponding")
    assert _get(text, "summary", ["runtime", "connectionState"]) == "notResponding"
    # overallMemoryUsage is omitted when zero: it is added where it belongs
    text = _set(text, "summary", ["quickStats", "overallMemoryUsage"], "1234")
    assert _get(text, "summary", ["quickStats", "overallMemoryUsage"]) == "1234"
    assert _get(text, "summary", ["quickStats", "overallCpuUsage"]) == "67"
    assert _get(text, "summary", ["hardware", "memorySize"]) == "4294430720"


# ---------------------------------------------------------------- shipped scenarios


def test_shipped_scenarios_load() -> None:
    names = [name for name, _ in list_scenarios()]
    assert {"demo", "empty", "esx", "healthy", "large"} <= set(names)
    for name in names:
        scenario = load_scenario(name)
        assert scenario.description
        assert scenario.name == name


def test_large_needs_several_pages() -> None:
    assert len(load_scenario("large").vms) >= 2500


def test_healthy_and_empty_expect_nothing() -> None:
    assert load_scenario("healthy").expectations() == []
    assert load_scenario("empty").expectations() == []
    assert load_scenario("empty").vms == ()


def _host_state(size_mb: float, usage_mb: float) -> str:
    return memstate.estimate(size_mb, usage_mb).state


def test_demo_host_and_cluster_expectations_follow_the_catalogue() -> None:
    """Recompute BA203/BA501/BA502/BA503 from the demo's numbers: the expect lists must agree.

    (vcsim has no mem.state samples, so BA501 is the quickStats estimate here.)"""
    demo = load_scenario("demo")
    on_host: dict[str, list] = {}
    for vm in demo.vms:
        if vm.powered_on:
            on_host.setdefault(vm.host, []).append(vm)
    severity_501 = {"clear": "info", "soft": "warning", "hard": "critical", "low": "critical"}
    cluster_vm_mb: dict[str, int] = {}
    cluster_host_mb: dict[str, float] = {}
    model_hosts = demo.model.host_names()
    for host in demo.hosts:
        expected: set[str] = set()
        size_mb = host.memory_bytes / MB
        vms = on_host.get(host.name, [])
        if host.connection_state == "connected":
            state = _host_state(size_mb, host.memory_usage_mb)
            if state in severity_501:
                expected.add(f"BA501:{severity_501[state]}")
            if any(vm.swapped_mb for vm in vms):
                expected.add("BA502:critical")
            elif any(vm.ballooned_mb for vm in vms):
                expected.add("BA502:warning")
            ctl_max = dict(host.advanced_options).get("Mem.CtlMaxPercent", 65)
            if ctl_max == 0:
                swapping = any(vm.swapped_mb for vm in vms)
                expected.add("BA203:critical" if swapping else "BA203:warning")
            elif ctl_max < 65:
                expected.add("BA203:info")
            overhead = sum(vm.overhead_mb for vm in vms)
            ratio = (sum(vm.memory_mb for vm in vms) + overhead) / size_mb
            if ratio > 2.0:
                expected.add("BA503:warning")
            elif ratio > 1.5:
                expected.add("BA503:info")
            cluster = model_hosts[host.name]
            if cluster:
                cluster_vm_mb[cluster] = cluster_vm_mb.get(cluster, 0) + sum(
                    vm.memory_mb for vm in vms
                )
                cluster_host_mb[cluster] = cluster_host_mb.get(cluster, 0) + size_mb
        assert set(host.expect) == expected, host.name
    for cluster in demo.clusters:
        ratio = cluster_vm_mb[cluster.name] / cluster_host_mb[cluster.name]
        expected = {"BA503:warning"} if ratio > 2.0 else {"BA503:info"} if ratio > 1.5 else set()
        assert set(cluster.expect) == expected, cluster.name


def test_demo_covers_every_rule_and_severity() -> None:
    demo = load_scenario("demo")
    seen = {(e.rule, e.severity) for e in demo.expectations()}
    wanted = {
        ("BA101", "critical"),
        ("BA101", "warning"),
        ("BA102", "info"),
        ("BA103", "info"),
        ("BA103", "warning"),
        ("BA103", "critical"),
        ("BA104", "info"),
        ("BA201", "warning"),
        ("BA201", "critical"),
        ("BA202", "info"),
        ("BA203", "info"),
        ("BA203", "warning"),
        ("BA203", "critical"),
        ("BA301", "info"),
        ("BA301", "warning"),
        ("BA301", "critical"),
        ("BA302", "warning"),
        ("BA302", "critical"),
        ("BA303", "warning"),
        ("BA401", "warning"),
        ("BA401", "critical"),
        ("BA402", "warning"),
        ("BA403", "info"),
        ("BA403", "warning"),
        ("BA403", "critical"),
        ("BA404", "warning"),
        ("BA501", "info"),
        ("BA501", "warning"),
        ("BA501", "critical"),
        ("BA502", "warning"),
        ("BA502", "critical"),
        ("BA503", "info"),
        ("BA503", "warning"),
        ("BA601", "info"),
        ("BA602", "warning"),
        ("BA901", "info"),
    }
    assert wanted <= seen, wanted - seen
    healthy = [vm for vm in demo.vms if not vm.expect]
    assert len(healthy) >= 10
    hostile = {'=HYPERLINK("http://evil","x")', "<script>alert(1)</script>", "finance/payroll-01"}
    assert hostile <= {vm.name for vm in demo.vms}


def test_demo_names_match_kubernetes_patterns_only_where_expected() -> None:
    """BA602: a whole word k8s/kube/kubernetes/ocp/openshift/tkg/tkc, and reclaimed."""
    pattern = re.compile(
        r"(?<![a-z0-9])(k8s|kube|kubernetes|ocp|openshift|tkg|tkc)[0-9]*(?![a-z0-9])", re.I
    )
    for vm in load_scenario("demo").vms:
        k8s = bool(pattern.search(vm.name) or pattern.search(vm.annotation))
        reclaimed = bool(vm.ballooned_mb or vm.swapped_mb)
        flagged = k8s and vm.powered_on and reclaimed
        assert flagged == ("BA602:warning" in vm.expect), vm.name


def test_demo_tools_versions_decode() -> None:
    """toolsVersion is major*1024 + minor*32 + patch: the macOS cases straddle 11.0.0."""

    def decode(v: str) -> tuple[int, int, int]:
        n = int(v)
        return n // 1024, n % 1024 // 32, n % 32

    demo = load_scenario("demo")
    assert decode(demo.vm("mac-build-01").effective_tools_version) == (11, 0, 0)
    assert decode(demo.vm("mac-legacy-01").effective_tools_version) == (10, 3, 10)
    assert decode("12352") == (12, 2, 0)


# ----------------------------------------------------- models: more keys, more shapes


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("[vm_defaults]\nballooned_mb = -5", "vm_defaults.ballooned_mb: expected an integer"),
        ("[host_defaults]\nmemory_mb = 12", "host_defaults.memory_mb: expected an integer between"),
        ('[host_defaults]\nname = "x"', "host_defaults.name: unknown key"),
        (
            '[[vm_groups]]\nname = "w-{n}"\ncount = 2\nhosts = ["DC0_H0", "DC7_H0"]',
            "vm_groups[0].hosts: no host 'DC7_H0' in the model",
        ),
        ('[[vm_groups]]\nname = "w-{n}"\ncount = 0\nhost = "DC0_H0"', "vm_groups[0].count"),
        (
            '[[vm_groups]]\nname = "w-{n}"\ncount = 2\nhost = "DC0_H0"\nswapped_mb = "1"',
            "vm_groups[0].swapped_mb: expected an integer, got '1'",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nexpect = ["BA301:info", "BA301:info"]',
            "vms[0] 'a'.expect: lists the same finding twice",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nextra_config = "x"',
            "vms[0] 'a'.extra_config: expected a table of string values",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nreservation_locked_to_max = true\n'
            "memory_reservation_mb = 5",
            "vms[0] 'a'.memory_reservation_mb: must equal memory_mb",
        ),
        (
            '[[vms]]\nname = "a"\nhost = "DC0_H0"\nguest_id = "windows"',
            "vms[0] 'a'.guest_id: expected a guest id like 'rhel9_64Guest'",
        ),
        ('[[vms]]\nhost = "DC0_H0"', "vms[0] '?'.name: missing"),
        ('[[vms]]\nname = "a"\nhost = "DC0_H0"\ncluster = "DC0_C0"', "give exactly one of"),
        ('[[clusters]]\nname = "DC0_C0"\nexpect = ["BA503:info"]\nx = 1', "clusters[0].x: unknown"),
    ],
)
def test_more_keys_are_named(snippet: str, expected: str) -> None:
    found = problems(snippet)
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vms = 3", "vms: expected an array of tables ([[vms]])"),
        ("model = 3", "model: expected a table, got an integer"),
        ("description = 5", "description: expected a string, got 5"),
    ],
)
def test_top_level_shapes(text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(tomllib.loads(text), name="t")
    assert info.value.problems == (expected,)


def test_esx_model_refuses_cluster_flags() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(tomllib.loads("[model]\nesx = true\nclusters = 2\n"), name="t")
    assert "model.clusters: not allowed with esx = true" in str(info.value)


def test_vm_defaults_placement_is_checked_per_vm() -> None:
    found = problems('[vm_defaults]\nhost = "DC0_H5"\n[[vms]]\nname = "a"\n')
    assert found == [
        "vms[0] 'a'.host: no host 'DC0_H5' in the model (known: DC0_H0, DC0_C0_H0, DC0_C0_H1)"
    ]


def test_specs_are_immutable_and_templates_default_to_powered_off() -> None:
    vm = parse('[[vms]]\nname = "t"\nhost = "DC0_H0"\ntemplate = true\n').vms[0]
    assert vm.power_state == "poweredOff" and not vm.powered_on
    with pytest.raises(ValueError):
        vm.memory_mb = 1  # type: ignore[misc]
