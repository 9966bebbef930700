"""Rule thresholds written as TOML: what ``balloon-audit rules`` shows and ``--toml`` prints.

``rules --toml`` prints a complete, commented configuration file with every rule and
the value in force for each parameter; ``--config`` accepts it as is, so it is the
starting point for tuning (and a record of what a run used).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from balloon_audit.model import Severity

if TYPE_CHECKING:  # the report command lists formats without loading the rule registry
    from balloon_audit.config import Config
    from balloon_audit.config_file import RuleSettings


def toml_value(value: Any) -> str:
    """``value`` as a TOML literal: ``true``, ``10``, ``1.5``, ``"text"``, ``["k8s", "kube"]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, Iterable):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def thresholds_text(params: Mapping[str, Any], overridden: Iterable[str] = ()) -> str:
    """``warning_pct = 10, critical_pct = 50*``: ``*`` marks values from the configuration."""
    changed = set(overridden)
    return ", ".join(
        f"{k} = {toml_value(v)}{'*' if k in changed else ''}" for k, v in params.items()
    )


def config_toml(
    settings: Iterable[RuleSettings],
    describe: Mapping[str, str],
    own_severity: Mapping[str, Severity],
) -> str:
    """A complete configuration file: every rule, its severity, state and parameters.

    ``describe`` maps rule IDs to one line on what the rule checks (a comment);
    ``own_severity`` to the rule's own severity (a different one is an override).
    """
    settings = list(settings)
    disabled = [s.rule for s in settings if not s.enabled]
    lines = [
        "# balloon-audit configuration: every rule with the values in force.",
        "# Use it with `balloon-audit scan --config FILE`, or save it as",
        "# ~/.config/balloon-audit/config.toml (or $BALLOON_AUDIT_CONFIG).",
        "# Change a value to tune a rule; delete the lines you do not change. A rule's",
        "# `severity` (commented out: the rule's own) reports all its findings at that level.",
        "# Reference: docs/rules.md (Configuration file).",
        "",
        "[rules]",
        "# Rules that do not run at all:",
        f"disabled = {toml_value(disabled)}",
    ]
    for s in settings:
        lines += ["", f"# {s.rule} {s.name}: {_one_line(describe.get(s.rule, ''))}".rstrip(": ")]
        lines.append(f"[rules.{s.rule}]")
        # A severity here reports every finding of the rule at that level: only overrides.
        comment = "" if s.severity != own_severity.get(s.rule) else "# "
        lines.append(f"{comment}severity = {toml_value(s.severity.value)}")
        for key, value in s.params.items():
            lines.append(f"{key} = {toml_value(value)}")
    lines += [
        "",
        "# Accepted findings (see docs/rules.md, Waivers), e.g.:",
        "# [[waivers]]",
        '# rule = "BA201"',
        '# entity = "sql-*"',
        '# reason = "SQL Server with Lock Pages in Memory; approved CHG0042"',
        '# owner = "dba-team"',
        "# expires = 2027-03-31",
        "",
    ]
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def rules_config_toml(config: Config) -> str:
    """``rules --toml``: the configuration file for ``config`` (defaults where it is silent)."""
    from balloon_audit.config_file import describe_thresholds
    from balloon_audit.rules.registry import get_rule

    settings = describe_thresholds(config)
    metas = {s.rule: get_rule(s.rule).meta for s in settings}
    return config_toml(
        settings,
        {rule: meta.checks for rule, meta in metas.items()},
        {rule: meta.severity for rule, meta in metas.items()},
    )
