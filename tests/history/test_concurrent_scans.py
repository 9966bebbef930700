"""Two `balloon-audit scan` processes record into one database at the same moment.

SQLite and a real PostgreSQL: both runs are stored whole, and because writers take turns,
the one stored second is compared with the one stored first (nothing is "new" twice).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from balloon_audit.history.store import HistoryStore
from tests.paths import CASSETTES, ROOT

DEMO = str(CASSETTES / "demo.yaml")
SCANS = 3


def test_concurrent_scans_lose_nothing(history_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    scans = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "balloon_audit",
                "scan",
                "--replay",
                DEMO,
                "--quiet",
                "--history",
                history_url,
                "--json",
                str(tmp_path / f"{n}.json"),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for n in range(SCANS)
    ]
    for scan in scans:
        _out, err = scan.communicate(timeout=300)
        assert scan.returncode == 1, err  # the demo has findings; the history worked
    results = [json.loads((tmp_path / f"{n}.json").read_text()) for n in range(SCANS)]
    with HistoryStore.open(history_url) as store:
        runs = store.runs()
        assert len(runs) == SCANS
        assert len({r.scope for r in runs}) == 1
        for run in runs:
            assert run.findings == len(results[0]["findings"]) > 0
            assert len(store.view(run.run_id).vms) == len(results[0]["vms"]) > 0
    previous = sorted((r["changes"]["previous"] or {}).get("run_id") or 0 for r in results)
    ids = sorted(run.run_id for run in runs)
    assert previous == [0, *ids[:-1]], "one run was the first; each other saw the one before"
