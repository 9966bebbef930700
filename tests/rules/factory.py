"""Small in-memory snapshots for rule tests: a healthy VM by default, override what matters."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from balloon_audit.model import VM, Snapshot, SourceInfo
from balloon_audit.rules.registry import get_rule

_ids = itertools.count(1)

SERVER = "vc1.example.test"


def make_vm(**overrides: Any) -> VM:
    """A powered-on, healthy 4 GB VM on a connected host, with current Tools and quickStats."""
    n = next(_ids)
    values: dict[str, Any] = dict(
        moid=f"vm-{n}",
        name=f"vm{n:03d}",
        server=SERVER,
        datacenter="DC1",
        cluster="Cluster1",
        host="esx1.example.test",
        host_moid="host-1",
        power_state="poweredOn",
        is_template=False,
        guest_id="rhel9_64Guest",
        memory_mb=4096,
        tools_version_status2="guestToolsCurrent",
        tools_version_status="guestToolsCurrent",
        tools_status="toolsOk",
        tools_running_status="guestToolsRunning",
        tools_version="12352",
        quickstats_available=True,
        host_connection_state="connected",
    )
    values.update(overrides)
    return VM(**values)


def powered_off(**overrides: Any) -> VM:
    """A powered-off VM: no quickStats, as vCenter reports it."""
    return make_vm(power_state="poweredOff", quickstats_available=False, **overrides)


def template(**overrides: Any) -> VM:
    return make_vm(
        power_state="poweredOff", is_template=True, quickstats_available=False, **overrides
    )


def snapshot(*vms: VM, sources: tuple[SourceInfo, ...] = ()) -> Snapshot:
    return Snapshot(
        sources=sources or (SourceInfo(server=SERVER, status="ok", vm_count=len(vms)),),
        vms=tuple(vms),
    )


def run(rule_id: str, *vms: VM, params: dict[str, Any] | None = None, snap: Snapshot | None = None):
    """Run one rule with its defaults (merged with ``params``) over the given VMs."""
    rule = get_rule(rule_id)
    merged = dict(rule.meta.defaults)
    merged.update(params or {})
    return rule.check(snap if snap is not None else snapshot(*vms), merged)


def severities(outcome) -> list[str]:
    return [f.severity.value for f in outcome.findings]


def only_severity(rule_id: str, vm: VM, **params: Any) -> str | None:
    """Severity of the single finding for ``vm`` (``None`` when not flagged)."""
    outcome = run(rule_id, vm, params=params)
    assert len(outcome.findings) <= 1
    return outcome.findings[0].severity.value if outcome.findings else None


def replace(vm: VM, **changes: Any) -> VM:
    return dataclasses.replace(vm, **changes)


# Names that break naive quoting in bash, PowerShell, spreadsheets, HTML or govc.
PS_QUOTES = "'\u2018\u2019\u201a\u201b"

HOSTILE_NAMES = [
    'it\'s "odd" $(rm -rf) ; x',
    '=HYPERLINK("http://x")',
    "<script>alert(1)</script>",
    "虚拟机 ’quote’",
    "‘a’ ‚b‛ 'c'",
    "`backtick` $env:PATH @(1) ${x}",
    "line1\nline2\r\tend",
    "-starts-with-dash",
    "a*b?[c]",
    "vm-42",
    "VirtualMachine:vm-42",
    "back\\slash %2f 100%25",
    "",
    " spaces  ",
    "!history & | > < #",
]


def decode_powershell_literal(text: str, start: int = 0) -> tuple[str, int]:
    """Decode the single-quoted PowerShell literal at ``text[start]``; return (value, end).

    Inside '...' PowerShell expands nothing; any single-quote character (' or
    U+2018..U+201B) ends the literal unless it is followed by another one,
    which stands for one quote.
    """
    assert text[start] in PS_QUOTES, text[start:]
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch in PS_QUOTES:
            if i + 1 < len(text) and text[i + 1] in PS_QUOTES:
                out.append(ch)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise AssertionError(f"unterminated PowerShell literal in {text!r}")


CORE_RULE_IDS = [
    "BA101",
    "BA102",
    "BA103",
    "BA104",
    "BA201",
    "BA202",
    "BA301",
    "BA302",
    "BA303",
    "BA401",
    "BA402",
    "BA901",
    "BA902",
]
"""The rules in tools, balloon_driver, reclamation, allocation and data_quality."""
