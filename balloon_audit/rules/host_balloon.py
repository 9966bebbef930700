"""BA203: ballooning turned down or off for every VM on a host (Mem.CtlMaxPercent).

``Mem.CtlMaxPercent`` is the host-wide cap on how much of a VM's configured
memory the balloon may reclaim (default 65 %). At 0 the host never inflates a
balloon: under pressure it goes straight to compression and host swapping, for
every VM on it. The value is read from the host's advanced options
(``config.option["Mem.CtlMaxPercent"]``); hosts where it could not be read are
not judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from balloon_audit import vsphere as vs
from balloon_audit.model import Entity, Finding, Host, Remediation, RuleOutcome, Severity, Snapshot
from balloon_audit.rules.common import (
    CONFIRM_MCTL,
    CONFIRM_SWAP,
    DEFAULT_CTL_MAX_PCT,
    ESXTOP_MEMORY_VIEW,
    REF_RM_ADVANCED,
    REF_RM_BALLOON,
    REF_RM_SWAP,
    make_finding,
    runtime_vms,
)
from balloon_audit.rules.hosts import connected_hosts, host_evidence, powercli_host
from balloon_audit.rules.registry import RuleMeta, rule
from balloon_audit.rules.shell import govc_moref, posix_quote

KEY = "Mem.CtlMaxPercent"

BA203 = RuleMeta(
    id="BA203",
    name="host-balloon-disabled",
    severity=Severity.CRITICAL,
    checks="The host's Mem.CtlMaxPercent: 0 turns ballooning off for every VM on the host",
    rationale=(
        "Mem.CtlMaxPercent caps, as a percentage of each VM's configured memory, how much the "
        "balloon may reclaim on this host (default 65). At 0 the host never inflates a balloon: "
        "under memory pressure it goes straight to compression and host swapping, for every VM "
        "on it, which is far worse than ballooning. Below the default every VM on the host "
        "inherits the lower cap (BA301 uses the host's value for the effective cap). "
        "Severity: 0 → warning, critical when VMs on the host are already swapping; above 0 "
        "but below the default (65) → info."
    ),
    remediation=(
        "Set Mem.CtlMaxPercent back to 65 (Host › Configure › System › Advanced System "
        "Settings). To protect particular VMs from reclamation, give them memory reservations "
        "instead."
    ),
    scope=(
        "connected hosts whose Mem.CtlMaxPercent could be read (hosts where it could not are "
        "skipped and not counted as checked)"
    ),
    references=(REF_RM_ADVANCED, REF_RM_BALLOON, REF_RM_SWAP),
    defaults={"default_pct": DEFAULT_CTL_MAX_PCT},
    reads=(
        vs.HOST_CTL_MAX,
        vs.HOST_CONNECTION,
        vs.HOST_MEMORY_SIZE,
        vs.HOST_MEMORY_USAGE,
        vs.HOST_VERSION,
        vs.VM_SWAPPED,
        vs.VM_POWER_STATE,
    ),
)


def _govc_option(host: Host, subcommand: str, *args: str) -> str:
    """``govc host.option.* -host HostSystem:host-42 ...`` (the host by reference: exact)."""
    words = ["govc", subcommand, "-host", govc_moref("HostSystem", host.moid), *args]
    return " ".join(posix_quote(w) for w in words)


def _ba203_remediation(host: Host, default_pct: int) -> Remediation:
    return Remediation(
        summary=(
            f'Set Mem.CtlMaxPercent on host "{host.name}" back to the default {default_pct}: '
            "with it lowered (0 = off) the host cannot balloon its VMs and compresses and swaps "
            "them instead. Protect individual VMs with memory reservations, not with this "
            "host-wide switch."
        ),
        steps=(
            f'vSphere Client: select host "{host.name}" › Configure › System › Advanced System '
            f"Settings › Edit, filter on {KEY} and set it to {default_pct}",
            "Ask who lowered it and why (a vendor appliance's install guide, an old "
            "troubleshooting step) and document the decision",
            "Check the host profile, if one is attached, so remediation does not put the old "
            "value back",
        ),
        confirm=(
            f"{_govc_option(host, 'host.option.ls', KEY)} (or Get-AdvancedSetting in PowerCLI) "
            "shows the value in force",
            f"{ESXTOP_MEMORY_VIEW}: MCTLMAX of each VM is the most its balloon may reclaim "
            "(0 while the host's cap is 0)",
            CONFIRM_MCTL,
            CONFIRM_SWAP,
        ),
        powercli=(
            f"Get-AdvancedSetting -Entity ({powercli_host(host)}) -Name '{KEY}'"
            f" | Set-AdvancedSetting -Value {default_pct} -Confirm:$false"
        ),
        govc=_govc_option(host, "host.option.set", KEY, str(default_pct)),
        references=BA203.references,
    )


@rule(BA203)
def check_host_balloon_disabled(snapshot: Snapshot, params: Mapping[str, Any]) -> RuleOutcome:
    """Mem.CtlMaxPercent 0 → warning (critical when VMs swap); below the default → info."""
    default_pct = int(params["default_pct"])
    swapping: dict[tuple[str, str], list[str]] = {}
    running: dict[tuple[str, str], int] = {}
    for vm in runtime_vms(snapshot):
        if vm.host_moid is None:
            continue
        key = (vm.server, vm.host_moid)
        running[key] = running.get(key, 0) + 1
        if (vm.runtime_value(vm.swapped_mb) or 0) > 0:
            swapping.setdefault(key, []).append(vm.name)
    checked = 0
    findings: list[Finding] = []
    for host in connected_hosts(snapshot):
        value = host.ctl_max_pct
        if value is None:
            continue
        checked += 1
        if value >= default_pct:
            continue
        key = (host.server, host.moid)
        swappers = sorted(swapping.get(key, []))
        if value <= 0:
            severity = Severity.CRITICAL if swappers else Severity.WARNING
            message = (
                f'Host "{host.name}" has {KEY} = {value}: ballooning is off for all '
                f"{running.get(key, 0)} running VM(s) on it; under pressure they are compressed "
                "and swapped instead"
            )
            if swappers:
                message += f"; {len(swappers)} VM(s) swapping already: {', '.join(swappers[:3])}"
        else:
            severity = Severity.INFO
            message = (
                f'Host "{host.name}" has {KEY} = {value} (default {default_pct}): the balloon '
                f"may reclaim at most {value} % of each VM's memory before the host compresses "
                "and swaps"
            )
        evidence: dict[str, Any] = host_evidence(
            host,
            **{
                vs.HOST_CTL_MAX.key: value,
                "default_pct": default_pct,
                "running_vms": running.get(key, 0),
                "swapping_vms": swappers,
            },
        )
        findings.append(
            make_finding(
                BA203,
                Entity.of_host(host),
                severity,
                message,
                evidence,
                _ba203_remediation(host, default_pct),
            )
        )
    return RuleOutcome(checked=checked, findings=tuple(findings))
