"""The README's cron line and systemd units are valid (systemd-analyze verify where present)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _cron_field_ok(field: str, low: int, high: int) -> bool:
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and not step.isdigit():
            return False
        if base == "*":
            continue
        bounds = base.split("-")
        if len(bounds) > 2 or not all(b.isdigit() and low <= int(b) <= high for b in bounds):
            return False
    return True


def test_cron_example_is_valid() -> None:
    (block,) = blocks("cron")
    (line,) = [line for line in block.splitlines() if line.strip()]
    fields = line.split(None, 5)
    for field, (low, high) in zip(fields[:5], CRON_RANGES, strict=True):
        assert _cron_field_ok(field, low, high), field
    command = fields[5].split()
    assert command[:2] == ["balloon-audit", "scan"]
    assert "--password" not in command and "--quiet" in command


def test_cron_example_options_exist() -> None:
    """Every option of the cron line is accepted by `scan` (a typo would fail at 2 am)."""
    (block,) = blocks("cron")
    options = {word.split("=")[0] for word in block.split() if word.startswith("--")}
    done = subprocess.run(
        [sys.executable, "-m", "balloon_audit", "scan", "--help"],
        capture_output=True, text=True, env={"COLUMNS": "300", "PATH": "/usr/bin"}, timeout=60,
    )  # fmt: skip
    for option in options:
        assert option in done.stdout, option


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_units_verify(tmp_path: Path) -> None:
    service, timer = blocks("ini")
    binary = Path(sys.executable).with_name("balloon-audit")
    assert binary.exists()
    (tmp_path / "balloon-audit.service").write_text(
        service.replace("/usr/local/bin/balloon-audit", str(binary)).replace(
            "User=balloon-audit", "User=root"
        )
    )
    (tmp_path / "balloon-audit.timer").write_text(timer)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no",
         str(tmp_path / "balloon-audit.service"), str(tmp_path / "balloon-audit.timer")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    problems = [
        line
        for line in done.stderr.splitlines()
        if "balloon-audit" in line and "not found" not in line.lower()
    ]
    assert done.returncode == 0 and not problems, done.stderr
