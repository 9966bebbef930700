"""Write files atomically: a reader never sees half a report or half a capture.

The data goes to a temporary file in the destination directory (so the final
rename stays on one filesystem), is flushed and fsynced, then replaces the target
with ``os.replace``; the directory is fsynced too so the rename survives a crash.
On any failure the temporary file is removed and the previous file, if any, is
left untouched. Failures raise :class:`~balloon_audit.errors.ReportError` with a hint.

Atomic replacement is right for regular files only. A symbolic link is followed and
its target replaced (the link stays a link); character devices and FIFOs
(``/dev/null``, ``/dev/stdout``, a named pipe) are written straight through, so that
errors such as ``/dev/full``'s "no space left" are seen; anything else (a block
device, a socket) is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from balloon_audit.errors import ReportError


def atomic_write_bytes(path: Path, data: bytes, *, what: str = "", hint: str | None = None) -> None:
    """Write ``data`` to ``path`` atomically.

    ``what`` names the file in error messages (``"capture"`` gives "cannot write capture
    PATH"); ``hint`` replaces the generic advice for errors other than a missing directory.
    """
    with atomic_writer(path, what=what, hint=hint) as fh:
        fh.write(data)


def atomic_write_text(
    path: Path, text: str, encoding: str = "utf-8", *, what: str = "", hint: str | None = None
) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8, newlines as given)."""
    atomic_write_bytes(path, text.encode(encoding), what=what, hint=hint)


@contextlib.contextmanager
def atomic_writer(path: Path, *, what: str = "", hint: str | None = None) -> Iterator[IO[bytes]]:
    """Yield a binary file handle; on a clean exit its content replaces ``path``.

    If the body raises, the temporary file is deleted and ``path`` is unchanged.
    """
    path = Path(path)
    name = f"{what} {path}" if what else str(path)
    if _is_stream(path):
        with _write_through(path, name, hint) as fh:
            yield fh
        return
    path = _follow_links(path, name)
    _check_target(path, name)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, name, exc, hint) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; a report is an ordinary file: honour the umask.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise _write_error(path, name, exc, hint) from None
        raise
    _fsync_dir(path.parent)


_STREAM_PREFIXES = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/")


def _is_stream(path: Path) -> bool:
    """A character device, a FIFO, or one of the process's own file descriptors."""
    if str(path).startswith(_STREAM_PREFIXES):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


@contextlib.contextmanager
def _write_through(path: Path, name: str, hint: str | None) -> Iterator[IO[bytes]]:
    try:
        fh = open(path, "wb")  # noqa: SIM115 - closed below, errors translated
    except OSError as exc:
        raise _write_error(path, name, exc, hint) from None
    try:
        with fh:
            yield fh
            fh.flush()
    except OSError as exc:
        raise _write_error(path, name, exc, hint) from None


def _follow_links(path: Path, name: str) -> Path:
    """The file a (chain of) symbolic link(s) points to; ``path`` itself otherwise."""
    if not path.is_symlink():
        return path
    try:
        return Path(os.path.realpath(path, strict=False))
    except (OSError, RuntimeError) as exc:
        raise ReportError(
            f"cannot write {name}: cannot follow the symbolic link ({exc})",
            hint="point the link at a file, or choose another output path",
        ) from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_target(path: Path, name: str) -> None:
    parent = path.parent
    if not parent.exists():
        raise ReportError(
            f"cannot write {name}: directory {parent} does not exist",
            hint=f"create it first (mkdir -p {parent}) or choose another output path",
        )
    if not parent.is_dir():
        raise ReportError(
            f"cannot write {name}: {parent} is not a directory",
            hint="choose an output path inside an existing directory",
        )
    if path.is_dir():
        raise ReportError(
            f"cannot write {name}: it is a directory, a file name is expected",
            hint=f"give a file name, e.g. {path / 'report'}",
        )
    if path.exists() and not path.is_file():
        raise ReportError(
            f"cannot write {name}: it is neither a regular file nor a character device or pipe",
            hint="choose a regular file as output path",
        )


def _write_error(path: Path, name: str, exc: OSError, hint: str | None) -> ReportError:
    reason = exc.strerror or type(exc).__name__
    if hint is not None:
        pass
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = f"check that you may write to {path.parent} (permissions, read-only filesystem)"
    elif exc.errno == errno.ENOSPC:
        hint = f"free some space on the filesystem holding {path.parent}"
    elif exc.errno == errno.EISDIR:
        hint = "give a file name, not a directory"
    else:
        hint = "choose another output path"
    return ReportError(f"cannot write {name}: {reason}", hint=hint)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; not every platform can open a directory, so best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
