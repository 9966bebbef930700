"""Atomic report writing: content replaces the target whole, or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from balloon_audit.errors import ReportError
from balloon_audit.fileio import atomic_write_bytes, atomic_write_text, atomic_writer


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "r.html"
    atomic_write_bytes(target, b"one")
    assert target.read_bytes() == b"one"
    atomic_write_text(target, "twö")
    assert target.read_text(encoding="utf-8") == "twö"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "r.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o644


def test_failure_in_body_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write(b"half")
        raise RuntimeError("renderer crashed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


def test_missing_parent(tmp_path):
    with pytest.raises(ReportError) as info:
        atomic_write_bytes(tmp_path / "nope" / "r.html", b"x")
    assert "does not exist" in str(info.value)
    assert "mkdir -p" in info.value.hint


def test_parent_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ReportError) as info:
        atomic_write_bytes(tmp_path / "file" / "r.html", b"x")
    assert "not a directory" in str(info.value)


def test_target_is_a_directory(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(ReportError) as info:
        atomic_write_bytes(tmp_path / "out", b"x")
    assert "is a directory" in str(info.value)
    assert info.value.hint


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ReportError) as info:
            atomic_write_bytes(locked / "r.html", b"x")
    finally:
        locked.chmod(0o700)
    assert "permissions" in info.value.hint
    assert list(locked.iterdir()) == []
