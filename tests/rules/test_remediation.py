"""Every finding of the core rules carries complete advice, with hostile names quoted safely."""

from __future__ import annotations

import shlex

import pytest

from balloon_audit.model import Snapshot, SourceInfo
from balloon_audit.rules.registry import get_rule
from balloon_audit.rules.shell import govc_name
from tests.factories import make_vm, run, template
from tests.rules.quoting import HOSTILE_NAMES, decode_powershell_literal

# VM settings that make each rule fire.
TRIGGERS = {
    "BA101": dict(tools_version_status2="guestToolsNotInstalled"),
    "BA102": dict(tools_running_status="guestToolsNotRunning"),
    "BA103": dict(tools_version_status2="guestToolsBlacklisted"),
    "BA104": dict(tools_version_status2="guestToolsUnmanaged"),
    "BA201": dict(maxmemctl="0", swapped_mb=10),
    "BA202": dict(maxmemctl="512"),
    "BA301": dict(ballooned_mb=3000),
    "BA302": dict(swapped_mb=3000),
    "BA303": dict(compressed_mb=30.0),
    "BA401": dict(memory_limit_mb=1024, ballooned_mb=10),
    "BA402": dict(memory_reservation_mb=4096, ballooned_mb=10),
    "BA901": dict(host_connection_state="notResponding"),
}
CORE_RULES = [*TRIGGERS, "BA902"]


@pytest.mark.parametrize("rule_id", CORE_RULES)
def test_metadata_is_complete(rule_id):
    meta = get_rule(rule_id).meta
    for field in ("name", "checks", "rationale", "remediation", "scope"):
        assert getattr(meta, field).strip(), field
    assert meta.references
    assert meta.name == meta.name.lower() and " " not in meta.name


def _check_finding(finding, name):
    rem = finding.remediation
    assert rem.summary.strip() and rem.steps and rem.confirm and rem.references
    assert rem.powercli and rem.govc
    assert "\n" not in finding.message.replace(name, "")
    # govc: bash splits the command back into the exact argument govc needs.
    words = shlex.split(rem.govc)
    assert words[0] == "govc"
    # by name, or (read-only metric commands) by managed object reference
    assert govc_name(name) in words or f"VirtualMachine:{finding.entity.moid}" in words
    # PowerCLI: the name literal decodes back to the exact name.
    marker = "$_.Name -ceq "
    start = rem.powercli.index(marker) + len(marker)
    value, _ = decode_powershell_literal(rem.powercli, start)
    assert value == name


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("rule_id", list(TRIGGERS))
def test_findings_have_advice_and_safe_commands(rule_id, name):
    vm = make_vm(name=name, guest_id="windows2019srv_64Guest", **TRIGGERS[rule_id])
    outcome = run(rule_id, vm)
    [finding] = outcome.findings
    assert finding.entity.name == name
    if rule_id == "BA901":
        # the fix targets the host, which is named instead of the VM
        assert finding.remediation.govc and finding.remediation.powercli
        return
    _check_finding(finding, name)


@pytest.mark.parametrize("rule_id", ["BA201", "BA202", "BA401"])
def test_config_rule_advice_for_templates(rule_id):
    [finding] = run(rule_id, template(name="tpl-rhel9", **TRIGGERS[rule_id])).findings
    assert finding.remediation.steps[0].startswith("vSphere Client: convert template")
    assert "template" in finding.remediation.summary


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("rule_id", ["BA201", "BA202", "BA401"])
def test_config_rule_commands_for_templates(rule_id, name):
    """vSphere refuses to reconfigure a template and Get-VM does not return one: the commands
    convert the template to a VM, change it, and convert it back."""
    tpl = template(name=name, host="esx 1", **TRIGGERS[rule_id])
    [finding] = run(rule_id, tpl).findings
    rem = finding.remediation
    _check_finding(finding, name)
    assert rem.powercli.startswith("Get-Template -Server ")
    assert " | Set-Template -ToVM | ForEach-Object { $_ | " in rem.powercli
    assert rem.powercli.endswith("; $_ | Set-VM -ToTemplate -Confirm:$false }")
    to_vm, change, back = rem.govc.split(" && ")
    assert shlex.split(to_vm) == [
        "govc",
        "vm.markasvm",
        "-dc",
        "DC1",
        "-host",
        "esx 1",
        "--",
        govc_name(name),
    ]
    assert shlex.split(change)[:2] == ["govc", "vm.change"]
    assert shlex.split(back) == ["govc", "vm.markastemplate", "-dc", "DC1", "--", govc_name(name)]
    # without a host, govc cannot mark the template as a VM: no command rather than a wrong one
    [finding] = run(rule_id, template(name=name, host=None, **TRIGGERS[rule_id])).findings
    assert finding.remediation.govc is None


def test_ba902_advice_is_complete():
    snap = Snapshot(sources=(SourceInfo(server="vc 'x'", status="failed", error="timed out"),))
    [finding] = run("BA902", snap=snap).findings
    rem = finding.remediation
    assert rem.summary and rem.steps and rem.confirm and rem.references
    assert shlex.split(rem.govc) == ["govc", "about", "-u", "https://vc 'x'/sdk"]
    assert decode_powershell_literal(rem.powercli, rem.powercli.index("'"))[0] == "vc 'x'"
