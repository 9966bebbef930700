"""Done means: the demo lab scanned, changed overnight, scanned again shows exactly those changes.

The lab is started and changed with the commands docs/history.md shows (``lab up``,
``lab change``, which talks to vcsim through the vSphere API): one VM's balloon grows,
another's is cleared, a VM is renamed and a healthy VM starts swapping. The second
scan must show exactly those four changes in the console, the JSON result, the HTML
report and the workbook, with first-seen dates; ``diff`` of the two JSON files must
show the same. Both history back ends record the same runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest

from tests.live import require_vcsim
from tests.pgserver import PgServer
from tests.test_cli import run_cli

pytestmark = pytest.mark.live

OVERNIGHT = [
    ("balloon-warn-01", "--ballooned-mb", "3072"),  # balloon grows: 1024 -> 3072 MB
    ("balloon-crit-01", "--ballooned-mb", "0"),  # fixed
    ("balloon-info-01", "--rename-to", "balloon-info-01-renamed"),
    ("batch-01", "--swapped-mb", "512"),  # a healthy VM starts swapping
]
EXPECTED_CHANGES = {
    ("worsened", "BA301", "balloon-warn-01"),
    ("resolved", "BA301", "balloon-crit-01"),
    ("new", "BA302", "batch-01"),
}


@dataclass(frozen=True)
class Lab:
    server: str
    state_dir: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The demo lab, started by `balloon-audit lab up` as a user would."""
    require_vcsim(govc=True)
    state_dir = tmp_path_factory.mktemp("lab-state")
    up = run_cli("lab", "up", "--scenario", "demo", "--state-dir", str(state_dir), "--json")
    assert up.returncode == 0, up.stderr
    details = json.loads(up.stdout)
    yield Lab(f"{details['host']}:{details['port']}", state_dir)
    run_cli("lab", "down", "--state-dir", str(state_dir))


def _scan(lab: Lab, history: str, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    done = run_cli(
        "scan", "-s", lab.server, "-u", "lab", "--insecure", "--history", history,
        "--json", str(out / "result.json"), "--html", str(out / "report.html"),
        "--xlsx", str(out / "report.xlsx"), *extra,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done, json.loads((out / "result.json").read_text(encoding="utf-8"))


def _changed(changes: dict) -> set[tuple[str, str, str]]:
    return {
        (c["status"], c["rule"], c["entity_name"])
        for c in changes["findings"]
        if c["status"] != "persisting"
    }


class _Text(HTMLParser):
    """The text of one section of the report, by id."""

    def __init__(self, section: str) -> None:
        super().__init__()
        self.section, self.depth, self.parts = section, 0, []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag == "section" and ("id", self.section) in attrs:
            self.depth = 1
        elif self.depth and tag == "section":
            self.depth += 1

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if self.depth and tag == "section":
            self.depth -= 1

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self.depth:
            self.parts.append(data)


def _section_text(html: str, section: str) -> str:
    parser = _Text(section)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def test_overnight_changes_show_everywhere(lab, tmp_path: Path, pg_server: PgServer) -> None:
    histories = {
        "sqlite": str(tmp_path / "history.sqlite"),
        "postgresql": pg_server.create_database("history_live"),
    }
    first: dict[str, dict] = {}
    for name, url in histories.items():
        (tmp_path / f"{name}-1").mkdir()
        done, first[name] = _scan(lab, url, tmp_path / f"{name}-1")
        assert done.returncode == 1
        assert first[name]["changes"]["previous"] is None
        assert {c["status"] for c in first[name]["changes"]["findings"]} == {"new"}

    for vm, *change in OVERNIGHT:
        done = run_cli("lab", "change", vm, *change, "--state-dir", str(lab.state_dir))
        assert done.returncode == 0, done.stderr
    unknown = run_cli("lab", "change", "no-such-vm", "--swapped-mb", "1",
                      "--state-dir", str(lab.state_dir))  # fmt: skip
    assert unknown.returncode == 3 and "no VM named 'no-such-vm'" in unknown.stderr

    second: dict[str, dict] = {}
    for name, url in histories.items():
        out = tmp_path / f"{name}-2"
        out.mkdir()
        done, second[name] = _scan(lab, url, out, "--fail-on", "new")
        assert done.returncode == 1, "new and worsened findings: --fail-on new exits 1"
        changes = second[name]["changes"]
        assert _changed(changes) == EXPECTED_CHANGES
        _check_json(changes, first[name]["generated_at"])
        _check_console(done.stdout)
        _check_html((out / "report.html").read_text(encoding="utf-8"))
        _check_xlsx(out / "report.xlsx", first[name]["generated_at"][:10])
    assert _without_times(second["sqlite"]) == _without_times(second["postgresql"])

    # diff of the two JSON files renders the same comparison
    old, new = tmp_path / "sqlite-1" / "result.json", tmp_path / "sqlite-2" / "result.json"
    diffed = tmp_path / "diff"
    diffed.mkdir()
    done = run_cli(
        "diff", str(old), str(new), "--json", str(diffed / "d.json"),
        "--html", str(diffed / "d.html"), "--xlsx", str(diffed / "d.xlsx"),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    _check_console(done.stdout)
    from_diff = json.loads((diffed / "d.json").read_text(encoding="utf-8"))["changes"]
    from_scan = second["sqlite"]["changes"]
    for key in ("findings", "vm_deltas", "renames", "vms_added", "vms_removed"):
        assert from_diff[key] == from_scan[key], key
    _check_html((diffed / "d.html").read_text(encoding="utf-8"))
    _check_xlsx(diffed / "d.xlsx", first["sqlite"]["generated_at"][:10])

    # nothing changed since: a cron job with --fail-on new is quiet
    (tmp_path / "sqlite-3").mkdir()
    done, third = _scan(lab, histories["sqlite"], tmp_path / "sqlite-3", "--fail-on", "new")
    assert done.returncode == 0, done.stdout
    assert _changed(third["changes"]) == set()


def _without_times(result: dict) -> list[dict]:
    """The changed findings without first-seen times (each back end scanned at its own second)."""
    return [
        {k: v for k, v in c.items() if k != "first_seen"} for c in result["changes"]["findings"]
    ]


def _check_json(changes: dict, first_run_at: str) -> None:
    renamed = [c for c in changes["findings"] if c["previous_name"]]
    assert [(c["rule"], c["entity_name"], c["previous_name"], c["status"]) for c in renamed] == [
        ("BA301", "balloon-info-01-renamed", "balloon-info-01", "persisting")
    ]
    assert renamed[0]["first_seen"] == first_run_at
    assert [(r["previous_name"], r["name"]) for r in changes["renames"]] == [
        ("balloon-info-01", "balloon-info-01-renamed")
    ]
    deltas = {
        d["name"]: (d["ballooned_before"], d["ballooned_after"], d["swapped_after"])
        for d in changes["vm_deltas"]
    }
    assert deltas == {
        "balloon-warn-01": (1024, 3072, 0),
        "balloon-crit-01": (2150, 0, 0),
        "batch-01": (0, 0, 512),
    }
    worse = next(c for c in changes["findings"] if c["status"] == "worsened")
    assert (worse["previous_magnitude_mb"], worse["magnitude_mb"]) == (1024, 3072)
    assert all(c["first_seen"] for c in changes["findings"])


def _check_console(stdout: str) -> None:
    assert "History: since " in stdout
    assert "0 improved" in stdout and "1 resolved" in stdout
    lines = [" ".join(line.split()) for line in stdout.splitlines()]
    for status, rule, name in EXPECTED_CHANGES:
        assert any(
            line.startswith(f"{status} {rule}") and f" {name} " in line and "first seen" in line
            for line in lines
        ), (status, rule, name)
    assert "renamed balloon-info-01 → balloon-info-01-renamed" in lines


def _check_html(html: str) -> None:
    text = _section_text(html, "changes")
    assert text.startswith("Since last run")
    for status, rule, name in EXPECTED_CHANGES:
        assert f"{status} {rule}" in text and name in text
    assert "balloon-info-01-renamed was balloon-info-01" in text
    assert "1,024 → 3,072 MB reclaimed" in text
    findings = _section_text(html, "findings")
    assert "was balloon-info-01" in findings and "first seen" in findings
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def _check_xlsx(path: Path, first_day: str) -> None:
    wb = openpyxl.load_workbook(path)
    rows = list(wb["Changes"].iter_rows(values_only=True))
    header = rows[0]
    col = {h: i for i, h in enumerate(header)}
    changed = {
        (r[col["Change"]], r[col["Rule"]], r[col["Entity"]])
        for r in rows[1:]
        if r[col["Change"]] != "persisting"
    }
    assert changed == EXPECTED_CHANGES
    renamed = [r for r in rows[1:] if r[col["Previous name"]]]
    assert [(r[col["Entity"]], r[col["Previous name"]]) for r in renamed] == [
        ("balloon-info-01-renamed", "balloon-info-01")
    ]
    assert renamed[0][col["First seen"]].strftime("%Y-%m-%d") == first_day
    findings = list(wb["Findings"].iter_rows(values_only=True))
    fcol = {h: i for i, h in enumerate(findings[0])}
    assert {"Change", "First seen", "Age (days)"} <= set(fcol)
    assert all(r[fcol["First seen"]] is not None for r in findings[1:])
