"""A capture as a newer vCenter would answer it: one enum value this pyVmomi does not know."""

from __future__ import annotations

from pathlib import Path

from tests.paths import CASSETTES

KNOWN = 'XMLSchema-instance:type="VirtualMachinePowerState">poweredOn<'
NEWER_VALUE = "poweredHibernating"


def newer_server_capture(directory: Path) -> Path:
    """demo.yaml with the first VM's power state replaced by a value from the future."""
    text = (CASSETTES / "demo.yaml").read_text(encoding="utf-8")
    assert KNOWN in text
    path = directory / "newer-server.yaml"
    path.write_text(
        text.replace(KNOWN, KNOWN.replace("poweredOn", NEWER_VALUE), 1), encoding="utf-8"
    )
    return path
