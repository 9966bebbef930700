"""BA901, BA902, BA903: what the audit could not see.

A VM without runtime data must not pass as healthy, and a vCenter that could
not be read must not look like a clean fleet: both are reported as findings.
"""

from __future__ import annotations

from balloon_audit import vsphere as vs
from balloon_audit.model import (
    VM,
    Entity,
    Finding,
    Remediation,
    RuleOutcome,
    Severity,
    Snapshot,
    SourceInfo,
)
from balloon_audit.netloc import sdk_url, split_hostport
from balloon_audit.rules.common import (
    host_unreachable,
    lacks_runtime_data,
    make_finding,
    vm_evidence,
    vm_finding,
    vm_label,
)
from balloon_audit.rules.registry import Params, RuleMeta, rule
from balloon_audit.rules.shell import (
    govc_name,
    govc_vm_json,
    posix_quote,
    powercli_pipeline,
    powercli_server,
    powershell_quote,
)

# --------------------------------------------------------------------------- BA901

BA901 = RuleMeta(
    id="BA901",
    name="no-runtime-data",
    severity=Severity.INFO,
    checks="Powered-on VM without quickStats, or on a disconnected / not-responding host",
    rationale=(
        "Runtime rules cannot judge a VM whose counters are missing or stale, and such a VM "
        "must not be counted as healthy. It is listed so that the gap in the audit is visible."
    ),
    remediation=(
        "Reconnect the host, or find out why vCenter returns no quickStats for the VM "
        "(just powered on, permissions, a vCenter problem), and audit again."
    ),
    scope="powered-on VMs (templates excluded)",
    references=("vSphere Web Services API: VirtualMachineQuickStats, HostRuntimeInfo",),
    reads=(
        vs.VM_POWER_STATE,
        vs.VM_HOST_CONNECTION,
        vs.VM_QUICKSTATS,
    ),
)


def _ba901_remediation(vm: VM) -> Remediation:
    if host_unreachable(vm):
        host = vm.host or "its host"
        summary = (
            f"The host of {vm_label(vm)} ({host}) is {vm.host_connection_state}, so vCenter's "
            "figures for the VM are stale: reconnect the host, then audit again."
        )
        steps: tuple[str, ...] = (
            f'vSphere Client: right-click host "{host}" › Connection › Connect; check the host '
            "is up and reachable from vCenter (management network, vpxa agent).",
            "Run the audit again once the host is connected.",
        )
        if vm.host:
            host_args = ["govc", "host.reconnect"]
            if vm.datacenter:
                host_args += ["-dc", govc_name(vm.datacenter)]
            # host.reconnect takes the host as an argument: it ignores -host ("no argument").
            host_args += ["--", govc_name(vm.host)]
            govc = " ".join(posix_quote(a) for a in host_args)
        else:
            govc = govc_vm_json(vm, " | .runtime | {host, connectionState, powerState}")
        if vm.host_moid:
            powercli = (
                f"Get-VMHost -Server {powershell_quote(powercli_server(vm.server))} "
                f"-Id {powershell_quote('HostSystem-' + vm.host_moid)} "
                "| Set-VMHost -State Connected"
            )
        else:
            powercli = powercli_pipeline(vm, "Select-Object Name, VMHost, PowerState")
    else:
        summary = (
            f"vCenter returned no quickStats for powered-on {vm_label(vm)}, so ballooning, "
            "compression and swapping could not be checked. This is normal for a minute after "
            "power-on; otherwise check the audit account's permissions and the host agent."
        )
        steps = (
            "vSphere Client: VM › Monitor › Utilization: are memory figures shown?",
            "Check that the audit account has read access to the VM (Read-only role, propagated).",
            "Run the audit again.",
        )
        govc = govc_vm_json(vm, " | .summary.quickStats")
        powercli = powercli_pipeline(
            vm,
            "Select-Object Name, PowerState,"
            " @{N='QuickStats';E={$_.ExtensionData.Summary.QuickStats}}",
        )
    return Remediation(
        summary=summary,
        steps=steps,
        confirm=(
            "vSphere Client › host › Summary: Connection state Connected.",
            "VM › Summary: Host memory usage / Guest memory usage are shown.",
        ),
        powercli=powercli,
        govc=govc,
        references=BA901.references,
    )


@rule(BA901)
def check_no_runtime_data(snapshot: Snapshot, params: Params) -> RuleOutcome:
    vms = [vm for vm in snapshot.vms if vm.powered_on and not vm.is_template]
    findings: list[Finding] = []
    for vm in vms:
        if not lacks_runtime_data(vm):
            continue
        if host_unreachable(vm):
            message = (
                f"host {vm.host or 'unknown'} is {vm.host_connection_state}: runtime data "
                "stale, VM not checked by runtime rules"
            )
        else:
            message = (
                "powered on but no quickStats returned: VM not checked by runtime rules "
                "(the VMware Tools rules BA101–BA104 still judge it from guest info)"
            )
        evidence = vm_evidence(
            vm,
            **{
                vs.VM_POWER_STATE.key: vm.power_state,
                vs.VM_HOST_CONNECTION.key: vm.host_connection_state,
                vs.VM_QUICKSTATS.key: vm.quickstats_available,
            },
        )
        findings.append(
            vm_finding(BA901, vm, Severity.INFO, message, evidence, _ba901_remediation(vm))
        )
    return RuleOutcome(checked=len(vms), findings=tuple(findings))


# --------------------------------------------------------------------------- BA902

_REF_ROLES = "vSphere Security: Using Roles to Assign Privileges (Read-only role)"

BA902 = RuleMeta(
    id="BA902",
    name="collection-error",
    severity=Severity.CRITICAL,
    checks="A vCenter that could not be audited (unreachable, bad credentials, timeout)",
    rationale=(
        "Nothing was checked on a vCenter that could not be read; without this finding its "
        "VMs would simply be missing from the report and the fleet would look cleaner than it is."
    ),
    remediation=(
        "Fix the reason given (network, certificate, credentials, permissions, timeout) and run "
        "the audit again."
    ),
    scope="every vCenter or ESXi endpoint named in the configuration",
    references=(_REF_ROLES,),
)


def source_entity(source: SourceInfo) -> Entity:
    """The entity a finding about a whole vCenter is attached to."""
    return Entity(type="vCenter", name=source.server, moid=None, server=source.server)


def _connect_viserver(server: str) -> str:
    host, port = split_hostport(server)
    command = f"Connect-VIServer -Server {powershell_quote(host)}"
    if port is not None:
        command += f" -Port {port}"
    return command


def _sdk_url(server: str) -> str:
    """``https://host[:port]/sdk``; an IPv6 address goes in brackets."""
    return sdk_url(*split_hostport(server))


def _ba902_remediation(source: SourceInfo) -> Remediation:
    server = source.server
    hint = source.hint or "check the network path, the certificate and the credentials"
    return Remediation(
        summary=(
            f"vCenter {server} could not be audited: {source.error or 'unknown error'}. "
            f"{hint.rstrip('.')}."
        ),
        steps=(
            f"Check that {server} resolves and answers on HTTPS (port 443 unless given).",
            "Check the certificate (--ca-bundle, or --insecure for a lab only) and the "
            "credentials (BALLOON_AUDIT_PASSWORD).",
            "Check the audit account has at least the Read-only role on the vCenter root.",
            "Run the audit again.",
        ),
        confirm=(
            "Log in to the vSphere Client with the audit account.",
            "govc about answers with the vCenter version (set GOVC_USERNAME and GOVC_PASSWORD "
            "in the environment first).",
        ),
        powercli=_connect_viserver(server),
        govc=f"govc about -u {posix_quote(_sdk_url(server))}",
        references=BA902.references,
    )


@rule(BA902)
def check_collection_error(snapshot: Snapshot, params: Params) -> RuleOutcome:
    findings: list[Finding] = []
    for source in snapshot.sources:
        if source.ok:
            continue
        message = f"could not audit {source.server}: {source.error or 'unknown error'}"
        if source.hint:
            message += f" ({source.hint})"
        evidence = {
            "status": str(source.status),
            "error": source.error,
            "hint": source.hint,
            "duration_s": source.duration_s,
        }
        findings.append(
            make_finding(
                BA902,
                source_entity(source),
                Severity.CRITICAL,
                message,
                evidence,
                _ba902_remediation(source),
            )
        )
    return RuleOutcome(checked=len(snapshot.sources), findings=tuple(findings))


# --------------------------------------------------------------------------- BA903

BA903 = RuleMeta(
    id="BA903",
    name="unknown-api-value",
    severity=Severity.INFO,
    checks="A vCenter sent values this version does not know (an enum value from a newer API)",
    rationale=(
        "A newer vCenter or ESXi can add values to an enumeration (a power state, a Tools "
        "status). They are kept as text rather than failing the audit, but rules that compare "
        "against the known values cannot judge them: the affected objects may be under-reported."
    ),
    remediation=(
        "Upgrade balloon-audit (and its pyVmomi) to a version that knows this vSphere API, "
        "then audit again."
    ),
    scope="every vCenter or ESXi endpoint that was read",
    references=("vSphere Web Services API reference: enumerated types",),
)


@rule(BA903)
def check_unknown_values(snapshot: Snapshot, params: Params) -> RuleOutcome:
    findings: list[Finding] = []
    sources = [s for s in snapshot.sources if s.ok]
    for source in sources:
        if not source.unknown_values:
            continue
        values = ", ".join(source.unknown_values)
        message = f"{source.server} sent values this version does not know: {values}"
        findings.append(
            make_finding(
                BA903,
                source_entity(source),
                Severity.INFO,
                message,
                {"unknown_values": list(source.unknown_values), "api_version": source.api_version},
                Remediation(
                    summary=(
                        f"vCenter {source.server} (API {source.api_version or 'unknown'}) sent "
                        f"values this balloon-audit does not know ({values}); they were kept as "
                        "text. Upgrade balloon-audit, then audit again."
                    ),
                    steps=(
                        "pip install --upgrade balloon-audit (it brings a newer pyVmomi).",
                        "Run the audit again.",
                    ),
                    confirm=("This finding is gone from the next audit.",),
                    powercli=_connect_viserver(source.server) + "; $global:DefaultVIServer.Version",
                    govc=f"govc about -u {posix_quote(_sdk_url(source.server))}",
                    references=BA903.references,
                ),
            )
        )
    return RuleOutcome(checked=len(sources), findings=tuple(findings))
