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

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from balloon_audit import vsphere as vs
from balloon_audit.errors import LabError
from balloon_audit.lab.seed import _fault_text, wait_for_tasks


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
    try:
        si = SmartConnect(
            host=host, port=port, user="lab", pwd="lab", disableSslCertValidation=True
        )
    except Exception as exc:  # pyVmomi raises many unrelated types here
        raise LabError(f"cannot connect to vcsim at {host}:{port}: {type(exc).__name__}") from None
    try:
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
    except vmodl.MethodFault as fault:
        raise LabError(f"vcsim refused a change: {_fault_text(fault)}") from None
    finally:
        Disconnect(si)


def _spec(change: VmChange) -> Any:
    return vim.vm.ConfigSpec(
        extraConfig=[
            vim.option.OptionValue(key=f"SET.{path}", value=value)
            for path, value in change.set_values()
        ]
    )


def _vms_by_name(si: Any) -> dict[str, Any]:
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return {vm.name: vm for vm in view.view}
    finally:
        view.DestroyView()
