"""The generated govc commands, run through bash against vcsim, hit exactly the named VM.

vcsim stores entity names the way vCenter does (``/`` as ``%2f``, ``%`` as
``%25``, ``\\`` as ``%5c``), so the VMs are read back and the model gets the name
as the API spells it, like the collector would.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from balloon_audit.lab.vcsim import find_tool, start_vcsim, stop_vcsim
from balloon_audit.model import VM
from balloon_audit.rules.shell import govc_positional, govc_vm_change, govc_vm_json
from tests.factories import SERVER, make_vm, run
from tests.live import require_vcsim
from tests.rules.quoting import HOSTILE_NAMES

pytestmark = pytest.mark.live

POOL = "/DC0/host/DC0_C0/Resources"
# The default model's VMs (vm-62 ...) are the ones a name like "vm-62" must not hit.
NAMES = [n for n in HOSTILE_NAMES if n.strip()] + ["vm-62", "DC0_H0_VM0 copy", "a*"]


@pytest.fixture(scope="module")
def govc_env() -> Iterator[dict[str, str]]:
    """A private vcsim (this module reconfigures VMs) and the environment govc needs."""
    require_vcsim()
    if find_tool("govc") is None:
        pytest.skip("SKIPPING LIVE TEST: govc is not installed (scripts/provision.sh)")
    endpoint = start_vcsim()
    env = dict(
        os.environ,
        GOVC_URL=endpoint.url,
        GOVC_USERNAME="user",
        GOVC_PASSWORD="pass",
        GOVC_INSECURE="1",
        GOVC_PERSIST_SESSION="false",
        PATH=f"{find_tool('govc').parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    try:
        yield env
    finally:
        stop_vcsim(endpoint.pid)


def govc(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["govc", *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def bash(env: dict[str, str], command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60
    )


def inventory(env: dict[str, str]) -> dict[str, tuple[str, dict[str, str]]]:
    """moid -> (name as the API spells it, extraConfig) for every VM, in one govc call."""
    text = govc(env, "object.collect", "-json", "-type", "m", "/", "name", "config.extraConfig")
    decoder, pos, result = json.JSONDecoder(), 0, {}
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return result
        update, pos = decoder.raw_decode(text, pos)
        values = {c["name"]: c["val"] for c in update["changeSet"]}
        options = (values.get("config.extraConfig") or {}).get("_value") or []
        extra = {o["key"]: o["value"] for o in options}
        result[update["obj"]["value"]] = (values["name"], extra)


def has_maxmemctl(env: dict[str, str]) -> set[str]:
    return {moid for moid, (_, extra) in inventory(env).items() if "sched.mem.maxmemctl" in extra}


@pytest.fixture(scope="module")
def vms(govc_env) -> list[VM]:
    """One VM per hostile name plus the default model's, as the model would hold them.

    Every VM gets sched.mem.maxmemctl = 0, so BA201 flags all of them.
    """
    defaults = set(inventory(govc_env))
    for name in NAMES:
        govc(govc_env, "vm.create", "-on=false", "-net", "VM Network", "-pool", POOL, "--", name)
    result = []
    for moid, (name, _) in sorted(inventory(govc_env).items()):
        govc(govc_env, "vm.change", "-vm", moid, "-e", "sched.mem.maxmemctl=0")
        vm = make_vm(moid=moid, name=name, datacenter="DC0", maxmemctl="0")
        result.append(dataclasses.replace(vm, annotation="default" if moid in defaults else None))
    assert len(result) == len(NAMES) + len(defaults)
    return result


def test_ba201_govc_fix_changes_only_the_named_vm(govc_env, vms):
    """Run each BA201 remediation command in bash; exactly that VM loses the setting."""
    outcome = run("BA201", *vms)
    assert len(outcome.findings) == len(vms)
    all_moids = {vm.moid for vm in vms}
    ours = {vm.moid for vm in vms if vm.annotation is None}
    fixed: set[str] = set()
    for finding in outcome.findings:
        if finding.entity.moid not in ours:
            continue  # the default model's VMs are the decoys ("vm-62" must not hit vm-62)
        done = bash(govc_env, finding.remediation.govc)
        assert done.returncode == 0, (finding.entity.name, finding.remediation.govc, done.stderr)
        fixed.add(finding.entity.moid)
        assert has_maxmemctl(govc_env) == all_moids - fixed, finding.entity.name
    assert fixed == ours


def test_positional_commands_resolve_the_named_vm(govc_env, vms):
    for vm in vms:
        done = bash(govc_env, govc_positional("vm.info", vm, "-json"))
        assert done.returncode == 0, (vm.name, done.stderr)
        [info] = json.loads(done.stdout)["virtualMachines"]
        assert info["self"]["value"] == vm.moid, vm.name


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq not installed")
def test_json_commands_with_jq(govc_env, vms):
    vm = next(v for v in vms if "rm -rf" in v.name)
    done = bash(govc_env, govc_vm_json(vm, " | .self.value"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == vm.moid


def test_change_builder_with_extra_args(govc_env, vms):
    vm = next(v for v in vms if v.name.startswith("-starts"))
    done = bash(govc_env, govc_vm_change(vm, "-e", "guestinfo.mark=yes"))
    assert done.returncode == 0, done.stderr
    marked = {m for m, (_, extra) in inventory(govc_env).items() if "guestinfo.mark" in extra}
    assert marked == {vm.moid}


def _object_value(env: dict[str, str], ref: str, prop: str) -> str:
    return govc(env, "object.collect", "-s", ref, prop).strip()


def _host_name_of(env: dict[str, str], vm_moid: str) -> str:
    host_ref = _object_value(env, f"VirtualMachine:{vm_moid}", "runtime.host")
    return _object_value(env, host_ref, "name")


def test_template_fix_converts_changes_and_converts_back(govc_env):
    """vSphere refuses to reconfigure a template (NotSupported): the BA201 and BA401 commands
    convert it to a VM, change it and mark it as a template again."""
    name = "tpl 'golden' -01"
    govc(govc_env, "vm.create", "-on=false", "-net", "VM Network", "-pool", POOL, "--", name)
    [moid] = [m for m, (n, _) in inventory(govc_env).items() if n == name]
    govc(govc_env, "vm.change", "-vm", moid, "-e", "sched.mem.maxmemctl=0", "-mem.limit", "16")
    govc(govc_env, "vm.markastemplate", "--", name)
    assert _object_value(govc_env, f"VirtualMachine:{moid}", "config.template") == "true"
    tpl = make_vm(
        moid=moid,
        name=name,
        datacenter="DC0",
        host=_host_name_of(govc_env, moid),
        power_state="poweredOff",
        is_template=True,
        quickstats_available=False,
        maxmemctl="0",
        memory_mb=32,
        memory_limit_mb=16,
    )
    for rule_id in ("BA201", "BA401"):
        [finding] = run(rule_id, tpl).findings
        done = bash(govc_env, finding.remediation.govc)
        assert done.returncode == 0, (rule_id, finding.remediation.govc, done.stderr)
        ref = f"VirtualMachine:{moid}"
        assert _object_value(govc_env, ref, "config.template") == "true", rule_id
    assert moid not in has_maxmemctl(govc_env)
    [change] = json.loads(
        govc(
            govc_env, "object.collect", "-json", f"VirtualMachine:{moid}", "config.memoryAllocation"
        )
    )
    assert change["val"]["limit"] == -1


def test_ba901_govc_reconnects_the_host(govc_env):
    host = "DC0_C0_H1"
    govc(govc_env, "host.disconnect", "-dc", "DC0", "--", host)
    path = f"/DC0/host/DC0_C0/{host}"
    assert _object_value(govc_env, path, "runtime.connectionState") == "disconnected"
    vm = make_vm(
        datacenter="DC0", host=host, host_moid="host-x", host_connection_state="disconnected"
    )
    [finding] = run("BA901", vm).findings
    done = bash(govc_env, finding.remediation.govc)
    assert done.returncode == 0, (finding.remediation.govc, done.stderr)
    assert _object_value(govc_env, path, "runtime.connectionState") == "connected"


def test_wave2_commands_run_against_vcsim(govc_env, vms):
    """The metric, host-option and pool commands the wave-2 advice prints: govc accepts the
    managed object references they use, reads the counters and changes exactly the object."""
    from tests.factories import make_host

    vm = next(v for v in vms if v.annotation is None)
    [finding] = run("BA302", dataclasses.replace(vm, swapped_mb=100)).findings
    done = bash(govc_env, finding.remediation.govc)
    assert done.returncode == 0, done.stderr
    assert "mem.swapinRate.average" in done.stdout and "KBps" in done.stdout

    host_moid = govc(govc_env, "find", "-i", "/DC0/host/DC0_C0", "-type", "h").split()[0]
    host = make_host(moid=host_moid.split(":", 1)[1], name="DC0_C0_H0", ctl_max_pct=0)
    from balloon_audit.model import Snapshot, SourceInfo

    snap = Snapshot(sources=(SourceInfo(server="vc", status="ok"),), hosts=(host,))
    [ba203] = run("BA203", snap=snap).findings
    assert bash(govc_env, ba203.remediation.govc).returncode == 0
    shown = bash(govc_env, ba203.remediation.confirm[0].split(" (or ")[0])
    assert "Mem.CtlMaxPercent:" in shown.stdout and "65" in shown.stdout, shown.stderr
    [ba501] = run("BA501", snap=Snapshot(hosts=(dataclasses.replace(host, mem_state=2),))).findings
    done = bash(govc_env, ba501.remediation.govc)
    assert done.returncode == 0 and "mem.state.latest" in done.stdout, done.stderr


def test_ba403_pool_command_removes_exactly_that_limit(govc_env):
    from balloon_audit.model import ResourcePool, Snapshot, SourceInfo

    for name in ("ns-limited", "ns-other"):
        govc(govc_env, "pool.create", "-mem.limit", "1024", f"{POOL}/{name}")
    moid = govc(govc_env, "find", "-i", POOL, "-type", "p", "-name", "ns-limited").split()[0]
    pool = ResourcePool(
        moid=moid.split(":", 1)[1],
        name="ns-limited",
        server=SERVER,
        datacenter="DC0",
        cluster="DC0_C0",
        parent_moid=None,
        memory_limit_mb=1024,
    )
    vm = make_vm(resource_pool_moid=pool.moid, memory_mb=4096)
    snap = Snapshot(
        sources=(SourceInfo(server="vc", status="ok"),), vms=(vm,), resource_pools=(pool,)
    )
    [finding] = run("BA403", snap=snap).findings
    assert bash(govc_env, finding.remediation.govc).returncode == 0
    for name, limit in (("ns-limited", "-1MB"), ("ns-other", "1024MB")):  # only that pool
        info = govc(govc_env, "pool.info", f"{POOL}/{name}")
        assert [line.split()[-1] for line in info.splitlines() if "Mem Limit:" in line] == [limit]
