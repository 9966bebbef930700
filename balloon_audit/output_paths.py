"""Check where reports will go before anything is collected.

A scan of a large fleet can take minutes; finding out afterwards that ``--html``
names a folder that does not exist loses that work. Every output is checked
first, and a problem is a usage error (exit 2): nothing has been contacted yet.
What only writing can tell (permissions, a read-only or full file system) is
reported when the reports are written, and the other reports are still written.
(``--record`` has its own check in the capture code.)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from balloon_audit.errors import ConfigError


def _is_stream(path: Path) -> bool:
    return str(path) == "-" or str(path).startswith("/dev/")


def _existing_folder(option: str, folder: Path, what: Path) -> None:
    if not folder.is_dir():
        raise ConfigError(
            f"{option} {what}: the folder {folder} does not exist",
            hint=f"create it first (mkdir -p {folder}) or choose another path",
        )


def check_output_files(outputs: Iterable[tuple[str, Path | None]]) -> None:
    """``(option, path)`` pairs: each file can be created (or replaced) where it is named."""
    for option, path in outputs:
        if path is None or _is_stream(path):
            continue
        if path.is_dir():
            raise ConfigError(
                f"{option} {path}: is a folder, not a file",
                hint=f"name a file, e.g. {path / 'report'}, or use --output-dir {path}",
            )
        _existing_folder(option, path.parent if str(path.parent) else Path("."), path)


def check_output_dir(path: Path | None, option: str = "--output-dir") -> None:
    """The folder for dated reports: an existing, writable folder, or one that can be made."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: is a file, not a folder", hint="name a folder")
    if path.is_dir():
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(
            f"{option} {path}: {parent} is a file, so the folder cannot be made",
            hint="name a folder",
        )
