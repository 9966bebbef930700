"""Hostile names and consoles: reports come first, the console degrades, never aborts.

The names come from a real capture (the demo fleet) whose VM names were changed to
non-Latin text and to C1-control / bidi-override characters, as a vCenter can hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.faults.harness import env, run, stray_files
from tests.paths import CASSETTES

NON_LATIN = "ВМ-東京-01"
HOSTILE = "evil\u202egnp.exe\u009b31m-01"


def _rename(value: Any, renames: dict[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in renames.items():
            value = value.replace(f">{old}<", f">{new}<")
        return value
    if isinstance(value, list):
        return [_rename(v, renames) for v in value]
    if isinstance(value, dict):
        return {k: _rename(v, renames) for k, v in value.items()}
    return value


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


@pytest.fixture(scope="module")
def hostile_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    document = yaml.safe_load((CASSETTES / "demo.yaml").read_text(encoding="utf-8"))
    renamed = _rename(
        document, {"tools-notinstalled-01": NON_LATIN, "tools-notrunning-01": HOSTILE}
    )
    path = tmp_path_factory.mktemp("hostile") / "hostile.yaml"
    path.write_text(
        yaml.dump(renamed, Dumper=_NoAliases, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path


def test_console_that_cannot_encode_a_name(hostile_capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    outcome = run(
        "cp1252 console, non-Latin VM name",
        ["scan", "--replay", str(hostile_capture), "--output-dir", str(out),
         "--fail-on", "never"],
        code=0,
        within_s=20,
        environ=env(PYTHONIOENCODING="cp1252"),
    )  # fmt: skip
    assert "??-??-01" in outcome.stdout
    reports = [p for p in out.iterdir() if not p.is_symlink()]  # not the latest links
    assert sorted(p.suffix for p in reports) == [".html", ".json", ".xlsx"]
    assert NON_LATIN in next(out.glob("*.json")).read_text(encoding="utf-8")
    assert stray_files(out) == []


def test_control_and_bidi_characters_never_reach_the_terminal(hostile_capture: Path) -> None:
    outcome = run(
        "C1 control and bidi override in a VM name",
        ["scan", "--replay", str(hostile_capture), "--fail-on", "never"],
        code=0,
        within_s=20,
        environ=env(COLUMNS="200"),
    )
    assert "\u202e" not in outcome.stdout and "\u009b" not in outcome.stdout
    assert "evil\\u202egnp.exe\\x9b31m-01" in outcome.stdout
