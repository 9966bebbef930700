"""Only one module of the package touches vcrpy (its internals change between releases)."""

from __future__ import annotations

import re

from tests.paths import ROOT

VCR_IMPORT = re.compile(r"^\s*(?:from|import)\s+vcr\b", re.MULTILINE)


def test_only_the_vcr_session_module_imports_vcrpy() -> None:
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "balloon_audit").rglob("*.py")
        if VCR_IMPORT.search(path.read_text(encoding="utf-8"))
    )
    assert importers == ["balloon_audit/collect/capture/vcr_session.py"]
