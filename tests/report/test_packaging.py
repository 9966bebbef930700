"""One lookup finds templates and docs in an installed wheel, an editable install and a checkout."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
TEST_DATA_MODULES = (
    "tests/__init__.py",
    "tests/factories.py",
    "tests/report/__init__.py",
    "tests/report/sample.py",
)
"""What the render script imports from the checkout: test data, never the package itself."""

RENDER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])  # the test data modules only, not the package
    import balloon_audit
    from balloon_audit.report.html import templates_location, write_html
    from balloon_audit.report.xlsx import write_xlsx
    from pathlib import Path
    from tests.report.sample import hostile_result
    out = Path(sys.argv[2])
    write_html(hostile_result(), out / "r.html")
    write_xlsx(hostile_result(), out / "r.xlsx")
    from balloon_audit.locations import checkout_root, data_dir
    root = checkout_root()
    print(json.dumps({
        "package": balloon_audit.__file__,
        "templates": templates_location(),
        "docs": str(data_dir("docs")),
        "checkout": None if root is None else str(root),
    }))
    """
)


def _build_wheel(out: Path) -> Path:
    pytest.importorskip("hatchling", reason="hatchling (test extra) builds the wheel")
    script = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    name = subprocess.run(
        [sys.executable, "-c", script, str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.split()[-1]
    return out / name


def _venv(tmp_path: Path) -> tuple[Path, str]:
    """A venv without the package whose dependencies (jinja2, openpyxl, hatchling, ...)
    come from the test environment, added *after* the venv's own site-packages."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "_test_deps.pth").write_text("\n".join(deps) + "\n")
    return python, purelib


def _pip_install(python: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", *args],
        check=True,
        timeout=300,
    )


def _render(python: Path, tmp_path: Path, pythonpath: Path | None = None) -> dict[str, str]:
    """Render both reports with ``python``; where the package, templates and docs came from."""
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    data = tmp_path / "testdata"
    for module in TEST_DATA_MODULES:
        (data / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / module, data / module)
    run = subprocess.run(
        [python, "-c", RENDER, str(data), str(out)],
        cwd=tmp_path,  # keep the checkout off sys.path
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    html = (out / "r.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "BA301" in html
    assert (out / "r.xlsx").read_bytes()[:2] == b"PK"
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_report_renders_from_installed_wheel(tmp_path: Path):
    wheel = _build_wheel(tmp_path / "dist")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    for asset in ("templates/report.html.j2", "templates/report.css", "templates/report.js"):
        assert f"balloon_audit/{asset}" in names
    assert "balloon_audit/docs/rules.md" in names, "error hints point wheel users at it"

    python, purelib = _venv(tmp_path)
    _pip_install(python, "--no-index", str(wheel))
    where = _render(python, tmp_path)
    assert where["package"].startswith(purelib), where
    assert where["templates"].startswith(purelib), where
    assert where["docs"].startswith(purelib), where
    assert where["checkout"] is None, "an installed wheel never looks into a checkout"


def test_report_renders_from_editable_install(tmp_path: Path):
    pytest.importorskip("hatchling", reason="hatchling (test extra) builds the editable wheel")
    python, _ = _venv(tmp_path)
    _pip_install(python, "--no-build-isolation", "--no-index", "-e", str(ROOT))
    where = _render(python, tmp_path)
    assert where["package"] == str(ROOT / "balloon_audit" / "__init__.py"), where
    assert where["templates"] == str(ROOT / "templates"), where
    assert where["checkout"] == str(ROOT), where


def test_report_renders_from_a_checkout_on_pythonpath(tmp_path: Path):
    python, _ = _venv(tmp_path)
    where = _render(python, tmp_path, pythonpath=ROOT)
    assert where["package"] == str(ROOT / "balloon_audit" / "__init__.py"), where
    assert where["templates"] == str(ROOT / "templates"), where
    assert where["docs"] == str(ROOT / "docs"), where
