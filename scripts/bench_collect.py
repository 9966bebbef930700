#!/usr/bin/env python3
"""Collection benchmark: PropertyCollector paging vs. the per-VM attribute loop vs. govc.

Starts vcsim with about 10,000 VMs on 100 hosts, then measures, each in its own
subprocess so peak memory figures do not mix:

  pc      collect_source(perf=False), then engine.evaluate: time, VMs/s, peak RSS
  loop    the attribute loop most pyVmomi scripts use (naive and cached), on a
          subset, scaled to VMs/s
  govc    `govc object.collect -json -type m / <same paths>` as the Go reference

Usage:  .venv/bin/python scripts/bench_collect.py [--loop-subset 300] [--runs 3]
        .venv/bin/python scripts/bench_collect.py --server 127.0.0.1:PORT  # a running vcsim
vcsim needs 7-10 minutes to build 10,000 VMs on 2 cores; --server reuses one.
Prints figures; it is not a test. Needs vcsim and govc (.tools/bin or PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

USER, PASSWORD = "bench", "bench-password"  # vcsim accepts any login


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


# --- measurements (run in a child process) -------------------------------------------------


def measure_pc(host: str, port: int, page_size: int) -> dict:
    from balloon_audit.collect import Target, collect_source
    from balloon_audit.engine import evaluate

    target = Target(host, port, USER, PASSWORD, insecure=True)
    started = time.perf_counter()
    snapshot = collect_source(target, perf=False, page_size=page_size)
    collected = time.perf_counter()
    result = evaluate(snapshot)
    finished = time.perf_counter()
    return {
        "vms": len(snapshot.vms),
        "hosts": len(snapshot.hosts),
        "findings": len(result.findings),
        "collect_s": collected - started,
        "evaluate_s": finished - collected,
        "end_to_end_s": finished - started,
        "peak_rss_mb": peak_rss_mb(),
    }


def measure_loop(host: str, port: int, subset: int, style: str) -> dict:
    """The usual script: a ContainerView, then attribute access per VM.

    ``naive`` reads every value through its full attribute path, as most scripts do;
    each access to ``vm.config`` / ``vm.summary`` / ``vm.guest`` / ``vm.runtime`` is one
    round trip that fetches and parses the whole object. ``cached`` reads each of those
    objects once per VM and reuses it (five round trips per VM).
    """
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim

    si = SmartConnect(host=host, port=port, user=USER, pwd=PASSWORD, disableSslCertValidation=True)
    try:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(
            content.rootFolder, [vim.VirtualMachine], True
        )
        vms = list(view.view)[:subset]
        started = time.perf_counter()
        rows = [_naive_row(vm) if style == "naive" else _cached_row(vm) for vm in vms]
        elapsed = time.perf_counter() - started
        view.DestroyView()
    finally:
        Disconnect(si)
    return {"vms": len(rows), "seconds": elapsed, "peak_rss_mb": peak_rss_mb()}


def _maxmemctl(extra_config: list) -> str | None:
    return next((o.value for o in extra_config if o.key == "sched.mem.maxmemctl"), None)


def _naive_row(vm: object) -> tuple:
    return (
        vm.name,
        vm.config.template,
        vm.config.guestId,
        vm.config.hardware.memoryMB,
        vm.config.memoryAllocation.limit,
        vm.config.memoryAllocation.reservation,
        _maxmemctl(vm.config.extraConfig),
        vm.guest.toolsStatus,
        vm.guest.toolsRunningStatus,
        vm.runtime.powerState,
        vm.runtime.host,
        vm.summary.quickStats.balloonedMemory,
        vm.summary.quickStats.swappedMemory,
        vm.summary.quickStats.compressedMemory,
        vm.summary.quickStats.hostMemoryUsage,
    )


def _cached_row(vm: object) -> tuple:
    config, summary, guest, runtime = vm.config, vm.summary, vm.guest, vm.runtime
    qs = summary.quickStats
    return (
        vm.name,
        config.template,
        config.guestId,
        config.hardware.memoryMB,
        config.memoryAllocation.limit,
        config.memoryAllocation.reservation,
        _maxmemctl(config.extraConfig),
        guest.toolsStatus,
        guest.toolsRunningStatus,
        runtime.powerState,
        runtime.host,
        qs.balloonedMemory,
        qs.swappedMemory,
        qs.compressedMemory,
        qs.hostMemoryUsage,
    )


def measure_govc(host: str, port: int) -> dict:
    from balloon_audit.collect.properties import vm_paths
    from balloon_audit.lab.vcsim import find_tool

    govc = find_tool("govc")
    if govc is None:
        return {"error": "govc not found"}
    env = {
        **os.environ,
        "GOVC_URL": f"https://{host}:{port}/sdk",
        "GOVC_USERNAME": USER,
        "GOVC_PASSWORD": PASSWORD,
        "GOVC_INSECURE": "1",
    }
    cmd = [str(govc), "object.collect", "-json", "-type", "m", "/", *vm_paths()]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        return {"error": proc.stderr.decode(errors="replace")[:300]}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = proc.stdout.count(b'"kind": "enter"')  # one per VM
    return {
        "seconds": elapsed,
        "vms": lines,
        "output_mb": len(proc.stdout) / 1e6,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def child(kind: str, args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} measurement failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- driver -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--hosts-per-cluster", type=int, default=10)
    parser.add_argument("--vms", type=int, default=1000, help="vcsim -vm (VMs per cluster)")
    parser.add_argument("--loop-subset", type=int, default=300)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="PropertyCollector and govc runs")
    parser.add_argument(
        "--server", help="HOST:PORT of a vcsim already running (skips starting one)"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    opts = parser.parse_args()

    if opts.child:
        kind, *rest = opts.child
        if kind == "pc":
            result = measure_pc(rest[0], int(rest[1]), int(rest[2]))
        elif kind == "loop":
            result = measure_loop(rest[0], int(rest[1]), int(rest[2]), rest[3])
        else:
            result = measure_govc(rest[0], int(rest[1]))
        print(json.dumps(result))
        return

    from balloon_audit.lab.vcsim import start_vcsim, stop_vcsim

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    endpoint = None
    if opts.server:
        host, port = opts.server.rsplit(":", 1)
        print(f"using the vcsim at {opts.server}")
    else:
        flags = ["-standalone-host", "0", "-cluster", str(opts.clusters)]
        flags += ["-host", str(opts.hosts_per_cluster), "-vm", str(opts.vms)]
        started = time.perf_counter()
        endpoint = start_vcsim(flags, timeout_s=1800)
        print(f"vcsim {' '.join(flags)}: ready in {time.perf_counter() - started:.1f}s")
        host, port = endpoint.host, str(endpoint.port)
    try:
        child("pc", [host, port, "100"])  # warm-up
        pcs = [child("pc", [host, port, str(opts.page_size)]) for _ in range(opts.runs)]
        naive = child("loop", [host, port, str(opts.loop_subset), "naive"])
        cached = child("loop", [host, port, str(opts.loop_subset), "cached"])
        govcs = [child("govc", [host, port]) for _ in range(opts.runs)]
    finally:
        if endpoint is not None:
            stop_vcsim(endpoint.pid)
    report(pcs, naive, cached, govcs, opts.page_size)


def report(pcs: list[dict], naive: dict, cached: dict, govcs: list[dict], page_size: int) -> None:
    pc = min(pcs, key=lambda r: r["collect_s"])
    pc_rate = pc["vms"] / pc["collect_s"]
    runs = ", ".join(f"{r['collect_s']:.2f}" for r in pcs)
    print()
    print(
        f"PropertyCollector   {pc['vms']:,} VMs, {pc['hosts']:,} hosts in {pc['collect_s']:.2f}s"
        f" = {pc_rate:,.0f} VMs/s  (best of {len(pcs)}: {runs}s; page size {page_size})"
    )
    print(
        f"  + evaluate        {pc['evaluate_s']:.2f}s ({pc['findings']:,} findings);"
        f" end-to-end {pc['end_to_end_s']:.2f}s"
    )
    print(f"  peak RSS          {max(r['peak_rss_mb'] for r in pcs):.0f} MB  (target < 400 MB)")
    for name, loop in (("naive", naive), ("cached", cached)):
        rate = loop["vms"] / loop["seconds"]
        print(
            f"per-VM loop {name:6}  {loop['vms']} VMs in {loop['seconds']:.2f}s = {rate:,.0f} VMs/s"
            f" (~{pc['vms'] / rate:,.0f}s for {pc['vms']:,});"
            f" PC is {pc_rate / rate:,.1f}x faster (target >= 25x)"
        )
    ok = [g for g in govcs if "error" not in g]
    if not ok:
        print(f"govc                failed: {govcs[0].get('error')}")
        return
    gv = min(ok, key=lambda r: r["seconds"])
    runs = ", ".join(f"{g['seconds']:.2f}" for g in ok)
    print(
        f"govc object.collect {gv['vms']:,} VMs in {gv['seconds']:.2f}s"
        f" = {gv['vms'] / gv['seconds']:,.0f} VMs/s (best of {len(ok)}: {runs}s),"
        f" peak RSS {gv['peak_rss_mb']:.0f} MB"
    )
    print(f"  PC time / govc    {pc['collect_s'] / gv['seconds']:.2f}x  (target <= 2x)")


if __name__ == "__main__":
    main()
