"""docs/rules.md is generated from the registry; the public catalogue is complete and tested."""

from __future__ import annotations

import ast
import re

import pytest

from balloon_audit import config_file
from balloon_audit.rules.registry import all_rules
from tests.paths import ROOT, script_module

TESTS = ROOT / "tests"

# The public catalogue. IDs are a public interface: never renumber, only add.
PUBLIC_IDS = (
    "BA101",
    "BA102",
    "BA103",
    "BA104",
    "BA201",
    "BA202",
    "BA203",
    "BA301",
    "BA302",
    "BA303",
    "BA401",
    "BA402",
    "BA403",
    "BA404",
    "BA501",
    "BA502",
    "BA503",
    "BA601",
    "BA602",
    "BA901",
    "BA902",
    "BA903",
)


def _generator():
    return script_module("gen_rules_doc")


def test_rules_md_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == _generator().render(), (
        "docs/rules.md is out of date: run python scripts/gen_rules_doc.py"
    )


def test_rules_md_documents_every_rule_and_the_config_file() -> None:
    text = _generator().render()
    for rule in all_rules():
        assert f"### {rule.meta.id} {rule.meta.name}" in text
        for key in rule.meta.defaults:
            assert f"\n{key} = " in text, f"{rule.meta.id}.{key} is not documented"
    for heading in ("## Configuration file", "### Waivers", "### Validation"):
        assert heading in text


def test_configuration_example_in_the_docs_is_valid() -> None:
    text = _generator().render()
    shape = text.split("### Shape", 1)[1]
    example = shape.split("```toml\n", 1)[1].split("```", 1)[0]
    config = config_file.parse_config(config_file.tomllib.loads(example), source="docs example")
    assert config.disabled == {"BA104"}
    assert config.waivers[0].expires == "2027-03-31"


def test_every_default_block_in_the_docs_is_a_valid_config() -> None:
    text = _generator().render()
    blocks = [b.split("```", 1)[0] for b in text.split("```toml\n")[1:]]
    rule_blocks = [b for b in blocks if b.startswith("[rules.BA")]
    rules = {r.meta.id: r for r in all_rules()}
    assert len(rule_blocks) == sum(1 for r in rules.values() if r.meta.defaults)
    for block in rule_blocks:
        config = config_file.parse_config(config_file.tomllib.loads(block), source="docs")
        [(rule_id, params)] = config.params.items()
        defaults = rules[rule_id].meta.defaults
        assert {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()} == {
            k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()
        }


def test_every_public_rule_is_registered() -> None:
    registered = {r.meta.id for r in all_rules()}
    missing = [rule_id for rule_id in PUBLIC_IDS if rule_id not in registered]
    assert not missing, f"public rule IDs not registered: {missing}"


def test_registered_rules_are_public() -> None:
    extra = sorted({r.meta.id for r in all_rules()} - set(PUBLIC_IDS))
    assert not extra, f"add {extra} to PUBLIC_IDS (and the docs) deliberately"


CATALOGUE_TESTS = {"test_rules_doc.py", "test_every_rule.py"}
"""Tests over the whole catalogue: they name every ID, so they prove no rule is tested."""


def mentions_in_code(source: str, rule_id: str) -> bool:
    """True when a string in the code (not a comment, not a docstring) names ``rule_id``."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    pattern = re.compile(rf"\b{rule_id}\b")
    return any(
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and pattern.search(node.value) is not None
        for node in ast.walk(tree)
    )


def test_a_comment_or_docstring_is_not_a_test() -> None:
    assert not mentions_in_code('"""BA301 docstring."""\n# BA301 comment\nx = 1\n', "BA301")
    assert not mentions_in_code('def test_x():\n    """BA301."""\n', "BA301")
    assert not mentions_in_code('run("BA3011")\n', "BA301")
    assert mentions_in_code('def test_x():\n    run("BA301", vm)\n', "BA301")


@pytest.mark.parametrize("rule_id", PUBLIC_IDS)
def test_rule_has_remediation_and_a_test(rule_id: str) -> None:
    rules = {r.meta.id: r for r in all_rules()}
    if rule_id not in rules:
        pytest.fail(f"{rule_id} is not registered")
    meta = rules[rule_id].meta
    assert meta.remediation.strip(), f"{rule_id} has no remediation text"
    assert meta.checks.strip() and meta.rationale.strip() and meta.scope.strip()
    # A rule's unit tests live in tests/rules/ and name it in code (run("BA301", ...)).
    referencing = [
        path
        for path in (TESTS / "rules").rglob("test_*.py")
        if path.name not in CATALOGUE_TESTS
        and mentions_in_code(path.read_text(encoding="utf-8"), rule_id)
    ]
    assert referencing, f"no test under tests/rules/ exercises {rule_id}"
