"""The wheel ships the templates: render a report from an installed package, not the checkout."""

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
    print(json.dumps({"package": balloon_audit.__file__, "templates": templates_location()}))
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


def test_report_renders_from_installed_wheel(tmp_path: Path):
    wheel = _build_wheel(tmp_path / "dist")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    for asset in ("report.html.j2", "report.css", "report.js"):
        assert f"balloon_audit/templates/{asset}" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Dependencies (jinja2, openpyxl, ...) come from the test environment, added *after*
    # the new venv's own site-packages; the package itself only from the wheel.
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "_test_deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        timeout=120,
    )
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
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
    where = json.loads(run.stdout.strip().splitlines()[-1])
    assert where["package"].startswith(purelib), where
    assert where["templates"].startswith(purelib), where
    assert not where["templates"].startswith(str(ROOT / "templates"))
    html = (out / "r.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "BA301" in html
    assert (out / "r.xlsx").read_bytes()[:2] == b"PK"
