"""Load and validate the TOML configuration file into a :class:`Config`.

Everything is checked before any vCenter is contacted, and every error names
the key that is wrong and why. The file format is documented in docs/rules.md
("Configuration file"); in short::

    [rules]
    disabled = ["BA104"]

    [rules.BA301]
    warning_pct = 15          # any parameter the rule declares in its defaults
    severity = "critical"     # report every finding of this rule at this severity
    enabled = true

    [[waivers]]
    rule = "BA201"
    entity = "sql-*"          # VM/host/cluster name, shell glob, or moid (vm-123)
    server = "vc01.example.com"   # optional
    reason = "SQL Server with Lock Pages in Memory; approved CHG0042"
    owner = "dba-team"
    expires = 2027-03-31      # optional; the waiver applies through this day
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from balloon_audit.config import Config
from balloon_audit.errors import ConfigError
from balloon_audit.model import Severity, Waiver
from balloon_audit.rules.registry import Rule, all_rules

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ENV_VAR = "BALLOON_AUDIT_CONFIG"
"""Environment variable naming the configuration file."""

TOP_LEVEL_KEYS = ("rules", "waivers")
RULE_TABLE_KEYS = ("enabled", "severity")
WAIVER_KEYS = ("rule", "entity", "reason", "owner", "expires", "server")
_REQUIRED_WAIVER_KEYS = ("rule", "entity", "reason", "owner")
_SEVERITY_PREFIXES = ("info_", "warning_", "critical_")
_PERCENT_SUFFIXES = ("_pct", "_percent")
_FRACTIONAL_SUFFIXES = ("_pct", "_percent", "_ratio", "_mb", "_gb", "_days")
_RULE_ID = re.compile(r"BA\d{3}\Z", re.IGNORECASE)
_HINT = (
    "see 'Configuration file' in docs/rules.md; `balloon-audit rules` lists the rule IDs "
    "and their parameters"
)


class RuleSettings(NamedTuple):
    """One rule as configured: what ``balloon-audit rules`` shows as "in force"."""

    rule: str
    name: str
    params: dict[str, Any]
    """Defaults merged with the configuration's overrides."""
    enabled: bool
    severity: Severity
    """The override from the configuration, else the rule's default (highest) severity."""
    overridden: frozenset[str]
    """Parameter names whose value comes from the configuration."""


def default_config_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """The configuration file to use when ``--config`` is not given.

    ``$BALLOON_AUDIT_CONFIG`` when set (even if the file is missing, so that
    :func:`load_config` reports the mistake); otherwise
    ``$XDG_CONFIG_HOME/balloon-audit/config.toml`` (``~/.config/...`` when
    ``XDG_CONFIG_HOME`` is unset) if that file exists; otherwise ``None``.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_VAR, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    base = Path(xdg) if xdg else Path(env.get("HOME") or Path.home()) / ".config"
    candidate = base / "balloon-audit" / "config.toml"
    return candidate if candidate.is_file() else None


def load_config(path: Path | None) -> Config:
    """Read and validate ``path``; ``None`` gives the built-in defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist",
            hint=f"check --config and ${ENV_VAR}, or create the file ({_HINT})",
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory", hint=_HINT) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start})", hint=_HINT
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"config file {path} cannot be read: {exc.strerror}", hint=_HINT
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {path}: invalid TOML {_toml_position(exc, text)}: {_toml_reason(exc)}",
            hint=_HINT,
        ) from None
    return parse_config(data, source=str(path))


def parse_config(data: Mapping[str, Any], source: str = "configuration") -> Config:
    """Validate parsed TOML (a dict) and build the :class:`Config`."""
    rules = {r.meta.id: r for r in all_rules()}
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            _fail(source, key, f"unknown top-level key{_suggest(key, TOP_LEVEL_KEYS)}")

    disabled: set[str] = set()
    params: dict[str, dict[str, Any]] = {}
    severities: dict[str, Severity] = {}
    enabled_flags: dict[str, bool] = {}
    rules_table = data.get("rules", {})
    if not isinstance(rules_table, dict):
        _fail(source, "rules", f"must be a table ([rules]), not {_type_name(rules_table)}")
    for key, value in rules_table.items():
        if key == "disabled":
            disabled |= _parse_disabled(source, value, rules)
        elif key in rules:
            rule_params, severity, enabled = _parse_rule_table(source, rules[key], value)
            if rule_params:
                params[key] = rule_params
            if severity is not None:
                severities[key] = severity
            if enabled is not None:
                enabled_flags[key] = enabled
        elif _RULE_ID.match(key):
            _fail(source, f"rules.{key}", f"unknown rule ID{_suggest(key, rules)}")
        else:
            _fail(
                source,
                f"rules.{key}",
                "unknown key: [rules] takes 'disabled' and one table per rule ID"
                " (e.g. [rules.BA301])",
            )

    for rule_id, enabled in enabled_flags.items():
        if enabled and rule_id in disabled:
            _fail(
                source,
                f"rules.{rule_id}.enabled",
                f"true contradicts rules.disabled, which lists {rule_id}: keep one of them",
            )
        if not enabled:
            disabled.add(rule_id)

    waivers_value = data.get("waivers", [])
    if not isinstance(waivers_value, list):
        _fail(source, "waivers", "must be an array of tables ([[waivers]])")
    waivers = tuple(
        _parse_waiver(source, index, entry, rules) for index, entry in enumerate(waivers_value)
    )
    return Config(
        params=params,
        disabled=frozenset(disabled),
        severity_overrides=severities,
        waivers=waivers,
    )


def describe_thresholds(config: Config) -> list[RuleSettings]:
    """Every registered rule with the parameters, severity and state in force."""
    out = []
    for rule in all_rules():
        meta = rule.meta
        overrides = config.params.get(meta.id, {})
        out.append(
            RuleSettings(
                rule=meta.id,
                name=meta.name,
                params=config.params_for(meta.id, meta.defaults),
                enabled=meta.id not in config.disabled,
                severity=config.severity_overrides.get(meta.id, meta.severity),
                overridden=frozenset(overrides),
            )
        )
    return out


# --- validation helpers ----------------------------------------------------------

_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _toml_position(exc: Exception, text: str) -> str:
    """``at line 3, column 7`` for a TOML syntax error (tomllib only puts it in the text)."""
    line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    if line is None:
        found = _POSITION.search(str(exc))
        if found and found.group(1):
            line, column = int(found.group(1)), int(found.group(2))
        else:  # end of document
            lines = text.split("\n")
            line, column = len(lines), len(lines[-1]) + 1
    return f"at line {line}, column {column}"


def _toml_reason(exc: Exception) -> str:
    return _POSITION.sub("", getattr(exc, "msg", None) or str(exc))


def _fail(source: str, key: str, problem: str) -> NoReturn:
    raise ConfigError(f"{source}: {key}: {problem}", hint=_HINT)


def _suggest(word: str, choices: Any) -> str:
    choices = sorted(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == word.lower()]
    if close:
        return f" (did you mean {close[0]!r}?)"
    if len(choices) <= 12:
        return f" (expected one of: {', '.join(choices)})"
    return ""


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime):
        return "a date-time"
    if isinstance(value, date):
        return "a date"
    return type(value).__name__


def _parse_disabled(source: str, value: Any, rules: Mapping[str, Rule]) -> set[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _fail(source, "rules.disabled", 'must be an array of rule IDs, e.g. ["BA104"]')
    for rule_id in value:
        if rule_id not in rules:
            _fail(
                source, "rules.disabled", f"unknown rule ID {rule_id!r}{_suggest(rule_id, rules)}"
            )
    return set(value)


def _parse_rule_table(
    source: str, rule: Rule, table: Any
) -> tuple[dict[str, Any], Severity | None, bool | None]:
    rule_id = rule.meta.id
    if not isinstance(table, dict):
        _fail(source, f"rules.{rule_id}", f"must be a table ([rules.{rule_id}])")
    severity: Severity | None = None
    enabled: bool | None = None
    params: dict[str, Any] = {}
    defaults = rule.meta.defaults
    for key, value in table.items():
        where = f"rules.{rule_id}.{key}"
        if key == "severity":
            if not isinstance(value, str) or value.lower() not in {s.value for s in Severity}:
                _fail(source, where, f"must be one of info, warning, critical, not {value!r}")
            severity = Severity(value.lower())
        elif key == "enabled":
            if not isinstance(value, bool):
                _fail(source, where, f"must be true or false, not {_type_name(value)}")
            enabled = value
        elif key in defaults:
            params[key] = _check_param(source, where, key, value, defaults[key])
        else:
            known = sorted(defaults) + list(RULE_TABLE_KEYS)
            detail = (
                f"; {rule_id} has no parameters (only 'severity' and 'enabled')"
                if not defaults
                else f"; {rule_id} takes: {', '.join(sorted(defaults))}"
            )
            _fail(source, where, f"unknown parameter{_suggest(key, known)}{detail}")
    _check_order(source, rule, {**defaults, **params})
    return params, severity, enabled


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_param(source: str, where: str, key: str, value: Any, default: Any) -> Any:
    if default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            _fail(source, where, f"must be true or false, not {_type_name(value)}")
        return value
    if _is_number(default):
        if not _is_number(value):
            _fail(source, where, f"must be a number, not {_type_name(value)} ({value!r})")
        if value != value or value in (float("inf"), float("-inf")):
            _fail(source, where, f"must be a finite number, not {value!r}")
        if value < 0:
            _fail(source, where, f"must not be negative (got {value})")
        if key.endswith(_PERCENT_SUFFIXES) and default <= 100 and value > 100:
            _fail(source, where, f"is a percentage: must be between 0 and 100 (got {value})")
        if (
            isinstance(default, int)
            and isinstance(value, float)
            and not value.is_integer()
            and not key.endswith(_FRACTIONAL_SUFFIXES)
        ):
            _fail(source, where, f"must be a whole number (got {value})")
        if isinstance(default, int) and isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    if isinstance(default, str):
        if not isinstance(value, str):
            _fail(source, where, f"must be a string, not {_type_name(value)}")
        return value
    if isinstance(default, (list, tuple, frozenset, set)):
        if not isinstance(value, list):
            _fail(source, where, f"must be an array, not {_type_name(value)}")
        sample = next(iter(default), "")
        for item in value:
            if isinstance(sample, str) and not (isinstance(item, str) and item.strip()):
                _fail(source, where, f"must be an array of non-empty strings, got {item!r}")
            if _is_number(sample) and not _is_number(item):
                _fail(source, where, f"must be an array of numbers, got {item!r}")
        return tuple(value) if isinstance(default, tuple) else value
    if isinstance(default, Mapping):
        if not isinstance(value, dict):
            _fail(source, where, f"must be a table, not {_type_name(value)}")
        return value
    return value


def _check_order(source: str, rule: Rule, merged: Mapping[str, Any]) -> None:
    """``info_X`` / ``warning_X`` / ``critical_X`` must keep the order their defaults have.

    Most thresholds rise with severity (warning 10 % < critical 50 %); some fall
    (free memory below 100 % vs 64 %). The defaults say which, so an inversion
    is caught without knowing what the parameter means.
    """
    groups: dict[str, list[str]] = {}
    for key in rule.meta.defaults:
        for prefix in _SEVERITY_PREFIXES:
            if key.startswith(prefix):
                groups.setdefault(key[len(prefix) :], []).append(key)
    for keys in groups.values():
        ordered = sorted(keys, key=lambda k: _SEVERITY_PREFIXES.index(k[: k.index("_") + 1]))
        for lower, higher in zip(ordered, ordered[1:], strict=False):
            d_low, d_high = rule.meta.defaults[lower], rule.meta.defaults[higher]
            v_low, v_high = merged[lower], merged[higher]
            if not (_is_number(d_low) and _is_number(d_high) and d_low != d_high):
                continue
            if not (_is_number(v_low) and _is_number(v_high)):
                continue
            rising = d_low < d_high
            if (rising and not v_low < v_high) or (not rising and not v_low > v_high):
                relation = "below" if rising else "above"
                _fail(
                    source,
                    f"rules.{rule.meta.id}.{lower}",
                    f"{lower} = {v_low} must be {relation} {higher} = {v_high}"
                    f" (a {higher.split('_')[0]} threshold must be stricter than a"
                    f" {lower.split('_')[0]} one; defaults {d_low} and {d_high})",
                )


def _parse_waiver(source: str, index: int, entry: Any, rules: Mapping[str, Rule]) -> Waiver:
    label = f"waivers[{index}]"
    if not isinstance(entry, dict):
        _fail(source, label, "each waiver must be a table ([[waivers]])")
    rule_id, entity = entry.get("rule"), entry.get("entity")
    if isinstance(rule_id, str) and isinstance(entity, str):
        label += f" (rule {rule_id}, entity {entity!r})"
    for key in entry:
        if key not in WAIVER_KEYS:
            _fail(source, f"{label}.{key}", f"unknown waiver key{_suggest(key, WAIVER_KEYS)}")
    for key in _REQUIRED_WAIVER_KEYS:
        value = entry.get(key)
        if value is None:
            _fail(source, f"{label}.{key}", f"missing: every waiver needs a {key}")
        if not isinstance(value, str) or not value.strip():
            _fail(source, f"{label}.{key}", "must be a non-empty string")
    if entry["rule"] not in rules:
        _fail(source, f"{label}.rule", f"unknown rule ID{_suggest(entry['rule'], rules)}")
    server = entry.get("server")
    if server is not None and (not isinstance(server, str) or not server.strip()):
        _fail(source, f"{label}.server", "must be a non-empty string (the vCenter's name)")
    return Waiver(
        rule=entry["rule"],
        entity=entry["entity"].strip(),
        reason=entry["reason"].strip(),
        owner=entry["owner"].strip(),
        expires=_parse_expiry(source, f"{label}.expires", entry.get("expires")),
        server=server.strip() if server else None,
    )


def _parse_expiry(source: str, where: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        _fail(source, where, "must be a date (2027-03-31), not a date-time")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    _fail(source, where, f"must be a date written YYYY-MM-DD, e.g. 2027-03-31 (got {value!r})")
