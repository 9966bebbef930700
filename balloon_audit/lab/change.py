"""Change a running lab between two scans: grow or clear a balloon, rename a VM, start swapping.

What a fleet does overnight, done to the simulator so that history and ``diff``
can be shown and tested against real scans. Runtime counters are written with
vcsim's ``SET.<property.path>`` extraConfig keys (as seeding does), names with
``Rename_Task``. Only ever talks to the lab's vcsim on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim, vmodl

from balloon_audit import vsphere as vs
from balloon_audit.collect.retrieve import container_view, filter_spec, retrieve_pages
from balloon_audit.errors import LabError
from balloon_audit.lab.seed import _fault_text, lab_session, wait_for_tasks

PAGE_SIZE = 1000
"""VM names per PropertyCollector page."""


@dataclass(frozen=True)
class VmChange:
    """One VM's overnight change. Counters in MB; 0 clears one (``None``: leave it)."""

    vm: str
    """The VM's current name."""
    ballooned_mb: int | None = None
    swapped_mb: int | None = None
    rename_to: str | None = None
    extra: Mapping[str, int | str] = field(default_factory=dict)
    """Other ``SET.`` property paths and values."""

    def set_values(self) -> list[tuple[str, int | str]]:
        values: list[tuple[str, int | str]] = []
        for prop, value in ((vs.VM_BALLOONED, self.ballooned_mb), (vs.VM_SWAPPED, self.swapped_mb)):
            if value is not None:
                values.append((prop.path, int(value)))
        values.extend(self.extra.items())
        return values


def apply_changes(host: str, port: int, changes: Sequence[VmChange]) -> None:
    """Apply ``changes`` to the vcsim at host:port (reconfigure first, then renames)."""
    with lab_session(host, port) as si:
        try:
            _apply(si, changes)
        except vmodl.MethodFault as fault:
            raise LabError(f"vcsim refused a change: {_fault_text(fault)}") from None


def _apply(si: Any, changes: Sequence[VmChange]) -> None:
    vms = _vms_by_name(si)
    missing = [c.vm for c in changes if c.vm not in vms]
    if missing:
        raise LabError(f"no VM named {missing[0]!r} in the lab")
    reconfigure = [c for c in changes if c.set_values()]
    wait_for_tasks(
        si,
        [vms[c.vm].ReconfigVM_Task(spec=_spec(c)) for c in reconfigure],
        [f"reconfigure {c.vm!r}" for c in reconfigure],
    )
    renames = [c for c in changes if c.rename_to]
    wait_for_tasks(
        si,
        [vms[c.vm].Rename_Task(newName=c.rename_to) for c in renames],
        [f"rename {c.vm!r}" for c in renames],
    )


def _spec(change: VmChange) -> Any:
    return vim.vm.ConfigSpec(
        extraConfig=[
            vim.option.OptionValue(key=f"SET.{path}", value=value)
            for path, value in change.set_values()
        ]
    )


def _vms_by_name(si: Any) -> dict[str, Any]:
    """Name -> VM, from one paged PropertyCollector pass (not a round trip per VM)."""
    content = si.RetrieveContent()
    with container_view(content, [vim.VirtualMachine]) as view:
        spec = filter_spec(view, [(vim.VirtualMachine, ["name"])])
        return {
            props["name"]: ref
            for page in retrieve_pages(content, spec, PAGE_SIZE)
            for ref, props in page
        }
