"""Smoke test over every registered rule, on the recorded demo fleet (and a failed login).

The demo capture makes every VM and host rule fire; the rejected-login capture
makes BA902 fire, and the demo as a newer vCenter would send it makes BA903 fire.
Each rule must produce well-formed findings whose evidence keys it declares in
``RuleMeta.reads`` (so docs/rules.md can say what it reads), and must stay quiet on an
empty snapshot.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from balloon_audit import vsphere as vs
from balloon_audit.audit import replay_snapshot
from balloon_audit.engine import evaluate
from balloon_audit.model import AuditResult, Snapshot
from balloon_audit.rules.registry import Rule, all_rules
from tests.newer_server import newer_server_capture
from tests.paths import CASSETTES

RULES = all_rules()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    demo = replay_snapshot(CASSETTES / "demo.yaml", perf=True)
    failed = replay_snapshot(CASSETTES / "rejected-login.yaml", perf=True)
    newer = replay_snapshot(newer_server_capture(tmp_path_factory.mktemp("newer")), perf=True)
    newer_source = dataclasses.replace(newer.sources[0], server="vcenter-newer.invalid")
    snapshot = Snapshot(
        sources=demo.sources + failed.sources + (newer_source,),
        clusters=demo.clusters,
        hosts=demo.hosts,
        vms=demo.vms,
        resource_pools=demo.resource_pools,
    )
    return evaluate(snapshot)


def _declared_keys(key: str) -> str | None:
    """The table key an evidence key stands for (``sum(host.X)`` → ``X``), else None."""
    if key.startswith("sum(") and key.endswith(")"):
        key = key[4:-1].removeprefix("host.")
    return key if vs.prop_for_key(key) is not None else None


@pytest.mark.parametrize("rule", RULES, ids=[r.meta.id for r in RULES])
def test_rule_fires_on_the_recorded_fleet_with_declared_evidence(
    rule: Rule, recorded: AuditResult
) -> None:
    meta = rule.meta
    findings = [f for f in recorded.findings if f.rule == meta.id]
    assert findings, f"{meta.id} never fires on the demo capture"
    stat = next(s for s in recorded.rule_stats if s.rule == meta.id)
    assert stat.flagged == len(findings) <= max(stat.checked, 1)
    reads = {p.key for p in meta.reads}
    for finding in findings:
        assert finding.name == meta.name
        assert finding.severity.rank <= meta.severity.rank
        assert finding.message.strip() and finding.remediation.summary.strip()
        json.dumps(finding.evidence)  # evidence is plain JSON
        undeclared = {
            declared
            for key in finding.evidence
            if (declared := _declared_keys(key)) is not None and declared not in reads
        }
        assert not undeclared, f"{meta.id} shows {sorted(undeclared)} but reads= omits them"


@pytest.mark.parametrize("rule", RULES, ids=[r.meta.id for r in RULES])
def test_rule_is_quiet_on_an_empty_fleet(rule: Rule) -> None:
    outcome = rule.check(Snapshot(), dict(rule.meta.defaults))
    assert outcome.findings == () and outcome.checked == 0


@pytest.mark.parametrize("rule", RULES, ids=[r.meta.id for r in RULES])
def test_rule_declares_what_it_reads(rule: Rule) -> None:
    reads = rule.meta.reads
    assert len(reads) == len(set(reads)), f"{rule.meta.id} lists a property twice"
    if rule.meta.id not in ("BA902", "BA903"):  # read what collection says about a source
        assert reads, f"{rule.meta.id} has no reads=(...)"
    assert all(isinstance(p, vs.Prop) for p in reads)
