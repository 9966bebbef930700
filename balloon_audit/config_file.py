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

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from balloon_audit import userdirs
from balloon_audit.config import Config
from balloon_audit.errors import ConfigError
from balloon_audit.fleet_file import check_entries, entry_title
from balloon_audit.locations import doc_location
from balloon_audit.model import Severity
from balloon_audit.rules.registry import all_rules

if TYPE_CHECKING:
    from balloon_audit.validation import Loc

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ENV_VAR = "BALLOON_AUDIT_CONFIG"
"""Environment variable naming the configuration file."""

_HINT = (
    f"see 'Configuration file' in {doc_location('rules.md')}; `balloon-audit rules` lists "
    "the rule IDs and their parameters"
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
    ``XDG_CONFIG_HOME`` is unset) if that file exists; otherwise ``None``, also when
    there is no home directory at all.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_VAR, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_CONFIG_HOME", "").strip()
    if xdg:
        base: Path | None = Path(xdg)
    elif env.get("HOME", "").strip():
        base = Path(env["HOME"]) / ".config"
    else:  # no $HOME (containers, cron): the passwd entry's, if there is one
        user_home = userdirs.home() if environ is None else None
        base = None if user_home is None else user_home / ".config"
    if base is None:
        return None
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
    except RecursionError:
        raise ConfigError(
            f"config file {path}: invalid TOML: nested too deeply", hint=_HINT
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {path}: invalid TOML {_toml_position(exc, text)}: {_toml_reason(exc)}",
            hint=_HINT,
        ) from None
    return parse_config(data, source=str(path))


def parse_config(data: Mapping[str, Any], source: str = "configuration") -> Config:
    """Validate parsed TOML (a dict) and build the :class:`Config`."""
    # pydantic and the models are imported only when there is a file to check: a scan
    # without one starts about 0.1 s sooner.
    from pydantic import ValidationError

    from balloon_audit.config_model import config_file_model
    from balloon_audit.validation import problems

    model = config_file_model()
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        lines = [f"{_where(p.loc, data)}: {p.message}" for p in problems(exc, model)]
        if len(lines) == 1:
            raise ConfigError(f"{source}: {lines[0]}", hint=_HINT) from None
        listed = "".join(f"\n  {line}" for line in lines)
        raise ConfigError(f"{source}: {len(lines)} problems:{listed}", hint=_HINT) from None
    config = parsed.to_config()
    check_entries(config.fleet, source)
    return config


def _where(loc: Loc, data: Mapping[str, Any]) -> str:
    """The key path, naming a waiver by its rule and entity: ``waivers[1] (rule BA201, ...)``."""
    from balloon_audit.validation import dotted, lookup

    def label(prefix: Loc) -> str:
        entry = lookup(data, prefix)
        if not isinstance(entry, Mapping):
            return ""
        rule, entity = entry.get("rule"), entry.get("entity")
        if isinstance(rule, str) and isinstance(entity, str):
            return f" (rule {rule}, entity {entity!r})"
        title = entry_title(entry) if prefix[0] == "fleet" else None
        return f" ({title})" if title else ""

    return dotted(loc, label)


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
