#!/usr/bin/env python3
"""Generate docs/rules.md from the rule registry.

    python scripts/gen_rules_doc.py            # rewrite docs/rules.md
    python scripts/gen_rules_doc.py --check    # exit 1 if docs/rules.md is out of date

tests/rules/test_rules_doc.py renders the same text in memory and fails when the
committed file differs; it never writes the file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC_PATH = ROOT / "docs" / "rules.md"
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from balloon_audit import vsphere as vs  # noqa: E402
from balloon_audit.rules.registry import Rule, all_rules  # noqa: E402


def toml_value(value: Any) -> str:
    """``value`` written as TOML, for the defaults tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def param_help(rule: Rule) -> Mapping[str, str]:
    """Optional one-line help per parameter: ``PARAM_HELP[rule_id][param]`` in the rule's module."""
    module = sys.modules.get(rule.check.__module__)
    return getattr(module, "PARAM_HELP", {}).get(rule.meta.id, {})


def _param_lines(rule: Rule) -> list[str]:
    helps = param_help(rule)
    lines = []
    for key, value in rule.meta.defaults.items():
        line = f"{key} = {toml_value(value)}"
        if key in helps:
            line += f"  # {helps[key]}"
        lines.append(line)
    return lines


_SHEET = {vs.VIRTUAL_MACHINE: "VMs sheet", vs.HOST_SYSTEM: "Hosts sheet"}


def _source_text(prop: vs.Prop) -> str:
    """How the value is obtained, when it is not a plain property read."""
    if prop.source == vs.PERF:
        return "realtime performance counter"
    if prop.source == vs.JOINED:
        return "joined at collection"
    return ""


def reads_line(prop: vs.Prop) -> str:
    """``reads: `path` (unit), shown as column "Label" (VMs)``: rule → property → column."""
    details = [d for d in (prop.conversion or prop.unit, _source_text(prop)) if d]
    unit = f" ({', '.join(details)})" if details else ""
    return (
        f"reads: `{prop.key}`{unit} of the {prop.entity}, "
        f'shown as column "{prop.label}" ({_SHEET.get(prop.entity, prop.entity)})'
    )


def _reads_lines(rule: Rule) -> list[str]:
    if not rule.meta.reads:
        return ["**Reads:** no vSphere property (the collection status of each vCenter).", ""]
    return [*(f"- {reads_line(prop)}" for prop in rule.meta.reads), ""]


def _rule_section(rule: Rule) -> list[str]:
    meta = rule.meta
    lines = [
        f"### {meta.id} {meta.name}",
        "",
        f"- **Severity (highest):** {meta.severity.value}",
        f"- **Scope:** {meta.scope}",
        f"- **Checks:** {meta.checks}",
        "",
        f"**Why it matters.** {meta.rationale}",
        "",
        f"**Remediation.** {meta.remediation}",
        "",
        *_reads_lines(rule),
    ]
    if meta.defaults:
        lines += [
            "**Default thresholds** (override under "
            f"`[rules.{meta.id}]`, see [Configuration file](#configuration-file)):",
            "",
            "```toml",
            f"[rules.{meta.id}]",
            *_param_lines(rule),
            "```",
            "",
        ]
    else:
        lines += ["**Thresholds:** none (only `severity` and `enabled` can be configured).", ""]
    if meta.references:
        lines += ["**References:**", "", *(f"- {ref}" for ref in meta.references), ""]
    return lines


LIVE_DATA = """\
## Live data, host settings and what the lab can show

Beyond one PropertyCollector pass over VMs and one over hosts, clusters and
resource pools, the audit makes three small reads, each best effort (a failure
leaves the values unknown, says so in the progress output, and never fails the
audit):

- **Host advanced options** `Mem.CtlMaxPercent` and `Mem.MemMinFreePct`: one
  PropertyCollector pass over all hosts with the keyed paths
  `config.option["Mem.CtlMaxPercent"]` and `config.option["Mem.MemMinFreePct"]`
  (one OptionValue per host instead of its ~1,000 options). A server that
  refuses keyed paths is asked per host (`OptionManager.QueryOptions`), eight
  hosts at a time, with a 30-second deadline. A host that does not report an
  option keeps it unknown: BA203 skips it and BA301 assumes the default 65 %,
  saying so in its evidence (`host_ctl_max_pct_source`).
- **Host memory state**: one `QueryPerf` for all connected hosts, realtime
  counter `mem.state.latest` (0 high, 1 clear, 2 soft, 3 hard, 4 low; ESXi 5.x
  has no clear state). BA501 uses it when a sample arrived and its quickStats
  estimate otherwise; each finding names its source (`state_source`).
- **Swap rates** `mem.swapinRate` / `mem.swapoutRate` (KBps): one `QueryPerf`
  per 200 VMs that report swapped memory. BA302's severity follows them when
  they were read, and every BA302 message says whether live swapping was
  checked. `--no-perf` skips both performance reads.

The bundled lab (vcsim v0.46.3) seeds every condition the rules look at
except these, which are tested with unit tests instead:

- vcsim serves no samples for `mem.state` and the swap-rate counters (its
  PerformanceManager replays canned tables that lack them), so in the lab BA501
  always uses the estimate and BA302 always says "live swapping NOT checked".
  The counter path is covered by `tests/rules/test_wave2_rules.py` (every
  `mem.state` value, ESXi 5.x numbering, the counter beating the estimate) and
  the query plumbing by `tests/collect/test_wave2_live.py` (the same pass with
  a counter vcsim does sample).
- vcsim does not know `Mem.CtlMaxPercent` until it is set (a real ESXi reports
  65): lab hosts without the option read as "unknown". Without `vcsim -load`
  the lab sets it with `UpdateOptions`; a model served with `-load` has no host
  OptionManager, so the lab writes the option into the saved host's
  `config.option` list instead.
- vcsim derives `guest.guestFamily` from the guest id even without VMware
  Tools; a real vCenter reports it only while Tools run, which is why BA101
  decides by `config.guestId` first.
- vApps are collected and judged like resource pools (BA403), but the lab
  creates resource pools only.

"""


CONFIG_REFERENCE = """\
## Configuration file

Thresholds, rule selection, severity overrides and waivers live in one TOML
file. It is validated completely before any vCenter is contacted; an error
names the file, the key and what is wrong, and the command exits with code 2.

### Where it is read from

1. `--config FILE`, if given;
2. else the file named by `$BALLOON_AUDIT_CONFIG` (an error if it does not exist);
3. else `$XDG_CONFIG_HOME/balloon-audit/config.toml` (normally
   `~/.config/balloon-audit/config.toml`) if that file exists;
4. else the built-in defaults listed above.

`balloon-audit rules --config FILE` prints every rule with the thresholds,
severity and enabled state in force, which is the quickest way to check a file.

### Shape

```toml
[rules]
disabled = ["BA104"]            # rule IDs not to run

[rules.BA301]                   # one table per rule ID
warning_pct = 15                # any parameter listed under "Default thresholds"
critical_pct = 60
severity = "critical"           # report every finding of this rule at this severity
enabled = true                  # false is the same as listing it in disabled

[rules.BA602]
name_patterns = ["k8s", "ocp-*", "tkg-*"]

[[waivers]]                     # one block per accepted finding
rule = "BA201"
entity = "sql-*"                # name, shell glob, or managed object ID (vm-123)
server = "vc01.example.com"     # optional: only on this vCenter
cluster = "SQL-*"               # optional: only in these clusters (also datacenter, host)
reason = "SQL Server with Lock Pages in Memory; approved CHG0042"
owner = "dba-team"
expires = 2027-03-31            # optional; TOML date or "YYYY-MM-DD"
```

### Validation

- Top-level keys: `history` (docs/history.md: a database URL or path, or
  `false`; never a password), `rules`, `waivers`, `fleet` (docs/fleet.md),
  `notify` (docs/notify.md) and `scope` (README, "Scope").
- `[rules]` takes `disabled` (an array of rule IDs) and one table per rule ID;
  an unknown ID is an error (with a suggestion for near misses such as
  `ba301`).
- In a rule table: `severity` (`info`, `warning`, `critical`), `enabled`
  (true/false), and the rule's own parameters. An unknown parameter is an
  error that lists the rule's parameters.
- A parameter must have the type of its default: numbers (integers are
  accepted where the default is a float; counts must be whole numbers),
  booleans, strings, arrays of non-empty strings. Numbers must be finite and
  not negative; parameters ending in `_pct` are percentages (0–100) when their
  default is.
- `info_X`, `warning_X` and `critical_X` parameters must stay in the order of
  their defaults, so a warning threshold can never be stricter than the
  critical one. An override is compared with the other side's value in force
  (your override or the default).
- Every problem in the file is reported at once, each with its key path
  (`rules.BA301.warning_pct`, `waivers[0] (rule BA201, entity 'sql-*').owner`),
  before any vCenter is contacted; the exit code is 2.

### Waivers

A waiver accepts one finding, or a family of them, for a reason, with an
owner, until a date. Waived findings are never dropped: reports list them
separately with the waiver, and they do not count towards `--fail-on`.

- **Match:** the rule ID must be equal, and `entity` must be the entity's
  managed object ID (`vm-123`, `host-42`, `domain-c7`: exact), its name
  (case-insensitive), or a shell glob over the name (`*`, `?`, `[...]`;
  case-insensitive, matching the whole name). `server`, when given, limits the
  waiver to one vCenter (case-insensitive); managed object IDs repeat across
  vCenters, so give `server` with a moid. `datacenter`, `cluster` and `host`,
  when given, are shell globs (case-insensitive) that the finding's datacenter,
  cluster and host must match: a waiver for a change ticket about one cluster.
- **Required:** `rule`, `entity`, `reason`, `owner` (non-empty). Optional:
  `server`, `datacenter`, `cluster`, `host`, `expires`.
- **Expiry:** a waiver applies through its `expires` day (UTC date of the
  run). From the next day on it stops applying, the finding is reported again,
  and the run lists `waiver BA201 sql-* (owner dba-team) expired on
  2027-03-31`.
- **Unused waivers** (active but matching no finding) are listed too: the
  problem was fixed, or the pattern is wrong.
- When several waivers match a finding, the first in the file is recorded.
"""


def _property_table() -> list[str]:
    lines = [
        "## Properties read",
        "",
        "Every value the rules read, from `balloon_audit/vsphere.py`. Evidence in findings is",
        "keyed by the vSphere path and keeps the API's unit (the HTML report labels it with the",
        "report column's name). The VMs and Hosts sheets of the Excel workbook have a column for",
        "every property, headed by its label, in the model's unit; the VM and host tables of",
        "the HTML report show the main ones under the same headers. The JSON result names VM",
        "and host fields by their model field.",
        "",
        "| object | vSphere path | unit | model field (JSON) | report column |",
        "|---|---|---|---|---|",
    ]
    for prop in (
        *vs.VM_PROPS,
        *vs.HOST_PROPS,
        *vs.HOST_OPTION_PROPS,
        vs.HOST_MEM_STATE,
        *vs.POOL_PROPS,
    ):
        if prop.field is None:
            continue
        details = [d for d in (prop.conversion or prop.unit, _source_text(prop)) if d]
        lines.append(
            f"| {prop.entity} | `{_cell(prop.key)}` | {_cell(', '.join(details))} "
            f"| `{prop.field}` | {_cell(prop.label)} |"
        )
    return [*lines, ""]


def render() -> str:
    """The full text of docs/rules.md."""
    rules = all_rules()
    lines = [
        "# Rule reference",
        "",
        "<!-- Generated by scripts/gen_rules_doc.py from the rule registry. Do not edit:",
        "     change the rule's metadata and run `python scripts/gen_rules_doc.py`. -->",
        "",
        "Rule IDs are stable: they appear in JSON output, in waivers and in scripts, and are",
        "never renumbered. Severities are `info`, `warning` and `critical`; the severity",
        "listed is the highest a rule reports by default. Every threshold can be changed in",
        "the [configuration file](#configuration-file).",
        "",
        "Runtime rules look only at powered-on VMs on connected hosts whose quickStats",
        "arrived; configuration rules also look at powered-off VMs and templates, because a",
        "template's settings are copied into every clone. A VM without runtime data is",
        "reported by BA901 and never counted as healthy. The VMware Tools rules (BA101–BA104)",
        "read guest information, not quickStats, so they also judge a powered-on VM whose",
        "quickStats are missing (just powered on, or on a host that reports none).",
        "",
        "Every rule lists the references its facts rest on (VMware KB articles, sections of",
        "the vSphere Resource Management guide, the Linux driver source); the facts behind",
        "each threshold are in its *Why it matters* paragraph.",
        "",
        "| ID | name | severity | checks |",
        "|---|---|---|---|",
    ]
    for rule in rules:
        meta = rule.meta
        anchor = f"{meta.id}-{meta.name}".lower()
        severity = meta.severity.value
        lines.append(
            f"| [{meta.id}](#{anchor}) | {meta.name} | {severity} | {_cell(meta.checks)} |"
        )
    lines += ["", "## Rules", ""]
    for rule in rules:
        lines += _rule_section(rule)
    lines += _property_table()
    lines.append(LIVE_DATA)
    lines.append(CONFIG_REFERENCE)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/rules.md is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(
                f"{DOC_PATH} is out of date: run python scripts/gen_rules_doc.py", file=sys.stderr
            )
            return 1
        return 0
    DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH} ({len(all_rules())} rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
