"""Ready-to-paste govc (POSIX shell) and PowerCLI (PowerShell) commands: VMs, hosts, clusters.

VM names are hostile input: they may hold quotes, ``$``, ``;``, newlines or
unicode. Every value goes through a quoting function for its shell, and every
command names the VM in a form its tool resolves to exactly one VM.

govc (``-vm NAME``) resolves a name without ``/`` in three ways that can all
pick the wrong VM, so :func:`govc_name` defends against each:

* a name that parses as a managed object ID (``vm-42``, ``VirtualMachine:vm-42``)
  is looked up as that ID, not as a name: the ``-`` or ``:`` is escaped;
* the name is matched as a Go ``path.Match`` glob (``*``, ``?``, ``[``, ``\\``):
  these are escaped with a backslash;
* a ``/`` makes it an inventory path: vSphere itself stores ``/`` in an entity
  name as ``%2f`` (and ``\\`` as ``%5c``, ``%`` as ``%25``), so a raw ``/`` is
  written the way the inventory spells it.

``-dc`` is added when the datacenter is known, so the lookup does not depend on
govc's default datacenter. Commands that take the VM as an argument
(``vm.info``, ``vm.guest.tools``) put it after ``--``, so a name starting with
``-`` is not read as an option. govc has no per-command server flag: the
command runs against the vCenter in ``GOVC_URL``. (Checked against govc and
vcsim v0.46.3 by tests/rules/test_commands_live.py.)

PowerCLI's ``Get-VM -Name`` treats the name as a wildcard pattern, so the
commands select the VM by its managed object ID instead
(``Get-VM -Server 'vc' -Id 'VirtualMachine-vm-42'``), which is exact, and then
keep it only if its name is still the expected one (``Where-Object``
``-ceq``): pasted against the wrong vCenter, the pipeline matches nothing
instead of changing another VM that happens to have the same ID.

Hosts and clusters are selected the same way (``Get-VMHost -Id 'HostSystem-host-42'``,
``Get-Cluster -Id 'ClusterComputeResource-domain-c7'``, name double-checked); their govc
commands (``host.info``, ``cluster.usage``) only read.

vSphere does not reconfigure templates, and ``Get-VM`` does not return them:
changes to a template go through :func:`govc_reconfigure` and
:func:`powercli_reconfigure`, which convert it to a VM and back.
"""

from __future__ import annotations

import re
import shlex

from balloon_audit.model import VM, Cluster, Host
from balloon_audit.netloc import split_hostport

# PowerShell treats these as single quotes too (System.Management.Automation
# CharExtensions.IsSingleQuote): each one must be doubled inside a literal.
_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_PS_DOUBLED = {ord(quote): quote * 2 for quote in _PS_SINGLE_QUOTES}

# Prefixes govmomi's object.ReferenceFromString maps to a managed object type.
_GOVMOMI_ID_PREFIXES = frozenset(
    {
        "datacenter",
        "datastore",
        "domain",
        "dvportgroup",
        "dvs",
        "group",
        "host",
        "network",
        "resgroup",
        "vm",
    }
)
_WORD = re.compile(r"[A-Za-z]+\Z")


def posix_quote(s: str) -> str:
    """Quote ``s`` as one word for bash/sh (single quotes, no expansion at all)."""
    return shlex.quote(s)


def powershell_quote(s: str) -> str:
    """Quote ``s`` as a PowerShell single-quoted (verbatim) string literal.

    Inside single quotes PowerShell expands nothing (no ``$var``, no backtick
    escapes); the only special characters are the quotes themselves, including
    the typographic ones U+2018, U+2019, U+201A and U+201B, each doubled here.
    """
    return "'" + s.translate(_PS_DOUBLED) + "'"


def govc_name(name: str) -> str:
    """The argument that makes govc's ``-vm`` / ``-dc`` match exactly the entity ``name``.

    ``name`` is the entity name as the vSphere API returns it.
    """
    escaped = name.replace("/", "%2f")
    escaped = re.sub(r"([*?\[\]\\])", r"\\\1", escaped)
    head, sep, _ = escaped.partition(":")
    if sep and _WORD.match(head):
        escaped = escaped.replace(":", "\\:", 1)
    head, sep, _ = escaped.partition("-")
    if sep and head in _GOVMOMI_ID_PREFIXES:
        escaped = escaped.replace("-", "\\-", 1)
    return escaped


def govc_vm_args(vm: VM) -> list[str]:
    """``-dc DATACENTER -vm NAME`` arguments (unquoted) selecting ``vm``."""
    args: list[str] = []
    if vm.datacenter:
        args += ["-dc", govc_name(vm.datacenter)]
    args += ["-vm", govc_name(vm.name)]
    return args


def govc_command(subcommand: str, vm: VM, *args: str) -> str:
    """``govc SUBCOMMAND -dc DC -vm NAME ARGS...`` with every word quoted for bash."""
    words = ["govc", subcommand, *govc_vm_args(vm), *args]
    return " ".join(posix_quote(w) for w in words)


def govc_positional(subcommand: str, vm: VM, *args: str) -> str:
    """``govc SUBCOMMAND -dc DC ARGS... -- NAME`` for commands that take the VM as an argument.

    ``--`` ends the options, so a name starting with ``-`` is still a name.
    """
    words = ["govc", subcommand]
    if vm.datacenter:
        words += ["-dc", govc_name(vm.datacenter)]
    words += [*args, "--", govc_name(vm.name)]
    return " ".join(posix_quote(w) for w in words)


def govc_vm_json(vm: VM, jq_filter: str) -> str:
    """Read-only: ``govc vm.info -json ... -- NAME | jq FILTER``.

    ``jq_filter`` is applied to the VM object (``.virtualMachines[0]`` is prefixed).
    """
    return (
        govc_positional("vm.info", vm, "-json")
        + " | jq "
        + posix_quote(".virtualMachines[0]" + jq_filter)
    )


def govc_vm_change(vm: VM, *args: str) -> str:
    """E.g. ``govc_vm_change(vm, "-e", "sched.mem.maxmemctl=")``."""
    return govc_command("vm.change", vm, *args)


def govc_reconfigure(vm: VM, *args: str) -> str | None:
    """``govc vm.change`` for a VM or a template.

    vSphere refuses to reconfigure a template (NotSupported), so a template is
    marked as a VM on its host, changed, and marked as a template again.
    ``None`` for a template whose host is unknown (``vm.markasvm`` needs one).
    """
    if not vm.is_template:
        return govc_vm_change(vm, *args)
    if not vm.host:
        return None
    dc = ["-dc", govc_name(vm.datacenter)] if vm.datacenter else []
    to_vm = ["govc", "vm.markasvm", *dc, "-host", govc_name(vm.host), "--", govc_name(vm.name)]
    back = ["govc", "vm.markastemplate", *dc, "--", govc_name(vm.name)]
    return " && ".join(
        [
            " ".join(posix_quote(w) for w in to_vm),
            govc_vm_change(vm, *args),
            " ".join(posix_quote(w) for w in back),
        ]
    )


def powercli_server(server: str) -> str:
    """The ``-Server`` value (host only) for a vCenter given as ``host[:port]``."""
    return split_hostport(server)[0]


def _powercli_get(cmdlet: str, vm: VM) -> str:
    return (
        f"{cmdlet} -Server {powershell_quote(powercli_server(vm.server))}"
        f" -Id {powershell_quote('VirtualMachine-' + vm.moid)}"
        f" | Where-Object {{ $_.Name -ceq {powershell_quote(vm.name)} }}"
    )


def powercli_vm(vm: VM) -> str:
    """A PowerShell expression yielding exactly ``vm`` (see the module docstring)."""
    return _powercli_get("Get-VM", vm)


def powercli_pipeline(vm: VM, *stages: str) -> str:
    """``powercli_vm(vm) | STAGE | STAGE ...``; stages must already quote their own values."""
    return " | ".join([powercli_vm(vm), *stages])


def powercli_template(vm: VM) -> str:
    """Like :func:`powercli_vm` for a template (``Get-VM`` does not return templates)."""
    return _powercli_get("Get-Template", vm)


def powercli_reconfigure(vm: VM, *stages: str) -> str:
    """:func:`powercli_pipeline` for a change that may target a template.

    A template cannot be reconfigured: it is converted to a VM (``Set-Template
    -ToVM``), the stages run on that VM, and it is converted back.
    """
    if not vm.is_template:
        return powercli_pipeline(vm, *stages)
    change = " | ".join(["$_", *stages])
    return (
        f"{powercli_template(vm)} | Set-Template -ToVM"
        f" | ForEach-Object {{ {change}; $_ | Set-VM -ToTemplate -Confirm:$false }}"
    )


def govc_moref(kind: str, moid: str) -> str:
    """``VirtualMachine:vm-42``: govc accepts a managed object reference wherever it takes an
    inventory path, and it names exactly one object, whatever the object's name holds."""
    return f"{kind}:{moid}"


def govc_metric(kind: str, moid: str, *counters: str, samples: int = 15) -> str:
    """Read-only: the last ``samples`` realtime (20 s) values of ``counters`` for one object."""
    words = ["govc", "metric.sample", "-n", str(samples), govc_moref(kind, moid), *counters]
    return " ".join(posix_quote(w) for w in words)


def govc_vm_metric(vm: VM, *counters: str, samples: int = 15) -> str:
    """:func:`govc_metric` for a VM (selected by its managed object reference)."""
    return govc_metric("VirtualMachine", vm.moid, *counters, samples=samples)


def powercli_reserve_all(vm: VM) -> str:
    """Tick "Reserve all guest memory" (memoryReservationLockedToMax) through a ConfigSpec.

    ``Set-VMResourceConfiguration -MemReservationGB`` would set a fixed reservation that no
    longer follows the configured memory; the UI step and ``govc -memory-pin`` lock it.
    """
    return powercli_reconfigure(
        vm,
        "ForEach-Object { $_.ExtensionData.ReconfigVM((New-Object "
        "VMware.Vim.VirtualMachineConfigSpec -Property @{MemoryReservationLockedToMax = $true})) }",
    )


# ---------------------------------------------------------------- hosts and clusters


def powercli_host(host: Host) -> str:
    """A PowerShell expression yielding exactly ``host`` (by moid, name double-checked)."""
    return (
        f"Get-VMHost -Server {powershell_quote(powercli_server(host.server))}"
        f" -Id {powershell_quote('HostSystem-' + host.moid)}"
        f" | Where-Object {{ $_.Name -ceq {powershell_quote(host.name)} }}"
    )


def powercli_cluster(cluster: Cluster) -> str:
    """A PowerShell expression yielding exactly ``cluster`` (by moid when known)."""
    server = powershell_quote(powercli_server(cluster.server))
    select = (
        f"-Id {powershell_quote('ClusterComputeResource-' + cluster.moid)}"
        if cluster.moid
        else f"-Name {powershell_quote(cluster.name)}"
    )
    return (
        f"Get-Cluster -Server {server} {select}"
        f" | Where-Object {{ $_.Name -ceq {powershell_quote(cluster.name)} }}"
    )


def govc_host_info(host: Host) -> str:
    """``govc host.info`` for ``host``: memory size and usage as the host reports them."""
    words = ["govc", "host.info"]
    if host.datacenter:
        words += ["-dc", govc_name(host.datacenter)]
    words += ["-host", govc_name(host.name)]
    return " ".join(posix_quote(w) for w in words)


def govc_cluster_usage(cluster: Cluster) -> str:
    """``govc cluster.usage`` for ``cluster``: memory capacity and usage summary."""
    words = ["govc", "cluster.usage"]
    if cluster.datacenter:
        words += ["-dc", govc_name(cluster.datacenter)]
    words.append(govc_name(cluster.name))
    return " ".join(posix_quote(w) for w in words)


def govc_host_metric(host: Host, *counters: str, samples: int = 15) -> str:
    """Read-only: the last realtime samples of ``counters`` for ``host`` (by reference)."""
    return govc_metric("HostSystem", host.moid, *counters, samples=samples)
