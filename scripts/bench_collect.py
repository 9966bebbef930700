#!/usr/bin/env python3
"""Collection benchmark: PropertyCollector paging vs. the per-VM attribute loop vs. govc.

Starts vcsim with about 10,000 VMs on 100 hosts, then measures, each in its own
subprocess so peak memory figures do not mix:

  pc      collect_source(perf=False), then engine.evaluate: time, VMs/s, peak RSS
  loop    the attribute loop most pyVmomi scripts use, on a subset, scaled to VMs/s
  govc    `govc object.collect -json -type m / <same paths>` as the Go reference

Usage:  .venv/bin/python scripts/bench_collect.py [--vms-per-host-group 1000] [--loop-subset 300]
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


def measure_loop(host: str, port: int, subset: int) -> dict:
    """The usual script: a ContainerView, then attribute access per VM.

    Each top-level object is read once per VM and reused (vm.config, vm.summary,
    vm.guest, vm.runtime), which is already kinder than most scripts: every attribute
    access on a managed object is one round trip that fetches the whole object.
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
        rows = []
        for vm in vms:
            config, summary, guest, runtime = vm.config, vm.summary, vm.guest, vm.runtime
            qs = summary.quickStats
            maxmemctl = next(
                (o.value for o in config.extraConfig if o.key == "sched.mem.maxmemctl"), None
            )
            rows.append(
                (
                    vm.name,
                    config.template,
                    config.hardware.memoryMB,
                    config.memoryAllocation.limit,
                    maxmemctl,
                    guest.toolsStatus,
                    guest.toolsRunningStatus,
                    runtime.powerState,
                    runtime.host,
                    qs.balloonedMemory,
                    qs.swappedMemory,
                    qs.compressedMemory,
                    qs.hostMemoryUsage,
                )
            )
        elapsed = time.perf_counter() - started
        view.DestroyView()
    finally:
        Disconnect(si)
    return {"vms": len(rows), "seconds": elapsed, "peak_rss_mb": peak_rss_mb()}


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
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    opts = parser.parse_args()

    if opts.child:
        kind, *rest = opts.child
        if kind == "pc":
            result = measure_pc(rest[0], int(rest[1]), int(rest[2]))
        elif kind == "loop":
            result = measure_loop(rest[0], int(rest[1]), int(rest[2]))
        else:
            result = measure_govc(rest[0], int(rest[1]))
        print(json.dumps(result))
        return

    from balloon_audit.lab.vcsim import start_vcsim, stop_vcsim

    flags = ["-standalone-host", "0", "-cluster", str(opts.clusters)]
    flags += ["-host", str(opts.hosts_per_cluster), "-vm", str(opts.vms)]
    print(f"vcsim {' '.join(flags)}  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    started = time.perf_counter()
    endpoint = start_vcsim(flags, timeout_s=900)
    startup = time.perf_counter() - started
    print(f"vcsim ready in {startup:.1f}s")
    try:
        host, port = endpoint.host, str(endpoint.port)
        child("pc", [host, port, "100"])  # warm-up: vcsim's first pass is slower
        pc = child("pc", [host, port, str(opts.page_size)])
        loop = child("loop", [host, port, str(opts.loop_subset)])
        govc = child("govc", [host, port])
    finally:
        stop_vcsim(endpoint.pid)

    pc_rate = pc["vms"] / pc["collect_s"]
    loop_rate = loop["vms"] / loop["seconds"]
    print()
    print(
        f"PropertyCollector  {pc['vms']:,} VMs, {pc['hosts']:,} hosts in {pc['collect_s']:.2f}s"
        f"  = {pc_rate:,.0f} VMs/s  (page size {opts.page_size})"
    )
    print(
        f"  + evaluate       {pc['evaluate_s']:.2f}s ({pc['findings']:,} findings)"
        f"  end-to-end {pc['end_to_end_s']:.2f}s"
    )
    print(f"  peak RSS         {pc['peak_rss_mb']:.0f} MB   (target < 400 MB)")
    print(
        f"per-VM loop        {loop['vms']} VMs in {loop['seconds']:.2f}s = {loop_rate:,.0f} VMs/s"
        f"  -> {pc['vms'] / loop_rate:,.0f}s for {pc['vms']:,} VMs"
    )
    print(f"  PC / loop        {pc_rate / loop_rate:,.1f}x   (target >= 25x)")
    if "error" in govc:
        print(f"govc               failed: {govc['error']}")
    else:
        print(
            f"govc object.collect {govc['vms']:,} VMs in {govc['seconds']:.2f}s"
            f"  = {govc['vms'] / govc['seconds']:,.0f} VMs/s, peak RSS {govc['peak_rss_mb']:.0f} MB"
        )
        print(f"  PC / govc time   {pc['collect_s'] / govc['seconds']:.2f}x   (target <= 2x)")


if __name__ == "__main__":
    main()
