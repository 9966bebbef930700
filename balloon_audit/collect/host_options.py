"""Host advanced options that shape reclamation: Mem.CtlMaxPercent and Mem.MemMinFreePct.

Read in one PropertyCollector pass over all hosts with keyed paths
(``config.option["Mem.CtlMaxPercent"]``), so the server sends one OptionValue per
host instead of its ~1,000 advanced options. A server that refuses keyed paths
gets ``OptionManager.QueryOptions`` per host instead, a few in parallel and with
a deadline. Best effort either way: a failure leaves the values unknown (the
rules then assume ESXi's defaults and say so) and never fails the audit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from pyVmomi import vim, vmodl

from balloon_audit import vsphere as vs
from balloon_audit.collect.deadline import DeadlineExceeded
from balloon_audit.collect.retrieve import container_view, filter_spec, retrieve_pages
from balloon_audit.model import Host

FIELDS = {vs.CTL_MAX_PCT_KEY: vs.HOST_CTL_MAX, vs.MIN_FREE_PCT_KEY: vs.HOST_MIN_FREE}
"""Advanced option key -> its declared property (model field, keyed path, parser)."""
FALLBACK_WORKERS = 8
FALLBACK_DEADLINE_S = 30.0
PAGE_SIZE = 1000


def add_host_options(
    content: Any,
    hosts: Sequence[Host],
    refs: Mapping[str, Any],
    *,
    label: str,
    progress: Callable[[str], None],
) -> list[Host]:
    """``hosts`` with ``ctl_max_pct`` / ``min_free_pct`` filled where the server reports them."""
    connected = [h for h in hosts if h.connected and h.moid in refs]
    if not connected:
        return list(hosts)
    try:
        values = _keyed_pass(content)
    except vmodl.query.InvalidProperty:
        progress(f"{label}: keyed host option paths refused; asking each host (in parallel)")
        values = _query_each(refs, [h.moid for h in connected], label, progress)
    except Exception as exc:  # noqa: BLE001 - optional data; the audit goes on
        if isinstance(exc, DeadlineExceeded) and exc.kind != "request":
            raise  # the vCenter's time is up, or the run was stopped
        progress(f"{label}: could not read host advanced options ({type(exc).__name__})")
        return list(hosts)
    return [_with_options(h, values.get(h.moid)) if h.connected else h for h in hosts]


def _with_options(host: Host, options: Mapping[str, Any] | None) -> Host:
    """A host whose options were read; an option the host did not report is left ``None``."""
    if not options:
        return host
    changes = {str(FIELDS[key].field): FIELDS[key].parse(value) for key, value in options.items()}
    return dataclasses.replace(host, **changes)


def _keyed_pass(content: Any) -> dict[str, dict[str, Any]]:
    paths = {prop.path: key for key, prop in FIELDS.items()}
    out: dict[str, dict[str, Any]] = {}
    with container_view(content, [vim.HostSystem]) as view:
        spec = filter_spec(view, [(vim.HostSystem, list(paths))])
        for page in retrieve_pages(content, spec, PAGE_SIZE):
            for ref, props in page:
                found = {
                    paths[p]: getattr(v, "value", None)
                    for p, v in props.items()
                    if p in paths and v is not None
                }
                out[ref._moId] = found
    return out


def _query_each(
    refs: Mapping[str, Any], moids: Sequence[str], label: str, progress: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    """QueryOptions per host, in parallel; hosts that fail or are late stay unknown."""

    def one(moid: str) -> dict[str, Any]:
        manager = refs[moid].configManager.advancedOption
        found: dict[str, Any] = {}
        for key in FIELDS:
            try:
                for option in manager.QueryOptions(name=key) or ():
                    if option.key == key:
                        found[key] = option.value
            except vim.fault.InvalidName:
                continue  # the host does not know the option: it keeps its default
        return found

    pool = ThreadPoolExecutor(max_workers=FALLBACK_WORKERS, thread_name_prefix="hostopt")
    futures = {pool.submit(one, moid): moid for moid in moids}
    done, late = wait(futures, timeout=FALLBACK_DEADLINE_S)
    pool.shutdown(wait=False, cancel_futures=True)
    out: dict[str, dict[str, Any]] = {}
    failed = len(late)
    for future in done:
        try:
            out[futures[future]] = future.result()
        except Exception:  # noqa: BLE001 - one host's failure leaves only that host unknown
            failed += 1
    if failed:
        progress(f"{label}: host advanced options unknown for {failed:,} of {len(moids):,} hosts")
    return out
