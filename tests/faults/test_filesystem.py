"""Read-only and full filesystems, device nodes, FIFOs and symbolic links as outputs.

As root, each case runs in a private mount namespace (``unshare -m``) on its own small
tmpfs, so nothing on the machine can be harmed; device nodes are made there with mknod.
Without root the filesystem cases skip (they fail in CI); the device cases use the
machine's /dev/null and /dev/full, which a non-root user cannot replace.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import threading
from pathlib import Path

import pytest

from tests.faults.conftest import require
from tests.faults.harness import one_line_error, run, stray_files
from tests.faults.servers import SoapProxy

pytestmark = pytest.mark.live

ROOT = os.geteuid() == 0 and shutil.which("unshare") is not None


def namespaced(*setup: str) -> list[str]:
    """A command prefix running the case after ``setup`` in a private mount namespace."""
    script = " && ".join([*setup, 'exec "$@"'])
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]


def scan_args(endpoint: SoapProxy, *outputs: str) -> list[str]:
    """Scan the healthy endpoint through ``watched`` (which checks the logout)."""
    return ["scan", "-s", f"127.0.0.1:{endpoint.port}", "-u", "auditor", "--insecure",
            "--fail-on", "never", "--quiet", *outputs]  # fmt: skip


def assert_complete_json(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["sources"][0]["status"] == "ok" and data["vms"], data["sources"]


def test_read_only_output_directory(watched: SoapProxy, tmp_path: Path) -> None:
    require(ROOT, "needs root and unshare for a private read-only tmpfs")
    ro = tmp_path / "ro"
    ro.mkdir()
    outcome = run(
        "read-only --output-dir, --json elsewhere",
        scan_args(watched, "--output-dir", str(ro), "--json", str(tmp_path / "r.json")),
        code=3,
        within_s=15,
        prefix=namespaced(f"mount -t tmpfs -o ro,size=1m tmpfs {shlex.quote(str(ro))}"),
    )
    one_line_error(outcome, r"Read-only file system")
    assert_complete_json(tmp_path / "r.json")
    assert stray_files(tmp_path) == []


def test_full_filesystem(watched: SoapProxy, tmp_path: Path) -> None:
    require(ROOT, "needs root and unshare for a private full tmpfs")
    full = tmp_path / "full"
    full.mkdir()
    fill = f"dd if=/dev/zero of={shlex.quote(str(full))}/filler bs=4k 2>/dev/null || true"
    outcome = run(
        "full filesystem for --html and --xlsx",
        scan_args(watched, "--html", str(full / "r.html"), "--xlsx", str(full / "r.xlsx"),
                  "--json", str(tmp_path / "r.json")),
        code=3,
        within_s=15,
        prefix=namespaced(f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(full))}", fill,
                          f"ls {shlex.quote(str(full))} > {shlex.quote(str(tmp_path))}/seen"),
    )  # fmt: skip
    one_line_error(outcome, r"No space left on device")
    assert_complete_json(tmp_path / "r.json")
    assert stray_files(tmp_path) == []


def _device_dir(tmp_path: Path) -> tuple[Path, list[str] | None]:
    """Where ``null`` and ``full`` devices are: a private tmpfs as root, else /dev."""
    if not ROOT:
        return Path("/dev"), None
    dev = tmp_path / "dev"
    dev.mkdir()
    quoted = shlex.quote(str(dev))
    return dev, namespaced(
        f"mount -t tmpfs tmpfs {quoted}",
        f"mknod {quoted}/null c 1 3",
        f"mknod {quoted}/full c 1 7",
        f"chmod 666 {quoted}/null {quoted}/full",
        # after the run: record what the nodes are now (the namespace vanishes with it)
    )


def test_device_node_outputs_are_written_through(watched: SoapProxy, tmp_path: Path) -> None:
    dev, prefix = _device_dir(tmp_path)
    check = tmp_path / "check.sh"
    run(
        "--json to /dev/null (device node)",
        scan_args(watched, "--json", str(dev / "null"), "--html", str(tmp_path / "r.html")),
        code=0,
        within_s=15,
        prefix=prefix,
    )
    assert (tmp_path / "r.html").read_text().rstrip().endswith("</html>")
    if prefix is None:
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    else:  # run again in a namespace that reports the node's type after the run
        check.write_text(f'"$@"; rc=$?; stat -c %F {dev}/null > {tmp_path}/kind; exit $rc\n')
        run(
            "--json to a device node keeps the node",
            scan_args(watched, "--json", str(dev / "null")),
            code=0,
            within_s=15,
            prefix=[*prefix, "sh", str(check)],
        )
        assert (tmp_path / "kind").read_text().strip() == "character special file"
    assert stray_files(tmp_path) == []


def test_device_full_is_an_error(watched: SoapProxy, tmp_path: Path) -> None:
    dev, prefix = _device_dir(tmp_path)
    outcome = run(
        "--json to /dev/full",
        scan_args(watched, "--json", str(dev / "full"), "--html", str(tmp_path / "r.html")),
        code=3,
        within_s=15,
        prefix=prefix,
    )
    one_line_error(outcome, r"cannot write .*full: No space left on device")
    assert (tmp_path / "r.html").read_text().rstrip().endswith("</html>")


def test_fifo_output_is_written_through(watched: SoapProxy, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    run("--json to a named pipe", scan_args(watched, "--json", str(fifo)),
        code=0, within_s=15)  # fmt: skip
    reader.join(10)
    assert json.loads(received[0])["sources"][0]["status"] == "ok"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_symlink_output_updates_its_target(watched: SoapProxy, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    target = tmp_path / "reports" / "2026-11.html"
    target.write_text("old report")
    link = tmp_path / "latest.html"
    link.symlink_to(Path("reports") / "2026-11.html")
    dangling = tmp_path / "next.json"
    dangling.symlink_to(Path("reports") / "next.json")
    run("--html to a symlink, --json to a dangling one",
        scan_args(watched, "--html", str(link), "--json", str(dangling)),
        code=0, within_s=15)  # fmt: skip
    assert link.is_symlink() and dangling.is_symlink()
    assert target.read_text().rstrip().endswith("</html>")
    assert_complete_json(tmp_path / "reports" / "next.json")
    assert stray_files(tmp_path) == []


def test_capture_that_cannot_be_written_keeps_the_audit(watched: SoapProxy, tmp_path: Path) -> None:
    require(ROOT, "needs root and unshare for a private full tmpfs")
    full = tmp_path / "full"
    full.mkdir()
    quoted = shlex.quote(str(full))
    outcome = run(
        "--record onto a full filesystem",
        ["scan", "-s", f"127.0.0.1:{watched.port}", "-u", "auditor", "--insecure",
         "--fail-on", "never", "--record", str(full / "c.yaml"),
         "--json", str(tmp_path / "r.json")],
        code=3,
        within_s=15,
        prefix=namespaced(f"mount -t tmpfs -o size=16k tmpfs {quoted}",
                          f"dd if=/dev/zero of={quoted}/filler bs=4k 2>/dev/null || true"),
    )  # fmt: skip
    one_line_error(outcome, r"cannot write capture .*No space left on device")
    assert_complete_json(tmp_path / "r.json")
    assert "vCenters" in outcome.stdout  # the summary was printed too
    assert stray_files(tmp_path) == []


def test_socket_output_is_refused(watched: SoapProxy, tmp_path: Path) -> None:
    import socket as sockets

    target = tmp_path / "report.sock"
    with sockets.socket(sockets.AF_UNIX) as listener:
        listener.bind(str(target))
        outcome = run(
            "--json to a Unix socket file",
            scan_args(watched, "--json", str(target), "--html", str(tmp_path / "r.html")),
            code=3,
            within_s=15,
        )
    one_line_error(outcome, r"neither a regular file nor a character device or pipe")
    assert stat.S_ISSOCK(os.stat(target).st_mode)
    assert (tmp_path / "r.html").read_text().rstrip().endswith("</html>")
