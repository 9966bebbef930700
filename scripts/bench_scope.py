"""Print how much a --scope saves: the whole inventory vs one cluster, against vcsim.

    .venv/bin/python scripts/bench_scope.py [CLUSTERS] [VMS_PER_CLUSTER]

Starts vcsim (8 clusters x 4 hosts x 50 VMs by default), scans it whole and scoped to
one cluster (--no-perf, best of 3), and prints VMs, hosts and the collection time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from balloon_audit.lab.vcsim import start_vcsim, stop_vcsim  # noqa: E402


def main() -> None:
    clusters = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    vms = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    endpoint = start_vcsim(
        ["-cluster", str(clusters), "-host", "4", "-vm", str(vms), "-standalone-host", "0"]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALLOON_AUDIT_")}
    env["BALLOON_AUDIT_PASSWORD"] = "bench"
    out = Path(tempfile.mkdtemp()) / "result.json"
    try:
        for label, extra in (
            ("whole inventory", []),
            ("--scope cluster=DC0_C0", ["--scope", "cluster=DC0_C0"]),
        ):
            best = float("inf")
            for _ in range(3):
                started = time.monotonic()
                subprocess.run(
                    [sys.executable, "-m", "balloon_audit", "scan", "-s",
                     f"127.0.0.1:{endpoint.port}", "-u", "bench", "-k", "--json", str(out),
                     "--fail-on", "never", "-q", "--no-perf", *extra],
                    env=env, check=True, capture_output=True,
                )  # fmt: skip
                best = min(best, time.monotonic() - started)
            data = json.loads(out.read_text())
            print(
                f"{label:24} {len(data['vms']):6,} VMs {len(data['hosts']):4} hosts  "
                f"collection {data['sources'][0]['duration_s']:.2f}s  whole run {best:.2f}s"
            )
    finally:
        stop_vcsim(endpoint.pid)


if __name__ == "__main__":
    main()
