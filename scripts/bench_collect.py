#!/usr/bin/env python3
"""Collection benchmark: offline replay at 1k-100k VMs, and live against vcsim and govc.

Every measurement runs in its own subprocess, so peak memory figures do not mix.

replay (needs nothing but this checkout)
  Synthetic captures made by scripts/make_synthetic_capture.py (1,000 to 100,000 VMs in
  one source, and 10 sources of 10,000) are replayed through ``collect_all`` and
  ``engine.evaluate``, with the streaming page parser and with pyVmomi's deserialiser
  (``BALLOON_AUDIT_PARSER=pyvmomi``). Reading the capture file is timed apart: it is the
  replay's own cost, not the collector's. Figures: seconds, VMs/s, peak RSS.

live (needs vcsim and govc; --server reuses a vcsim that is already running)
  pc      collect_source(perf=False) + evaluate, with both parsers
  scan    the `balloon-audit scan -q --json FILE` process, start to exit, with
          --no-history and with the run recorded in a history database (the default)
  govc    `govc object.collect -json -type m / <same paths>`, the Go reference
  loop    the per-VM attribute loop most pyVmomi scripts use (naive and cached), on a
          subset, scaled to VMs/s
  start   `balloon-audit --version`, and the imports a scan needs before it connects

Usage:
  .venv/bin/python scripts/bench_collect.py replay [--sizes 1000,10000,100000]
  .venv/bin/python scripts/bench_collect.py live --server 127.0.0.1:PORT
  .venv/bin/python scripts/bench_collect.py live      # starts vcsim: 7-10 min for 10,000 VMs
vcsim with 10,000 VMs: vcsim -standalone-host 0 -cluster 10 -host 10 -vm 1000.
Prints figures; it is not a test and is not run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

USER, PASSWORD = "bench", "bench-password"  # vcsim accepts any login
PARSERS = ("stream", "pyvmomi")
CACHE = Path(tempfile.gettempdir()) / "balloon-audit-bench"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


# --- measurements (each runs in a child process) ---------------------------------------------


def measure_replay(path: str) -> dict:
    import balloon_audit.collect.fleet  # noqa: F401 - imports are not what is measured
    import balloon_audit.collect.pagecall  # noqa: F401
    from balloon_audit.audit import replay_snapshot
    from balloon_audit.engine import evaluate

    started, cpu_started = time.perf_counter(), time.process_time()
    snapshot = replay_snapshot(Path(path), perf=False)
    collected, cpu_collected = time.perf_counter(), time.process_time()
    result = evaluate(snapshot)
    finished, cpu_finished = time.perf_counter(), time.process_time()
    return {
        "vms": len(snapshot.vms),
        "sources": len(snapshot.sources),
        "failed": sum(1 for s in snapshot.sources if not s.ok),
        "findings": len(result.findings),
        "replay_s": collected - started,
        "evaluate_s": finished - collected,
        "replay_cpu_s": cpu_collected - cpu_started,
        "evaluate_cpu_s": cpu_finished - cpu_collected,
        "peak_rss_mb": peak_rss_mb(),
    }


def measure_load(path: str) -> dict:
    """Reading the capture file alone (YAML), to subtract from the replay."""
    from balloon_audit.collect.capture.fileformat import read_capture

    started, cpu_started = time.perf_counter(), time.process_time()
    read_capture(Path(path))
    return {
        "load_s": time.perf_counter() - started,
        "load_cpu_s": time.process_time() - cpu_started,
        "peak_rss_mb": peak_rss_mb(),
    }


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


def _govc_env(host: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "GOVC_URL": f"https://{host}:{port}/sdk",
        "GOVC_USERNAME": USER,
        "GOVC_PASSWORD": PASSWORD,
        "GOVC_INSECURE": "1",
    }


def measure_govc(host: str, port: int) -> dict:
    from balloon_audit.collect.properties import vm_paths
    from balloon_audit.lab.vcsim import find_tool

    govc = find_tool("govc")
    if govc is None:
        return {"error": "govc not found"}
    cmd = [str(govc), "object.collect", "-json", "-type", "m", "/", *vm_paths()]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=_govc_env(host, port), capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        return {"error": proc.stderr.decode(errors="replace")[:300]}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": elapsed,
        "vms": proc.stdout.count(b'"kind": "enter"'),  # one per VM
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def measure_scan(host: str, port: int, parser: str, history: str) -> dict:
    """The CLI as a user runs it: process start to exit, JSON result written.

    ``history``: ``on`` records the run in a history database (the default since issue
    12) kept in the benchmark's own state directory, so that each run after the first
    is compared with the one before, as a nightly run is; ``off`` is ``--no-history``.
    """
    out = Path(tempfile.mkdtemp(prefix="bench-scan-")) / "result.json"
    env = {**os.environ, "BALLOON_AUDIT_PASSWORD": PASSWORD, "BALLOON_AUDIT_PARSER": parser}
    env["XDG_STATE_HOME"] = str(CACHE / "state")  # never the user's own history
    cmd = [
        str(ROOT / ".venv" / "bin" / "balloon-audit"),
        "scan",
        "--server",
        f"{host}:{port}",
        "--user",
        USER,
        "--insecure",
        "--quiet",
        "--fail-on",
        "never",
        "--json",
        str(out),
        *(["--no-history"] if history == "off" else []),
    ]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        return {"error": proc.stderr.decode(errors="replace")[:300]}
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    vms = sum(s.get("vm_count", 0) for s in json.loads(out.read_text())["sources"])
    return {
        "seconds": elapsed,
        "vms": vms,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def measure_start() -> dict:
    """``balloon-audit --version`` and the imports a scan makes before it connects."""
    exe = str(ROOT / ".venv" / "bin" / "balloon-audit")

    def best(cmd: list[str]) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        return min(times)

    scan_imports = (  # what `scan` imports before it connects, and to print and save
        "import balloon_audit.cli, balloon_audit.config_file, balloon_audit.collect, "
        "balloon_audit.collect.pageparser, balloon_audit.engine, "
        "balloon_audit.report.json_result, balloon_audit.report.console"
    )
    bare = best([sys.executable, "-c", "pass"])
    return {
        "version_s": best([exe, "--version"]),
        "python_s": bare,
        "scan_imports_s": best([sys.executable, "-c", scan_imports]) - bare,
    }


def child(kind: str, args: list[str], env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} measurement failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


CHILDREN = {
    "replay": lambda a: measure_replay(a[0]),
    "load": lambda a: measure_load(a[0]),
    "pc": lambda a: measure_pc(a[0], int(a[1]), int(a[2])),
    "loop": lambda a: measure_loop(a[0], int(a[1]), int(a[2]), a[3]),
    "govc": lambda a: measure_govc(a[0], int(a[1])),
    "scan": lambda a: measure_scan(a[0], int(a[1]), a[2], a[3]),
    "start": lambda a: measure_start(),
}


# --- replay -------------------------------------------------------------------------------------


def synthetic_capture(vms: int, sources: int) -> Path:
    """A synthetic capture, made once and kept in the temp directory (not in the checkout)."""
    path = CACHE / f"synthetic-{sources}x{vms}.yaml.gz"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "make_synthetic_capture.py"),
                "--vms",
                str(vms),
                "--sources",
                str(sources),
                "--out",
                str(path),
            ],
            check=True,
        )
    return path


def run_replay(sizes: list[int], runs: int, fleets: int) -> None:
    cases = [(n, 1) for n in sizes if n] + ([(10_000, fleets)] if fleets else [])
    print(
        f"{'capture':>22} {'parser':>8} {'load':>7} {'collect':>8} {'evaluate':>9}"
        f" {'VMs/s':>8} {'VMs/CPU-s':>10} {'peak RSS':>9} {'findings':>9}"
    )
    for vms, sources in cases:
        path = synthetic_capture(vms, sources)
        loads = [child("load", [str(path)]) for _ in range(runs)]
        load = min(r["load_s"] for r in loads)
        load_cpu = min(r["load_cpu_s"] for r in loads)
        for parser in PARSERS:
            if parser == "pyvmomi" and vms * sources > 10_000:
                continue  # minutes per run, and the ratio is known from 10,000
            results = [
                child("replay", [str(path)], {"BALLOON_AUDIT_PARSER": parser}) for _ in range(runs)
            ]
            best = min(results, key=lambda r: r["replay_s"] + r["evaluate_s"])
            collect = best["replay_s"] - load
            total = collect + best["evaluate_s"]
            cpu = min(r["replay_cpu_s"] + r["evaluate_cpu_s"] for r in results) - load_cpu
            label = f"{sources} x {vms:,} VMs" if sources > 1 else f"{vms:,} VMs"
            print(
                f"{label:>22} {parser:>8} {load:6.2f}s {collect:7.2f}s {best['evaluate_s']:8.2f}s"
                f" {best['vms'] / total:8,.0f} {best['vms'] / cpu:10,.0f}"
                f" {max(r['peak_rss_mb'] for r in results):7.0f}MB {best['findings']:9,}"
            )
    print(
        "collect = replay - load (reading the capture file); VMs/s = VMs / (collect + evaluate);"
        "\nVMs/CPU-s = the same per second of this process's CPU time (less sensitive to a"
        " busy machine)"
    )


# --- live ---------------------------------------------------------------------------------------


def run_live(opts: argparse.Namespace) -> None:
    from balloon_audit.lab.vcsim import start_vcsim, stop_vcsim

    endpoint = None
    if opts.server:
        host, port = opts.server.rsplit(":", 1)
        print(f"using the vcsim at {opts.server}")
    else:
        flags = ["-standalone-host", "0", "-cluster", str(opts.clusters)]
        flags += ["-host", str(opts.hosts_per_cluster), "-vm", str(opts.vms)]
        started = time.perf_counter()
        endpoint = start_vcsim(flags, timeout_s=3600)
        print(f"vcsim {' '.join(flags)}: ready in {time.perf_counter() - started:.1f}s")
        host, port = endpoint.host, str(endpoint.port)
    try:
        child("pc", [host, port, "100"])  # warm-up: vcsim caches nothing, but the OS does
        pcs = {
            parser: [
                child("pc", [host, port, str(opts.page_size)], {"BALLOON_AUDIT_PARSER": parser})
                for _ in range(opts.runs)
            ]
            for parser in PARSERS
        }
        scans: dict[str, list[dict]] = {"off": [], "on": []}
        govcs = []
        for _ in range(opts.runs):  # interleaved: a busy machine hurts all alike
            for history in scans:
                scans[history].append(child("scan", [host, port, "stream", history]))
            govcs.append(child("govc", [host, port]))
        naive = child("loop", [host, port, str(opts.loop_subset), "naive"])
        cached = child("loop", [host, port, str(opts.loop_subset), "cached"])
        start = child("start", [])
    finally:
        if endpoint is not None:
            stop_vcsim(endpoint.pid)
    report_live(pcs, scans, govcs, naive, cached, start)


def _best(results: list[dict], key: str) -> dict:
    ok = [r for r in results if "error" not in r]
    if not ok:
        raise SystemExit(f"failed: {results[0].get('error')}")
    return min(ok, key=lambda r: r[key])


def report_live(
    pcs: dict[str, list[dict]],
    scans: dict[str, list[dict]],
    govcs: list[dict],
    naive: dict,
    cached: dict,
    start: dict,
) -> None:
    print()
    for parser, results in pcs.items():
        pc = _best(results, "collect_s")
        runs = ", ".join(f"{r['collect_s']:.2f}" for r in results)
        print(
            f"collect_source [{parser:7}] {pc['vms']:,} VMs, {pc['hosts']:,} hosts in"
            f" {pc['collect_s']:.2f}s = {pc['vms'] / pc['collect_s']:,.0f} VMs/s"
            f" (runs {runs}s), evaluate {pc['evaluate_s']:.2f}s, peak RSS"
            f" {max(r['peak_rss_mb'] for r in results):.0f} MB"
        )
    pc = _best(pcs["stream"], "collect_s")
    gv = _best(govcs, "seconds")
    runs = ", ".join(f"{r['seconds']:.2f}" for r in govcs)
    print(
        f"govc object.collect    {gv['vms']:,} VMs in {gv['seconds']:.2f}s (runs {runs}s),"
        f" peak RSS {gv['peak_rss_mb']:.0f} MB, CPU {gv['cpu_s']:.2f}s"
    )
    for history, label in (("off", "--no-history"), ("on", "history on")):
        scan = _best(scans[history], "seconds")
        runs = ", ".join(f"{r['seconds']:.2f}" for r in scans[history])
        print(
            f"balloon-audit scan     {label}: {scan['vms']:,} VMs, process start to exit"
            f" {scan['seconds']:.2f}s (runs {runs}s), peak RSS {scan['peak_rss_mb']:.0f} MB,"
            f" CPU {scan['cpu_s']:.2f}s"
        )
        pairs = ", ".join(
            f"{s['seconds'] / g['seconds']:.2f}"
            for s, g in zip(scans[history], govcs, strict=True)
            if "error" not in s and "error" not in g
        )
        print(
            f"  scan / govc          {scan['seconds'] / gv['seconds']:.2f}x best of each"
            f" (per run: {pairs}; target <= 0.8x)"
        )
    print(f"  collect_source / govc {pc['collect_s'] / gv['seconds']:.2f}x")
    for name, loop in (("naive", naive), ("cached", cached)):
        rate = loop["vms"] / loop["seconds"]
        print(
            f"per-VM loop {name:6}     {loop['vms']} VMs in {loop['seconds']:.2f}s = {rate:,.0f}"
            f" VMs/s; collect_source is {pc['vms'] / pc['collect_s'] / rate:,.0f}x faster"
            " (target >= 50x)"
        )
    print(
        f"start-up               balloon-audit --version {start['version_s']:.2f}s;"
        f" imports before a scan connects {start['scan_imports_s']:.2f}s"
        f" (python itself {start['python_s']:.2f}s)"
    )


# --- driver -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=("replay", "live"), default="replay")
    parser.add_argument("--sizes", default="1000,10000,100000", help="replay: VMs per capture")
    parser.add_argument(
        "--fleet", type=int, default=10, help="replay: also N vCenters of 10,000 VMs (0: no)"
    )
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--hosts-per-cluster", type=int, default=10)
    parser.add_argument("--vms", type=int, default=1000, help="vcsim -vm (VMs per cluster)")
    parser.add_argument("--loop-subset", type=int, default=300)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", help="live: HOST:PORT of a vcsim already running")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    opts = parser.parse_args()

    if opts.child:
        kind, *rest = opts.child
        print(json.dumps(CHILDREN[kind](rest)))
        return
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.1f} at start"
    )
    if opts.mode == "replay":
        run_replay([int(n) for n in opts.sizes.split(",")], opts.runs, opts.fleet)
    else:
        run_live(opts)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
