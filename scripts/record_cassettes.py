#!/usr/bin/env python3
"""Re-record the cassettes in cassettes/ from the vcsim lab: the one deliberate command.

    .venv/bin/python scripts/record_cassettes.py              # every cassette
    .venv/bin/python scripts/record_cassettes.py demo esx     # some of them
    .venv/bin/python scripts/record_cassettes.py --out /tmp/c # somewhere else

For each cassette it starts the lab scenario, runs the collector inside
``recording()`` (so the file on disk is already scrubbed), replays the new
cassette offline and checks that the replay gives the same sources and findings
as the live run, then writes ``NAME.expected.json`` beside it: what the replay
tests compare against. A recording whose replay differs is reported and fails.
Needs vcsim (scripts/provision.sh installs it); never run by the test suite.
"""

from __future__ import annotations

import argparse
import gzip
import json
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from balloon_audit.audit import replay_snapshot  # noqa: E402
from balloon_audit.collect import Target, collect_all  # noqa: E402
from balloon_audit.collect.capture import recording  # noqa: E402
from balloon_audit.collect.capture.scrub import Scrubber  # noqa: E402
from balloon_audit.engine import evaluate  # noqa: E402
from balloon_audit.lab import load_scenario, running_lab  # noqa: E402
from balloon_audit.lab.vcsim import start_vcsim, stop_vcsim  # noqa: E402
from balloon_audit.model import AuditResult, Snapshot  # noqa: E402

USER = "auditor@vsphere.local"
SIZE_BUDGET_BYTES = 4 * 1024 * 1024
"""All cassettes together: small enough for git without compression."""


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    scenario: str | None = None
    """Lab scenario to start; ``None`` for a bare vcsim with ``vcsim_args``."""
    vcsim_args: tuple[str, ...] = ()
    page_size: int = 1000
    refuse_login: bool = False
    """Start vcsim with a fixed user and password, then log in with another password."""
    gzip: bool = False
    """Write ``NAME.yaml.gz``: for inventories whose plain cassette would be megabytes."""

    @property
    def filename(self) -> str:
        return f"{self.name}.yaml.gz" if self.gzip else f"{self.name}.yaml"


RECIPES = (
    Recipe("demo", "the demo fleet: every rule fires at least once", scenario="demo"),
    Recipe("empty", "an inventory without VMs", scenario="empty"),
    Recipe("esx", "a standalone ESXi endpoint (vcsim -esx)", scenario="esx"),
    Recipe(
        "large",
        "2,500 VMs: several RetrievePropertiesEx pages of 1,000",
        scenario="large",
        gzip=True,
    ),
    Recipe("rejected-login", "a Login refused for a wrong password", refuse_login=True),
)


def finding_keys(result: AuditResult, rename: Callable[[str], str]) -> list[list[str]]:
    """(rule, severity, entity type, entity name) per finding, names as the capture shows them."""
    return sorted(
        [f.rule, f.severity.value, f.entity.type, rename(f.entity.name)] for f in result.findings
    )


def source_keys(snapshot: Snapshot, rename: Callable[[str], str]) -> list[dict[str, object]]:
    return [
        {
            "server": rename(s.server),
            "status": s.status,
            "api_type": s.api_type,
            "vm_count": s.vm_count,
            "host_count": s.host_count,
        }
        for s in snapshot.sources
    ]


@contextmanager
def lab(recipe: Recipe, password: str) -> Iterator[tuple[str, int]]:
    """(host, port) of a running vcsim for ``recipe``; stopped afterwards."""
    if recipe.scenario is None:
        args = list(recipe.vcsim_args)
        if recipe.refuse_login:
            args += ["-username", USER, "-password", password]
        endpoint = start_vcsim(args)
        try:
            yield endpoint.host, endpoint.port
        finally:
            stop_vcsim(endpoint.pid)
        return
    with running_lab(load_scenario(recipe.scenario)) as instance:
        yield instance.host, instance.port


def record(recipe: Recipe, out_dir: Path) -> tuple[Path, list[str]]:
    """Record one cassette and its expected results; returns the path and any problems."""
    path = out_dir / recipe.filename
    password = "pw-" + secrets.token_urlsafe(12)
    login_password = "wrong-" + secrets.token_urlsafe(8) if recipe.refuse_login else password
    with lab(recipe, password) as (host, port):
        target = Target(host, port, USER, login_password, insecure=True)
        with recording(path, servers=[target]):
            live = collect_all([target], perf=True, page_size=recipe.page_size)

    scrubber = Scrubber([target.label])
    endpoint_ph = scrubber.endpoints[0]

    def rename(text: str) -> str:
        return scrubber.scrub_text(text, endpoint_ph)

    replayed = replay_snapshot(path, strict=True)
    expected = {
        "cassette": path.name,
        "description": recipe.description,
        "written_by": "scripts/record_cassettes.py (from the live run; do not edit by hand)",
        "page_size": recipe.page_size,
        "sources": source_keys(live, rename),
        "vms": len(live.vms),
        "hosts": len(live.hosts),
        "findings": finding_keys(evaluate(live), rename),
    }
    problems = []
    if source_keys(replayed, str) != expected["sources"]:
        problems.append(f"{recipe.name}: replayed sources differ from the live run")
    if finding_keys(evaluate(replayed), str) != expected["findings"]:
        problems.append(f"{recipe.name}: replayed findings differ from the live run")
    if (len(replayed.vms), len(replayed.hosts)) != (expected["vms"], expected["hosts"]):
        problems.append(f"{recipe.name}: replayed inventory differs from the live run")
    text = capture_text(path)
    if password in text or login_password in text:
        problems.append(f"{recipe.name}: the password reached the cassette")
    expected_path = out_dir / f"{recipe.name}.expected.json"
    expected_path.write_text(expected_json(expected))
    return path, problems


def expected_json(expected: dict[str, object]) -> str:
    """Indented JSON with one finding per line, so that a re-recording diffs well."""
    findings = expected["findings"]
    assert isinstance(findings, list)
    text = json.dumps({**expected, "findings": "@FINDINGS@"}, indent=2)
    rows = ",\n".join("    " + json.dumps(f) for f in findings)
    return text.replace('"@FINDINGS@"', f"[\n{rows}\n  ]" if findings else "[]") + "\n"


def capture_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="cassettes to record (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "cassettes", help="output directory")
    args = parser.parse_args(argv)
    known = {r.name: r for r in RECIPES}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown cassette(s) {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [known[n] for n in args.names] if args.names else list(RECIPES)
    args.out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for recipe in chosen:
        started = time.monotonic()
        path, found = record(recipe, args.out)
        problems += found
        size = path.stat().st_size
        print(f"{path.name:24} {size / 1024:8.1f} KiB  {time.monotonic() - started:5.1f}s")
    total = sum(p.stat().st_size for p in args.out.glob("*.yaml*"))
    print(f"{'total':24} {total / 1024:8.1f} KiB")
    if total > SIZE_BUDGET_BYTES:
        problems.append(f"cassettes total {total / 1024 / 1024:.1f} MiB, over the budget")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
