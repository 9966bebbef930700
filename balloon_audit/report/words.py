"""vSphere enum values as the words an administrator reads in the vSphere Client.

Reports show ``Powered on`` and ``Current`` where the API says ``poweredOn`` and
``guestToolsCurrent``; the JSON result keeps the raw values. A value this table
does not know is shown as sent, so nothing is ever hidden.
"""

from __future__ import annotations

from typing import Any

ENUM_WORDS: dict[str, str] = {
    # runtime.powerState (VirtualMachine and HostSystem)
    "poweredOn": "Powered on",
    "poweredOff": "Powered off",
    "suspended": "Suspended",
    "standBy": "Standby",
    "unknown": "Unknown",
    # guest.toolsVersionStatus2 / guest.toolsVersionStatus
    "guestToolsCurrent": "Current",
    "guestToolsNotInstalled": "Not installed",
    "guestToolsNeedUpgrade": "Upgrade available",
    "guestToolsSupportedOld": "Supported, older",
    "guestToolsSupportedNew": "Supported, newer",
    "guestToolsTooOld": "Too old",
    "guestToolsTooNew": "Too new",
    "guestToolsBlacklisted": "Blocked (known problems)",
    "guestToolsUnmanaged": "Unmanaged (OS package)",
    # guest.toolsRunningStatus
    "guestToolsRunning": "Running",
    "guestToolsNotRunning": "Not running",
    "guestToolsExecutingScripts": "Starting (running scripts)",
    # guest.toolsStatus (deprecated)
    "toolsOk": "OK",
    "toolsOld": "Old",
    "toolsNotInstalled": "Not installed",
    "toolsNotRunning": "Not running",
    # runtime.connectionState
    "connected": "Connected",
    "disconnected": "Disconnected",
    "notResponding": "Not responding",
    "inaccessible": "Inaccessible",
    "invalid": "Invalid",
    "orphaned": "Orphaned",
}

ENUM_FIELDS = frozenset(
    {
        "power_state",
        "tools_version_status2",
        "tools_version_status",
        "tools_status",
        "tools_running_status",
        "connection_state",
        "host_connection_state",
    }
)
"""Model fields (VM and Host) whose values are vSphere enums."""

NUMBER_TEXT_FIELDS = frozenset({"tools_version", "maxmemctl"})
"""Model fields the API sends as strings that are numbers (a build, a MB cap)."""


def enum_word(value: str | None) -> str | None:
    """``poweredOn`` → ``Powered on``; unknown values unchanged; ``None`` stays ``None``."""
    if value is None:
        return None
    return ENUM_WORDS.get(value, value)


def yes_no(value: bool | None) -> str | None:
    return None if value is None else ("Yes" if value else "No")


def number_or_text(value: str | None) -> int | float | str | None:
    """``"12352"`` → 12352 and ``"0"`` → 0; anything that is not a plain number stays text."""
    if value is None:
        return None
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return value
    return number if number == number and abs(number) != float("inf") else value


def field_display(field: str, value: Any) -> Any:
    """A model field's value as a report cell shows it: enums as words, flags as Yes/No,
    numeric strings as numbers, everything else unchanged."""
    if field in ENUM_FIELDS and isinstance(value, str):
        return enum_word(value)
    if field in NUMBER_TEXT_FIELDS and isinstance(value, str):
        return number_or_text(value)
    if isinstance(value, bool):
        return yes_no(value)
    return value
