"""The balloon-audit/1 result: its committed JSON Schema, and damaged files (always exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from balloon_audit.cli import app
from balloon_audit.errors import ReportError
from balloon_audit.report.json_result import read_result, result_from_json, result_to_json
from balloon_audit.report.result_model import ResultDocument, json_schema
from tests.paths import ROOT, script_module
from tests.report.sample import clean_result, hostile_result


def _generator():
    return script_module("gen_schemas")


def _structure(schema: Any) -> Any:
    """The schema without its prose (descriptions and titles vary with the pydantic version)."""
    if isinstance(schema, dict):
        return {k: _structure(v) for k, v in schema.items() if k not in ("description", "title")}
    if isinstance(schema, list):
        return [_structure(v) for v in schema]
    return schema


def test_committed_schema_matches_the_model() -> None:
    committed = json.loads((ROOT / "docs" / "result.schema.json").read_text(encoding="utf-8"))
    assert _structure(committed) == _structure(
        json.loads(_generator().render("result.schema.json"))
    ), "docs/result.schema.json is out of date: run python scripts/gen_schemas.py"


def test_schema_drift_is_caught() -> None:
    committed = json.loads((ROOT / "docs" / "result.schema.json").read_text(encoding="utf-8"))
    committed["$defs"]["VM"]["properties"].pop("memory_mb")
    assert _structure(committed) != _structure(json_schema())


def _keys_outside_schema(value: Any, schema: dict, defs: dict, path: str) -> list[str]:
    """Keys the writer wrote that the schema does not declare (the model would drop them)."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[1]]
    for option in schema.get("anyOf", []):
        if option.get("type") != "null" and value is not None:
            schema = option
    out = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                out.append(f"{path}.{key}")
            else:
                out += _keys_outside_schema(item, schema["properties"][key], defs, f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            out += _keys_outside_schema(item, schema["items"], defs, f"{path}[{index}]")
    return out


@pytest.mark.parametrize("make", [hostile_result, clean_result])
def test_the_schema_declares_every_key_the_writer_writes(make) -> None:
    schema = json_schema()
    written = json.loads(result_to_json(make()))
    assert _keys_outside_schema(written, schema, schema["$defs"], "result") == []
    assert set(schema["required"]) <= set(written)


@pytest.mark.parametrize("make", [hostile_result, clean_result])
def test_round_trip_through_the_model(make) -> None:
    original = make()
    text = result_to_json(original)
    ResultDocument.model_validate_json(text)
    assert result_to_json(result_from_json(text)) == text


# --- damaged files --------------------------------------------------------------------


def _written(tmp_path: Path) -> tuple[Path, dict]:
    path = tmp_path / "result.json"
    data = json.loads(result_to_json(hostile_result()))
    return path, data


def _damaged(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "result.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ReportError) as info:
        read_result(path)
    assert info.value.hint
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


def _vm_index(data: dict) -> int:
    return next(i for i, vm in enumerate(data["vms"]) if vm["memory_mb"] is not None)


def test_wrong_typed_field_names_the_key(tmp_path: Path) -> None:
    _, data = _written(tmp_path)
    index = _vm_index(data)
    data["vms"][index]["memory_mb"] = str(data["vms"][index]["memory_mb"])
    message = _error(_damaged(tmp_path, data))
    name = data["vms"][index]["name"]
    assert f"vms[{index}] {name!r}.memory_mb: input should be a valid integer" in message


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: d["vms"][0].pop("moid"), "vms[0] "),
        (lambda d: d.pop("findings"), "findings: missing"),
        (lambda d: d["findings"][0].update(severity="urgent"), "findings[0] "),
        (
            lambda d: d["sources"][0].update(status="maybe"),
            "sources[0] 'vc1.example.test'.status: input should be 'ok' or 'failed'",
        ),
        (lambda d: d["vms"][0].update(quickstats_available="yes"), "quickstats_available"),
        (lambda d: d.update(generated_at="yesterday"), "generated_at: "),
        (lambda d: d.update(generated_at="2026-01-01T10:00:00"), "generated_at: "),
        (lambda d: d.update(vms={"a": 1}), "vms: "),
        (lambda d: d["summary"].update(rules=[{"rule": "BA301"}]), "summary.rules[0].name"),
        (lambda d: d["findings"][0]["remediation"].update(steps="x"), ".remediation.steps"),
    ],
)
def test_damaged_keys_are_named(tmp_path: Path, damage, expected: str) -> None:
    _, data = _written(tmp_path)
    damage(data)
    message = _error(_damaged(tmp_path, data))
    assert "the result is damaged: " in message and expected in message, message


def test_nan_is_refused_with_its_key(tmp_path: Path) -> None:
    text = result_to_json(hostile_result()).replace('"duration_s": 1.25', '"duration_s": NaN', 1)
    assert "NaN" in text
    message = _error(_damaged(tmp_path, text))
    assert "NaN at line" in message and "(key 'duration_s')" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
        ('{"schema": "balloon-audit/1", "x": ' + "[" * 70 + "]" * 70 + "}", "nested deeper"),
        ("this is not JSON", "not valid JSON: Expecting value at line 1 column 1"),
        ("", "not valid JSON"),
        ('{"schema": "balloon-audit/9"}', "not a balloon-audit result (schema 'balloon-audit/9'"),
        ("[1, 2]", "not a balloon-audit result (schema None"),
    ],
)
def test_not_a_result(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(_damaged(tmp_path, text))


def test_a_json_error_deep_in_a_big_file_does_not_quote_the_file(tmp_path: Path) -> None:
    """Python's json accepts a lone surrogate escape, pydantic refuses it: the message
    names the place, and must not repeat the whole document after it."""
    text = result_to_json(hostile_result())
    name = json.loads(text)["vms"][0]["name"]
    damaged = text.replace(json.dumps(name), '"lone \\udc80 surrogate"', 1)
    assert damaged != text and len(damaged) > 10_000
    message = _error(_damaged(tmp_path, damaged))
    assert "lone leading surrogate" in message and "at line" in message, message
    assert len(message) < 400, message[:400]


def test_a_long_wrong_value_is_shortened_in_the_message(tmp_path: Path) -> None:
    _, data = _written(tmp_path)
    data["generated_at"] = "y" * 5000
    message = _error(_damaged(tmp_path, data))
    assert "generated_at: " in message and "(5,002 characters)" in message, message
    assert len(message) < 400, message[:400]


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert "not UTF-8 text" in _error(path)


DAMAGES = {
    "wrong type": lambda d: d["vms"][0].update(memory_mb="4096"),
    "missing key": lambda d: d.pop("sources"),
    "nan": "NaN",
    "deep": "[" * 100_000 + "]" * 100_000,
    "not json": "\x00\x01 not json",
}


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_report_exits_2_on_a_damaged_file(tmp_path: Path, kind: str) -> None:
    _, data = _written(tmp_path)
    damage = DAMAGES[kind]
    if callable(damage):
        damage(data)
        path = _damaged(tmp_path, data)
    else:
        path = _damaged(tmp_path, damage)
    result = CliRunner().invoke(app, ["report", str(path), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 2, result.output
    assert "result.json" in result.output
    assert "internal error" not in result.output
    assert not (tmp_path / "r.html").exists()
