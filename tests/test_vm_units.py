"""`balloon-audit vm` without a server: name matching, the memory breakdown, the options."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from balloon_audit.cli import app
from balloon_audit.errors import ConfigError
from balloon_audit.model import ResourcePool
from balloon_audit.vmdiagnosis import FAMILY_ORDER
from balloon_audit.vmexplain import parse_since
from balloon_audit.vmmatch import Named, match, select, suggestions
from balloon_audit.vmmemory import balloon_cap, breakdown, effective_limit, pool_chain, segments
from tests.factories import make_host, make_vm
from tests.paths import CASSETTES

NAMES = ["web-01", "Web-02", "db-01", "finance%2fpayroll-01", "<script>x</script>"]
VMS = [Named(name, f"vm-{i}") for i, name in enumerate(NAMES)]


def _names(found: list[Named[str]]) -> list[str]:
    return [n.name for n in found]


def test_exact_name_is_case_sensitive_first_then_not() -> None:
    assert _names(match("web-01", VMS)) == ["web-01"]
    assert _names(match("WEB-01", VMS)) == ["web-01"]
    assert _names(match("finance/payroll-01", VMS)) == ["finance%2fpayroll-01"]


def test_glob_is_case_insensitive() -> None:
    assert _names(match("web-*", VMS)) == ["Web-02", "web-01"]
    assert _names(match("<script>*", VMS)) == ["<script>x</script>"]
    assert _names(match("finance/*", VMS)) == ["finance%2fpayroll-01"]


def test_no_match_suggests_close_names() -> None:
    assert suggestions("web-0", NAMES)[:2] == ["Web-02", "web-01"]
    assert "db-01" in suggestions("bd-01", NAMES)
    with pytest.raises(ConfigError) as caught:
        select("dbb-01", VMS, where="vc01")
    assert caught.value.exit_code == 2
    assert "did you mean: 'db-01'" in (caught.value.hint or "")


def test_too_many_matches_lists_them() -> None:
    many = [Named(f"vm-{i:03}", i) for i in range(30)]
    with pytest.raises(ConfigError) as caught:
        select("vm-*", many, where="vc01", limit=10)
    text = str(caught.value)
    assert "matches 30 VMs" in text and "'vm-000'" in text and "and 10 more" in text


def _pool(moid: str, name: str, parent: str | None, limit: int | None) -> ResourcePool:
    return ResourcePool(moid, name, "vc", "DC", "C", parent, memory_limit_mb=limit)


def test_effective_limit_is_the_tightest_of_the_vm_and_its_pools() -> None:
    pools = [_pool("rp-1", "outer", None, 4096), _pool("rp-2", "inner", "rp-1", None)]
    vm = make_vm(memory_mb=8192, memory_limit_mb=6144, resource_pool_moid="rp-2", server="vc")
    chain = pool_chain(vm, pools)
    assert [p.name for p in chain] == ["inner", "outer"]
    assert effective_limit(vm, chain) == (4096, 'resource pool "outer" (shared by its VMs)')
    vm2 = make_vm(memory_mb=8192, memory_limit_mb=2048, resource_pool_moid="rp-2", server="vc")
    assert effective_limit(vm2, pool_chain(vm2, pools)) == (2048, "the VM's own limit")


@pytest.mark.parametrize(
    ("ctl", "maxmemctl", "reservation", "cap", "reason"),
    [
        (None, None, 0, 4096 * 0.65, "ESXi's default: not read"),
        (0, None, 0, 0, "ballooning is off on this host"),
        (65, "0", 0, 0, "balloon driver is disabled for this VM"),
        (65, "1024", 0, 1024, "sched.mem.maxmemctl = 1024 MB"),
        (65, None, 3840, 256, "reserved memory cannot be ballooned"),
        (30, None, 0, 4096 * 0.3, "Mem.CtlMaxPercent = 30 %"),
    ],
)
def test_balloon_cap_and_what_sets_it(ctl, maxmemctl, reservation, cap, reason) -> None:
    vm = make_vm(memory_mb=4096, maxmemctl=maxmemctl, memory_reservation_mb=reservation)
    got = balloon_cap(vm, make_host(ctl_max_pct=ctl))
    assert got.mb == pytest.approx(cap)
    assert reason in got.set_by


def test_powered_off_vm_has_no_runtime_figures() -> None:
    vm = make_vm(power_state="poweredOff", memory_mb=2048, ballooned_mb=None)
    b = breakdown(vm, make_host(), [])
    assert b.value("ballooned") is None and b.value("configured") == 2048
    assert [s.key for s in b.segments] == ["untouched"]


def test_segments_never_exceed_configured_memory() -> None:
    vm = make_vm(memory_mb=4096, ballooned_mb=2150, host_memory_usage_mb=3276)
    parts = segments(vm)
    assert sum(s.mb for s in parts) == 4096
    assert parts[0].key == "ballooned" and parts[0].mb == 2150


def test_every_breakdown_line_names_its_source() -> None:
    b = breakdown(make_vm(memory_mb=4096), make_host(), [])
    assert all(line.path for line in b.lines)
    assert {"configured", "balloon_cap", "ssd_swapped", "overhead", "host_state"} <= {
        line.key for line in b.lines
    }


def test_action_order_puts_limits_before_tools_before_host_pressure() -> None:
    assert FAMILY_ORDER.index("4") < FAMILY_ORDER.index("1") < FAMILY_ORDER.index("5")


@pytest.mark.parametrize("text", ["0m", "2h", "61m", "abc", "-5m", "10s", ""])
def test_since_outside_the_realtime_hour_is_refused(text) -> None:
    with pytest.raises(ValueError):
        parse_since(text)


def test_since_accepts_minutes_hours_seconds() -> None:
    assert parse_since("30m").total_seconds() == 1800
    assert parse_since("1h").total_seconds() == 3600
    assert parse_since("45").total_seconds() == 2700
    assert parse_since("300s").total_seconds() == 300


runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["vm", "x", "--since", "2h"], "outside 20s..1h"),
        (["vm", "x", "--replay", str(CASSETTES / "demo.yaml"), "--watch"], "--watch"),
        (["vm", "x", "--replay", str(CASSETTES / "demo.yaml"), "-s", "vc01"], "--server"),
        (["vm", "x", "-s", "a", "-s", "b", "-u", "u"], "one --server"),
        (["vm"], "NAME_OR_GLOB"),
    ],
)
def test_usage_errors_exit_2(args, message, monkeypatch) -> None:
    monkeypatch.setenv("BALLOON_AUDIT_PASSWORD", "x")
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_replay_no_match_exits_2_with_suggestions() -> None:
    result = runner.invoke(app, ["vm", "balloon-crit-1", "--replay", str(CASSETTES / "demo.yaml")])
    assert result.exit_code == 2
    assert "balloon-crit-01" in result.output


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["vm", "--help"])
    assert result.exit_code == 0
    for option in ("--since", "--watch", "--json", "--replay", "--no-perf", "--server"):
        assert option in result.output


def test_live_samples_feed_the_rules_in_the_models_units() -> None:
    """The host's newest mem.state replaces the estimate; swap rates arrive in KB/s."""
    from datetime import datetime, timedelta, timezone

    from balloon_audit.collect.vmcontext import VmCollection
    from balloon_audit.counters import (
        HOST_ENTITY,
        MEM_STATE,
        SWAPIN_RATE,
        SWAPOUT_RATE,
        VM_ENTITY,
        LiveCounters,
        Series,
    )
    from balloon_audit.model import Snapshot
    from balloon_audit.vmexplain import _with_live_values

    now = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    times = (now - timedelta(seconds=20), now)

    def series(counter: str, entity: str, unit: str, values: tuple) -> Series:
        return Series(counter, entity, counter, unit, 20, times, values)

    live = LiveCounters(
        (
            series(MEM_STATE, HOST_ENTITY, "state", (0.0, 3.0)),
            series(SWAPIN_RATE, VM_ENTITY, "MB/s", (0.0, 0.5)),
            series(SWAPOUT_RATE, VM_ENTITY, "MB/s", (2.0, None)),
        ),
        since=times[0],
        until=now,
    )
    vm, host = make_vm(moid="vm-1", host_moid="host-1"), make_host(moid="host-1")
    collection = VmCollection(Snapshot(hosts=(host,), vms=(vm,)), targets=("vm-1",))
    changed = _with_live_values(collection, {"vm-1": live}).snapshot
    assert changed.hosts[0].mem_state == 3
    assert changed.vms[0].swapin_rate_kbps == 512.0
    assert changed.vms[0].swapout_rate_kbps == 2048.0  # the newest sample that is not a gap


def test_committed_vm_schema_matches_the_model() -> None:
    import json

    from balloon_audit.report.vm_model import json_schema
    from tests.paths import ROOT
    from tests.report.test_result_schema import _structure

    committed = json.loads((ROOT / "docs" / "vm.schema.json").read_text(encoding="utf-8"))
    assert _structure(committed) == _structure(json_schema()), (
        "docs/vm.schema.json is out of date: run python scripts/gen_schemas.py"
    )


def test_replayed_vm_json_follows_the_schema(tmp_path) -> None:
    from balloon_audit.report.vm_model import VmDocument

    out = tmp_path / "vm.json"
    result = runner.invoke(
        app, ["vm", "qa-app-01", "--replay", str(CASSETTES / "demo.yaml"), "--json", str(out)]
    )
    assert result.exit_code == 1, result.output
    document = VmDocument.model_validate_json(out.read_text(encoding="utf-8"))
    assert document.vms[0].vm.name == "qa-app-01" and document.vms[0].findings
