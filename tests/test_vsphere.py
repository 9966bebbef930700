"""The declared property table: complete, consistent, pyVmomi-free, the only home of paths."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from balloon_audit import vsphere as vs
from balloon_audit.model import VM, Host
from balloon_audit.report.presentation import TOOLS_COLUMN

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "balloon_audit"

# A path literal outside vsphere.py that is a different property with the same spelling.
SAME_SPELLING_OTHER_OBJECT = {
    ("lab/seed.py", "runtime.connectionState"),  # VirtualMachine's own, written for vcsim only
}


def test_importing_the_table_the_builders_and_the_rules_does_not_load_pyvmomi() -> None:
    code = (
        "import sys\n"
        "import balloon_audit.vsphere, balloon_audit.collect.properties, balloon_audit.rules\n"
        "from balloon_audit.rules.registry import all_rules\n"
        "all_rules()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pyVmomi', 'pyVim'))\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "", f"pyVmomi loaded: {out.stdout.strip()}"


@pytest.mark.parametrize(
    ("model", "entity", "table"),
    [(VM, vs.VIRTUAL_MACHINE, vs.VM_BY_FIELD), (Host, vs.HOST_SYSTEM, vs.HOST_BY_FIELD)],
)
def test_every_model_field_has_a_source_and_a_label(model, entity, table) -> None:
    fields = {f.name for f in dataclasses.fields(model)}
    unexplained = sorted(fields - set(table) - set(vs.CONTEXT_LABELS))
    assert not unexplained, f"{model.__name__} fields missing from vsphere.py: {unexplained}"
    unknown = sorted(set(table) - fields)
    assert not unknown, f"vsphere.py names fields {model.__name__} does not have: {unknown}"
    labels = [vs.field_label(name, entity) for name in sorted(fields)]
    labels.append(TOOLS_COLUMN)  # the derived column beside them in the VMs/Hosts tables
    assert len(labels) == len(set(labels)), "two columns would share a header"


def test_labels_name_the_unit_and_shared_paths_share_a_label() -> None:
    for prop in vs.ALL_PROPS:
        if prop.unit:
            assert prop.label.endswith(f"({prop.unit})"), prop
        if prop.api_unit:
            assert prop.evidence_label.endswith(f"({prop.api_unit})"), prop
    by_path: dict[str, set[str]] = {}
    for prop in vs.ALL_PROPS:
        by_path.setdefault(prop.path, set()).add(prop.label)
    assert all(len(labels) == 1 for labels in by_path.values()), by_path


def test_conversions_follow_the_declared_units() -> None:
    assert vs.VM_COMPRESSED.parse(2048) == 2.0  # KB → MB
    assert vs.HOST_MEMORY_SIZE.parse(3 * 1024**3) == 3072.0  # bytes → MB
    assert vs.VM_LIMIT.parse(-1) is None and vs.VM_LIMIT.parse(512) == 512
    assert vs.VM_COMPRESSED.describe() == "summary.quickStats.compressedMemory (KB → MB)"
    assert vs.VM_SWAPIN_RATE.key == "mem.swapinRate (KB/s)"


def test_evidence_labels() -> None:
    assert vs.evidence_label(vs.VM_BALLOONED.key) == "Ballooned (MB)"
    assert vs.evidence_label(vs.VM_COMPRESSED.key) == "Compressed (KB)"  # evidence keeps API units
    assert vs.evidence_label(f"sum({vs.VM_SWAPPED.key})") == "Σ Swapped (MB)"
    assert vs.evidence_label(f"sum(host.{vs.HOST_MEMORY_SIZE.key})") == "Σ Memory (bytes)"
    assert vs.evidence_label("overcommit_ratio") is None


_PATH_LITERAL = re.compile(r"[\"']((?:config|guest|runtime|summary|hardware)\.[A-Za-z.]+)[\"']")


def test_no_module_but_the_table_spells_a_declared_path() -> None:
    declared = {p.path for p in vs.ALL_PROPS}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "vsphere.py":
            continue
        for literal in _PATH_LITERAL.findall(path.read_text(encoding="utf-8")):
            if literal in declared and (rel, literal) not in SAME_SPELLING_OTHER_OBJECT:
                offenders.append(f"{rel}: {literal}")
    assert not offenders, "use balloon_audit.vsphere instead of spelling paths: " + ", ".join(
        offenders
    )
