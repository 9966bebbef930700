#!/usr/bin/env python3
"""Benchmark the HTML and Excel reports on a synthetic fleet (default 10,000 VMs, 100 hosts).

Each report is rendered in its own subprocess so peak memory is measured per
renderer. The fleet is made by a seeded generator and run through the real
rules (balloon_audit.engine.evaluate), so the findings and their advice are the
ones a user would get.

    .venv/bin/python scripts/bench_reports.py [--vms 10000] [--hosts 100] [--out DIR]
        [--runs 3] [--reference]

Prints one line per report and run: wall seconds to render and write, CPU seconds of
the process (less sensitive to other jobs on a shared machine), file size, peak RSS and
the RSS it had before rendering (the fleet itself); then the best HTML + XLSX total.
``--reference`` also times the workbook written cell by cell through openpyxl (the path
before issue 14, kept as the tests' reference) for a before/after figure in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from balloon_audit.engine import evaluate  # noqa: E402
from balloon_audit.model import (  # noqa: E402
    VM,
    AuditResult,
    Cluster,
    Host,
    Snapshot,
    SourceInfo,
)

KINDS = ("html", "xlsx", "xlsx-openpyxl")
SIZES_MB = (2048, 4096, 8192, 8192, 16384, 16384, 32768, 65536)


def synthetic_fleet(vms: int, hosts: int, seed: int = 1) -> Snapshot:
    """A fleet under some pressure: about a fifth of the VMs lose memory to reclamation."""
    rng = random.Random(seed)
    server = "vcsa-01.bench.test"
    clusters = [Cluster(f"domain-c{i}", f"cluster-{i:02d}", server, "DC-A") for i in range(10)]
    host_list = [
        Host(
            moid=f"host-{i}",
            name=f"esx-{i:03d}.bench.test",
            server=server,
            datacenter="DC-A",
            cluster=clusters[i % len(clusters)].name,
            connection_state="connected" if i % 50 else "notResponding",
            power_state="poweredOn",
            in_maintenance_mode=False,
            memory_size_mb=524288.0,
            memory_usage_mb=rng.randint(200_000, 520_000),
            product_version="8.0.3",
        )
        for i in range(hosts)
    ]
    vm_list = []
    for i in range(vms):
        host = host_list[i % hosts]
        memory = rng.choice(SIZES_MB)
        powered_on = rng.random() > 0.08
        roll = rng.random()
        ballooned = int(memory * rng.uniform(0.01, 0.6)) if roll < 0.2 else 0
        swapped = int(memory * rng.uniform(0.001, 0.05)) if roll < 0.03 else 0
        compressed = round(rng.uniform(1, 900), 1) if roll < 0.05 else 0.0
        tools = rng.choices(
            (
                "guestToolsCurrent",
                "guestToolsNotInstalled",
                "guestToolsTooOld",
                "guestToolsUnmanaged",
                "guestToolsSupportedOld",
            ),
            weights=(90, 1, 2, 5, 2),
        )[0]
        vm_list.append(
            VM(
                moid=f"vm-{1000 + i}",
                name=f"{rng.choice(('app', 'db', 'web', 'k8s-worker', 'batch'))}-{i:05d}",
                server=server,
                datacenter="DC-A",
                cluster=host.cluster,
                host=host.name,
                host_moid=host.moid,
                power_state="poweredOn" if powered_on else "poweredOff",
                is_template=not powered_on and rng.random() < 0.2,
                guest_id=rng.choice(("rhel9_64Guest", "windows2019srv_64Guest", "ubuntu64Guest")),
                guest_full_name="Some guest OS",
                annotation="owner: team-x" if i % 7 == 0 else None,
                memory_mb=memory,
                memory_limit_mb=memory // 2 if rng.random() < 0.01 else None,
                memory_reservation_mb=memory if rng.random() < 0.05 else 0,
                reservation_locked_to_max=False,
                tools_version_status2=tools,
                tools_running_status="guestToolsRunning" if powered_on else "guestToolsNotRunning",
                tools_version="12352",
                maxmemctl="0" if rng.random() < 0.02 else None,
                quickstats_available=powered_on,
                ballooned_mb=ballooned if powered_on else None,
                swapped_mb=swapped if powered_on else None,
                compressed_mb=compressed if powered_on else None,
                host_memory_usage_mb=int(memory * 0.9) if powered_on else None,
                guest_memory_usage_mb=int(memory * 0.2) if powered_on else None,
                host_connection_state=host.connection_state,
            )
        )
    source = SourceInfo(
        server,
        "ok",
        "8.0.3.0",
        "VirtualCenter",
        "VMware vCenter Server 8.0.3",
        vm_count=vms,
        host_count=hosts,
        duration_s=12.5,
    )
    failed = SourceInfo(
        "vcsa-02.bench.test",
        "failed",
        error="connection timed out",
        hint="check the network path to port 443",
    )
    return Snapshot((source, failed), tuple(clusters), tuple(host_list), tuple(vm_list))


def synthetic_result(vms: int, hosts: int) -> AuditResult:
    return evaluate(
        synthetic_fleet(vms, hosts),
        generated_at=datetime(2025, 1, 1, 2, 0, tzinfo=timezone.utc),
        run_by={"user": "bench", "host": "bench", "command": "scripts/bench_reports.py"},
    )


def child(kind: str, vms: int, hosts: int, out: Path) -> None:
    result = synthetic_result(vms, hosts)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    path = out / f"bench-{kind}.{kind[:4]}"
    start, cpu = time.perf_counter(), time.process_time()
    if kind == "html":
        from balloon_audit.report.html import write_html

        write_html(result, path)
    elif kind == "xlsx":
        from balloon_audit.report.xlsx import write_xlsx

        write_xlsx(result, path)
    else:
        from balloon_audit.fileio import atomic_write_bytes
        from balloon_audit.report.xlsx import render_xlsx

        atomic_write_bytes(path, render_xlsx(result, fast_rows=False))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "kind": kind,
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2),
                "bytes": path.stat().st_size,
                "peak_rss_mb": round(peak),
                "rss_before_mb": round(before),
                "findings": len(result.findings),
                "vms": len(result.snapshot.vms),
                "hosts": len(result.snapshot.hosts),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--out", type=Path, help="keep the reports here (default: a temp dir)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each report (best is summed)")
    parser.add_argument(
        "--reference", action="store_true", help="also time the openpyxl cell-by-cell workbook"
    )
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.vms, args.hosts, args.out)
        return
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        kinds = KINDS if args.reference else KINDS[:2]
        for kind in [k for _ in range(args.runs) for k in kinds]:
            run = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    kind,
                    "--vms",
                    str(args.vms),
                    "--hosts",
                    str(args.hosts),
                    "--out",
                    str(out),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(run.stdout)
            print(
                f"{kind:14}  {r['vms']:,} VMs, {r['hosts']} hosts, {r['findings']:,} findings: "
                f"{r['seconds']:.2f} s (CPU {r['cpu_seconds']:.2f} s), {r['bytes'] / 1e6:.2f} MB, "
                f"peak RSS {r['peak_rss_mb']} MB (fleet alone {r['rss_before_mb']} MB)"
            )
            seconds, cpu = best.get(kind, (float("inf"), float("inf")))
            best[kind] = (min(seconds, r["seconds"]), min(cpu, r["cpu_seconds"]))
    html, xlsx = best["html"], best["xlsx"]
    print(
        f"html + xlsx (best of {args.runs}): {html[0] + xlsx[0]:.2f} s "
        f"(CPU {html[1] + xlsx[1]:.2f} s)"
    )
    if args.reference:
        ref = best["xlsx-openpyxl"]
        print(
            f"xlsx vs openpyxl cells: {xlsx[0]:.2f} s vs {ref[0]:.2f} s "
            f"(CPU {xlsx[1]:.2f} s vs {ref[1]:.2f} s, {ref[1] / xlsx[1]:.1f}x less CPU)"
        )


if __name__ == "__main__":
    main()
