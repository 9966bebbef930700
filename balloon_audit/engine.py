"""Run the rules over a snapshot and assemble the AuditResult."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from balloon_audit import __version__
from balloon_audit.config import Config
from balloon_audit.gcpause import cycle_collection_paused
from balloon_audit.model import AuditResult, Finding, RuleDoc, RuleStat, Snapshot
from balloon_audit.rules.registry import RuleMeta, all_rules
from balloon_audit.waivers import apply_waivers


def finding_sort_key(finding: Finding) -> tuple:
    """Worst first, then by rule, vCenter and entity name, so two runs diff well."""
    e = finding.entity
    return (-finding.severity.rank, finding.rule, e.server, e.name, e.moid or "")


def rule_doc(meta: RuleMeta) -> RuleDoc:
    """How the reports describe a rule (the result carries it, see RuleDoc)."""
    return RuleDoc(
        id=meta.id,
        name=meta.name,
        severity=meta.severity,
        checks=meta.checks,
        scope=meta.scope,
        rationale=meta.rationale,
        remediation=meta.remediation,
        references=tuple(meta.references),
        reads=tuple(f'{prop.describe()} → "{prop.label}"' for prop in meta.reads),
    )


def evaluate(
    snapshot: Snapshot,
    config: Config | None = None,
    *,
    generated_at: datetime | None = None,
    run_by: dict[str, str] | None = None,
) -> AuditResult:
    """Evaluate every enabled rule. Pure: no network, no printing."""
    with cycle_collection_paused():
        return _evaluate(snapshot, config or Config(), generated_at, run_by)


def _evaluate(
    snapshot: Snapshot,
    config: Config,
    generated_at: datetime | None,
    run_by: dict[str, str] | None,
) -> AuditResult:
    findings: list[Finding] = []
    stats: list[RuleStat] = []
    thresholds: dict[str, dict] = {}
    docs: list[RuleDoc] = []
    for rule in all_rules():
        if rule.meta.id in config.disabled:
            continue
        docs.append(rule_doc(rule.meta))
        params = config.params_for(rule.meta.id, rule.meta.defaults)
        thresholds[rule.meta.id] = params
        outcome = rule.check(snapshot, params)
        override = config.severity_overrides.get(rule.meta.id)
        rule_findings = [
            dataclasses.replace(f, severity=override) if override else f for f in outcome.findings
        ]
        findings.extend(rule_findings)
        stats.append(RuleStat(rule.meta.id, rule.meta.name, outcome.checked, len(rule_findings)))

    findings.sort(key=finding_sort_key)
    generated_at = generated_at or datetime.now(timezone.utc)
    # Waived findings are kept apart, never dropped; a waiver is valid through its
    # expiry day, judged by the run's own (UTC) date.
    utc = generated_at.astimezone(timezone.utc) if generated_at.tzinfo else generated_at
    kept, waived, waiver_problems = apply_waivers(findings, config.waivers, utc.date())
    return AuditResult(
        generated_at=generated_at,
        tool_version=__version__,
        snapshot=snapshot,
        findings=tuple(kept),
        rule_stats=tuple(stats),
        thresholds=thresholds,
        waived=tuple(waived),
        waiver_problems=tuple(waiver_problems),
        run_by=dict(run_by or {}),
        rules=tuple(sorted(docs, key=lambda d: d.id)),
    )
