#!/usr/bin/env python3
"""History benchmarks: store and compare 10,000-VM runs, growth per 1,000 VMs, a year with prune.

    .venv/bin/python scripts/bench_history.py                 # SQLite in a temp dir
    .venv/bin/python scripts/bench_history.py --vms 2000      # a smaller fleet
    .venv/bin/python scripts/bench_history.py --year          # also 365 nightly runs with prune
    .venv/bin/python scripts/bench_history.py --url postgresql://USER@127.0.0.1/DB
    .venv/bin/python scripts/bench_history.py --result scan.json  # a real scan's result, twice

Prints figures (docs/performance.md quotes them); asserts nothing. The fleets are
synthetic but go through the real rules engine, so findings are what a scan makes:
about 1 VM in 8 balloons, 1 in 40 swaps, and each night 5 % of the VMs change.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from balloon_audit.engine import evaluate  # noqa: E402
from balloon_audit.history.compare import compare  # noqa: E402
from balloon_audit.history.store import HistoryStore, database_url, safe_url  # noqa: E402
from balloon_audit.history.view import key_result  # noqa: E402
from balloon_audit.model import (  # noqa: E402
    VM,
    AuditResult,
    Host,
    Snapshot,
    SourceInfo,
    SourceStatus,
)

SERVER = "vc01.bench.test"
START = datetime(2026, 1, 1, 2, 0, tzinfo=timezone.utc)


def fleet(vms: int, seed: int = 1) -> tuple[list[Host], list[VM]]:
    rng = random.Random(seed)
    hosts = [
        Host(
            moid=f"host-{h}", name=f"esx{h:04d}", server=SERVER, datacenter="DC1",
            cluster=f"C{h // 16}", connection_state="connected", power_state="poweredOn",
            in_maintenance_mode=False, memory_size_mb=524288.0, memory_usage_mb=400000,
            product_version="8.0.3", uuid=f"00000000-0000-0000-0000-{h:012d}",
        )
        for h in range(max(vms // 25, 1))
    ]  # fmt: skip
    out = []
    for n in range(vms):
        host = hosts[n % len(hosts)]
        roll = rng.random()
        out.append(
            VM(
                moid=f"vm-{n}", name=f"app-{n:05d}", server=SERVER, datacenter="DC1",
                cluster=host.cluster, host=host.name, host_moid=host.moid,
                power_state="poweredOn", guest_id="rhel9_64Guest", memory_mb=8192,
                tools_version_status2="guestToolsCurrent", tools_running_status="guestToolsRunning",
                tools_status="toolsOk", tools_version="12352", quickstats_available=True,
                ballooned_mb=rng.choice((256, 1024, 3000)) if roll < 0.125 else 0,
                swapped_mb=rng.choice((64, 600)) if 0.125 <= roll < 0.15 else 0,
                compressed_mb=0.0, host_memory_usage_mb=6000, guest_memory_usage_mb=2000,
                host_connection_state="connected", instance_uuid=f"5000{n:028x}",
            )
        )  # fmt: skip
    return hosts, out


def overnight(vms: list[VM], night: int) -> list[VM]:
    """5 % of the VMs change their ballooned/swapped memory."""
    rng = random.Random(1000 + night)
    changed = list(vms)
    for i in rng.sample(range(len(vms)), len(vms) // 20):
        vm = changed[i]
        changed[i] = replace(
            vm, ballooned_mb=rng.choice((0, 0, 512, 2048)), swapped_mb=rng.choice((0, 0, 0, 128))
        )
    return changed


def run(hosts: list[Host], vms: list[VM], at: datetime) -> AuditResult:
    source = SourceInfo(
        server=SERVER,
        status=SourceStatus.OK,
        api_type="VirtualCenter",
        instance_uuid="bench-vcenter",
        vm_count=len(vms),
        host_count=len(hosts),
    )
    return evaluate(
        Snapshot(sources=(source,), hosts=tuple(hosts), vms=tuple(vms)), generated_at=at
    )


def db_size(url: str, path: Path | None) -> int | None:
    if path is None:
        return None
    with sqlite3.connect(path) as conn:  # fold the WAL into the file before measuring
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    """Run ``fn``; print its wall time and this process's CPU time (which a busy machine
    stretches less: with PostgreSQL, the server's share is in the wall time only)."""
    started, cpu = time.perf_counter(), time.process_time()
    value = fn()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{label:<58} {wall:7.3f} s  (CPU {cpu:.3f} s)")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--url", help="history database URL (default: SQLite in a temp dir)")
    parser.add_argument("--year", action="store_true", help="also 365 nightly runs with prune")
    parser.add_argument("--keep-days", type=int, default=90)
    parser.add_argument(
        "--result", type=Path, help="instead: store this `scan --json` result twice, as scan does"
    )
    args = parser.parse_args()
    if args.result is not None:
        real_result(args.result, args.url)
        return

    workdir = Path(tempfile.mkdtemp(prefix="ba-bench-history-"))
    path = None if args.url else workdir / "history.sqlite"
    url = args.url or str(path)
    hosts, vms = fleet(args.vms)
    first = run(hosts, vms, START)
    second = run(hosts, overnight(vms, 1), START + timedelta(days=1))
    shown = safe_url(database_url(url))
    print(f"fleet: {args.vms:,} VMs, {len(hosts):,} hosts; findings per run: "
          f"{len(first.findings):,} / {len(second.findings):,}; database: {shown}")  # fmt: skip

    store = HistoryStore.open(url)
    empty = db_size(url, path)
    timed(f"store run 1 ({args.vms:,} VMs, no previous run)", lambda: store.record(first))
    one = db_size(url, path)
    _, changes = timed(
        f"store run 2 ({args.vms:,} VMs, incl. load + compare with run 1)",
        lambda: store.record(second),
    )
    two = db_size(url, path)
    old_view, new_view = key_result(first).view, key_result(second).view
    timed(f"compare two {args.vms:,}-VM runs (in memory)", lambda: compare(old_view, new_view))
    second_id = store.runs(1)[0].run_id
    timed(
        "history show: load both runs from the database + compare", lambda: store.changes(second_id)
    )
    counts = changes.counts()
    print(f"changes: {counts}, {len(changes.vm_deltas):,} VM deltas")
    if empty is not None and one is not None and two is not None:
        per_run = (two - empty) / 2
        print(f"on-disk growth per run: {per_run / 1e6:.2f} MB = "
              f"{per_run / 1e3 / (args.vms / 1000):,.0f} KB per 1,000 VMs")  # fmt: skip
    if args.year:
        year(store, url, path, hosts, vms, args.keep_days)
    store.close()


def real_result(result_path: Path, url: str | None) -> None:
    """What ``scan`` adds for the history on a real result: open the database (and check its
    schema), record the run and, the second time, load the previous run and compare."""
    from balloon_audit.report.json_result import read_result

    result = read_result(result_path)
    url = url or str(Path(tempfile.mkdtemp(prefix="ba-bench-history-")) / "history.sqlite")
    print(f"{result_path.name}: {len(result.snapshot.vms):,} VMs, {len(result.findings):,} "
          f"findings; database: {safe_url(database_url(url))}")  # fmt: skip
    for label in ("first run: open + record", "second run: open + record + compare"):

        def record() -> None:
            with HistoryStore.open(url) as store:
                store.record(result)

        timed(label, record)
    path = Path(make_url(database_url(url)).database or "")
    if path.is_file():
        print(f"database after two runs: {path.stat().st_size / 1e6:.1f} MB")


def year(store: HistoryStore, url: str, path: Path | None, hosts, vms, keep_days: int) -> None:  # type: ignore[no-untyped-def]
    """365 nightly runs; a week of distinct fleets is evaluated once and cycled (the rules
    engine is not what is measured here), each run with its own night's time."""
    print(f"\na year of nightly runs, `history prune --keep-days {keep_days}` after each:")
    week = []
    current = vms
    for night in range(7):
        current = overnight(current, night + 2)
        week.append(run(hosts, current, START))
    started = time.perf_counter()
    peak = 0
    for night in range(2, 367):
        at = START + timedelta(days=night)
        store.record(replace(week[night % 7], generated_at=at))
        store.prune(keep_days=keep_days, now=at)
        if night % 30 == 0 or night == 366:
            size = db_size(url, path)
            peak = max(peak, size or 0)
            runs = len(store.runs())
            elapsed = time.perf_counter() - started
            print(f"  night {night:3d}: {runs:3d} runs kept, database "
                  f"{(size or 0) / 1e6:7.1f} MB, {elapsed:6.0f} s so far", flush=True)  # fmt: skip
    print(f"peak size with --keep-days {keep_days}: {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
