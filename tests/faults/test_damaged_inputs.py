"""A corpus of damaged and hostile configs, results and captures: each is a usage error.

Every case must end with exit 2, one ``error:`` line naming the problem, quickly, and
without writing any requested output.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import check, execute_all, one_line_error, record, run
from tests.paths import CASSETTES


def nested_toml() -> bytes:
    return ("a = " + "[" * 50_000 + "]" * 50_000 + "\n").encode()


def alias_bomb() -> bytes:
    lines = ["balloon_audit:", "  capture_format: 1", "  levels:", '    - &l0 ["lol", "lol"]']
    lines += [f"    - &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    lines += ["  sources: *l9", "version: 1", "interactions: []"]
    return "\n".join(lines).encode()


def capture_text() -> str:
    return (CASSETTES / "empty.yaml").read_text(encoding="utf-8")


def corrupt_gzip() -> bytes:
    data = bytearray(gzip.compress(capture_text().encode(), mtime=0))
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0x5A
    return bytes(data)


def mutated_result(change: Callable[[dict], None]) -> Callable[[str], bytes]:
    def make(good: str) -> bytes:
        data = json.loads(good)
        change(data)
        return json.dumps(data).encode()

    return make


@pytest.fixture(scope="module")
def good_result(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A healthy result (the demo capture replayed): the damaged ones are made from it."""
    path = tmp_path_factory.mktemp("good") / "result.json"
    run("result: healthy (reference)", ["scan", "--replay", str(CASSETTES / "demo.yaml"),
        "--json", str(path), "--quiet", "--fail-on", "never"], code=0, within_s=20)  # fmt: skip
    return path.read_text(encoding="utf-8")


CONFIGS = {
    "config: TOML nested 50,000 deep": (nested_toml, r"nested too deeply"),
    "config: not UTF-8": (lambda: b"\xff\xfe[rules]\n", r"not UTF-8"),
    "config: wrong type": (lambda: b"[rules.BA101]\nenabled = 'yes'\n", r"BA101"),
    "config: unknown key": (lambda: b"[rulez]\n", r"rulez"),
}

RESULTS = {
    "result: JSON nested 100,000 deep": (
        lambda _: b"[" * 100_000 + b"]" * 100_000, r"nested deeper than"),
    "result: NaN": (
        mutated_result(lambda d: d["vms"][0].update(memory_mb=float("nan"))), r"NaN"),
    "result: Infinity": (
        lambda good: good.replace('"memory_mb": 4096', '"memory_mb": Infinity', 1).encode(),
        r"Infinity"),
    "result: VM memory as text": (
        mutated_result(lambda d: d["vms"][0].update(memory_mb="lots")), r"vms\[0\].*memory_mb"),
    "result: host name as number": (
        mutated_result(lambda d: d["hosts"][0].update(name=7)), r"hosts\[0\]\.name"),
    "result: finding rule as list": (
        mutated_result(lambda d: d["findings"][0].update(rule=[])), r"findings\[0\].*\.rule"),
    "result: truncated": (lambda good: good[:5000].encode(), r"not valid JSON"),
    "result: not UTF-8": (lambda _: b"\xff\xfe{}", r"not UTF-8"),
    "result: another schema": (lambda _: b'{"schema": "other/9"}', r"not a balloon-audit result"),
    "result: empty file": (lambda _: b"", r"not valid JSON"),
}  # fmt: skip

CAPTURES = {
    "capture: YAML alias bomb in sources": (alias_bomb, r"aliases are not allowed"),
    # read as a stream: the garbled text or the broken deflate data, whichever comes first
    "capture: corrupted deflate stream": (
        corrupt_gzip, r"cannot read capture|is not a balloon-audit capture"),
    "capture: truncated gzip": (
        lambda: gzip.compress(capture_text().encode(), mtime=0)[:500], r"cannot read capture"),
    "capture: invalid URI": (
        lambda: capture_text().replace("uri: https://vcenter-1.invalid", "uri: https://[v1", 1)
        .encode(), r"not a balloon-audit capture"),
    "capture: binary garbage": (lambda: bytes(range(256)) * 8, r"capture"),
    "capture: interactions not a list": (
        lambda: b"version: 1\ninteractions: 5\n", r"not a balloon-audit capture"),
    "capture: sources not text": (
        lambda: capture_text().replace("  sources:\n  - vcenter-1.invalid",
                                       "  sources:\n  - [1, 2]", 1).encode(),
        r"not a balloon-audit capture"),
}  # fmt: skip


def _write(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True)
    path = directory / name
    path.write_bytes(data)
    return path


def _capture_name(case: str) -> str:
    return "capture.yaml.gz" if "gzip" in case or "deflate" in case else "capture.yaml"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, good_result: str) -> dict[str, Any]:
    """Every damaged file written to its own directory and run once, several at a time."""
    root = tmp_path_factory.mktemp("corpus")
    args: dict[str, list[str]] = {}
    dirs: dict[str, Path] = {}
    for i, (case, (make, _)) in enumerate(sorted(CONFIGS.items())):
        dirs[case] = root / f"config-{i}"
        config = _write(dirs[case], "config.toml", make())
        args[case] = ["scan", "--config", str(config), "-s", "127.0.0.1:9", "-u", "u",
                      "--json", str(dirs[case] / "out.json")]  # fmt: skip
    for i, (case, (make, _)) in enumerate(sorted(RESULTS.items())):
        dirs[case] = root / f"result-{i}"
        result = _write(dirs[case], "result.json", make(good_result))
        args[case] = ["report", str(result), "--html", str(dirs[case] / "out.html"),
                      "--xlsx", str(dirs[case] / "out.xlsx")]  # fmt: skip
    for i, (case, (make, _)) in enumerate(sorted(CAPTURES.items())):
        dirs[case] = root / f"capture-{i}"
        capture = _write(dirs[case], _capture_name(case), make())
        args[case] = ["scan", "--replay", str(capture), "--json", str(dirs[case] / "out.json")]
    return {"outcomes": execute_all(args), "dirs": dirs}


def _check_case(case: str, pattern: str, corpus: dict[str, Any], kept: list[str]) -> None:
    outcome = corpus["outcomes"][case]
    record(case, outcome)
    check(outcome, code=2, within_s=10)
    one_line_error(outcome, pattern)
    assert sorted(p.name for p in corpus["dirs"][case].iterdir()) == kept  # nothing written


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_damaged_config(case: str, corpus: dict[str, Any]) -> None:
    _check_case(case, CONFIGS[case][1], corpus, ["config.toml"])


@pytest.mark.parametrize("case", sorted(RESULTS))
def test_damaged_result(case: str, corpus: dict[str, Any]) -> None:
    _check_case(case, RESULTS[case][1], corpus, ["result.json"])


@pytest.mark.parametrize("case", sorted(CAPTURES))
def test_damaged_capture(case: str, corpus: dict[str, Any]) -> None:
    _check_case(case, CAPTURES[case][1], corpus, [_capture_name(case)])
