"""The configuration file as declared pydantic models (the loader is ``config_file.py``).

``[rules]`` has one optional table per registered rule, each typed by the rule's
defaults (see ``rule_params.py``), so the models are built from the rule
registry the first time they are needed.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, create_model, model_validator

from balloon_audit.config import Config
from balloon_audit.fleet_file import FleetEntry
from balloon_audit.history.setting import HistoryValueField
from balloon_audit.model import Waiver
from balloon_audit.notify import NotifySection
from balloon_audit.rule_params import RuleTable, rule_table
from balloon_audit.rules.registry import all_rules
from balloon_audit.validation import InputModel, reject, suggest, type_name

TOP_LEVEL_KEYS = ("history", "rules", "waivers", "fleet", "notify", "scope")
WAIVER_KEYS = (
    "rule",
    "entity",
    "reason",
    "owner",
    "expires",
    "server",
    "datacenter",
    "cluster",
    "host",
)
RULE_ID = re.compile(r"BA\d{3}\Z", re.IGNORECASE)


def _rule_ids() -> list[str]:
    return [r.meta.id for r in all_rules()]


def _known_rule(value: Any) -> str:
    if value not in _rule_ids():
        reject(f"unknown rule ID{suggest(value, _rule_ids())}")
    return str(value)


def _disabled(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        reject('must be an array of rule IDs, e.g. ["BA104"]')
    for rule_id in value:
        if rule_id not in _rule_ids():
            reject(f"unknown rule ID {rule_id!r}{suggest(rule_id, _rule_ids())}")
    return tuple(value)


def _non_empty(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        reject("must be a non-empty string")
    return value.strip()


def _server(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        reject("must be a non-empty string (the vCenter's name)")
    return value.strip()


def _expiry(value: Any) -> str:
    if isinstance(value, datetime):
        reject("must be a date (2027-03-31), not a date-time")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    reject(f"must be a date written YYYY-MM-DD, e.g. 2027-03-31 (got {value!r})")


NonEmpty = Annotated[str, BeforeValidator(_non_empty)]


class WaiverEntry(InputModel):
    """``[[waivers]]``: an accepted finding (see waivers.py for how it matches)."""

    rule: Annotated[NonEmpty, BeforeValidator(_known_rule)]
    entity: NonEmpty
    reason: NonEmpty
    owner: NonEmpty
    expires: Annotated[str | None, BeforeValidator(_expiry)] = None
    server: Annotated[str | None, BeforeValidator(_server)] = None
    datacenter: NonEmpty | None = None
    cluster: NonEmpty | None = None
    host: NonEmpty | None = None

    @classmethod
    def unknown_key(cls, key: str) -> str:
        return f"unknown waiver key{suggest(key, WAIVER_KEYS)}"

    @classmethod
    def missing_key(cls, key: str) -> str:
        article = "an" if key[0] in "aeiou" else "a"
        return f"missing: every waiver needs {article} {key}"

    @classmethod
    def not_a_table(cls, value: Any) -> str:
        return "each waiver must be a table ([[waivers]])"

    def to_waiver(self) -> Waiver:
        return Waiver(**self.model_dump())


class RulesSection(InputModel):
    """``[rules]``: ``disabled`` plus one table per rule ID (fields added per rule)."""

    disabled: Annotated[tuple[str, ...], BeforeValidator(_disabled)] = ()

    @classmethod
    def unknown_key(cls, key: str) -> str:
        if RULE_ID.match(key):
            return f"unknown rule ID{suggest(key, _rule_ids())}"
        return (
            "unknown key: [rules] takes 'disabled' and one table per rule ID (e.g. [rules.BA301])"
        )

    @classmethod
    def not_a_table(cls, value: Any) -> str:
        return f"must be a table ([rules]), not {type_name(value)}"

    def tables(self) -> dict[str, RuleTable]:
        """Rule ID -> its table, for the rules the file configures."""
        return {
            rule_id: getattr(self, rule_id)
            for rule_id in _rule_ids()
            if getattr(self, rule_id, None) is not None
        }

    @model_validator(mode="after")
    def _enabled_agrees_with_disabled(self) -> RulesSection:
        for rule_id, table in self.tables().items():
            if table.enabled and rule_id in self.disabled:
                reject(
                    f"true contradicts rules.disabled, which lists {rule_id}: keep one of them",
                    key=f"{rule_id}.enabled",
                )
        return self


def _array_of_tables(value: Any) -> Any:
    if not isinstance(value, list):
        reject("must be an array of tables ([[waivers]])")
    return value


def _fleet_tables(value: Any) -> Any:
    if not isinstance(value, list):
        reject("must be an array of tables ([[fleet]])")
    return value


def _scope_items(value: Any) -> tuple[str, ...]:
    from balloon_audit.errors import ConfigError
    from balloon_audit.scope import parse_scope

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        reject('must be an array of "KIND=GLOB" strings, e.g. ["cluster=Prod-*"]')
    try:
        parse_scope(value, [], where="item")
    except ConfigError as exc:
        reject(str(exc))
    return tuple(value)


class ScopeSection(InputModel):
    """``[scope]``: ``include`` and ``exclude``, arrays of ``KIND=GLOB``."""

    include: Annotated[tuple[str, ...], BeforeValidator(_scope_items)] = ()
    exclude: Annotated[tuple[str, ...], BeforeValidator(_scope_items)] = ()

    def to_scope(self) -> Any:
        from balloon_audit.scope import parse_scope

        return parse_scope(self.include, self.exclude)


class ConfigFileBase(InputModel):
    """The whole file: ``history``, ``[rules]``, ``[[waivers]]``, ``[[fleet]]``, ``[notify]``
    and ``[scope]``."""

    @classmethod
    def unknown_key(cls, key: str) -> str:
        return f"unknown top-level key{suggest(key, TOP_LEVEL_KEYS)}"

    def to_config(self) -> Config:
        """The in-memory configuration the engine reads."""
        rules: RulesSection = getattr(self, "rules")  # noqa: B009 - declared per registry
        waivers: tuple[WaiverEntry, ...] = getattr(self, "waivers")  # noqa: B009
        fleet: tuple[FleetEntry, ...] = getattr(self, "fleet")  # noqa: B009
        notify: NotifySection | None = getattr(self, "notify")  # noqa: B009
        scope: ScopeSection | None = getattr(self, "scope")  # noqa: B009
        history: str | bool | None = getattr(self, "history")  # noqa: B009
        tables = rules.tables()
        disabled = set(rules.disabled)
        disabled |= {rule_id for rule_id, table in tables.items() if table.enabled is False}
        return Config(
            params={rule_id: t.params() for rule_id, t in tables.items() if t.params()},
            disabled=frozenset(disabled),
            severity_overrides={
                rule_id: t.severity for rule_id, t in tables.items() if t.severity is not None
            },
            waivers=tuple(w.to_waiver() for w in waivers),
            fleet=fleet,
            notify=notify,
            scope=scope.to_scope() if scope is not None else None,
            history=history,
        )


@functools.cache
def config_file_model() -> type[ConfigFileBase]:
    """The model of the configuration file for the rules registered now."""
    tables = {rule.meta.id: (rule_table(rule) | None, None) for rule in all_rules()}
    rules_section = create_model(  # type: ignore[call-overload]
        "RulesSectionOfRegistry", __base__=RulesSection, __module__=__name__, **tables
    )
    waivers = Annotated[tuple[WaiverEntry, ...], BeforeValidator(_array_of_tables)]
    model = create_model(  # type: ignore[call-overload]
        "ConfigFile",
        __base__=ConfigFileBase,
        __module__=__name__,
        rules=(rules_section, rules_section()),
        waivers=(waivers, ()),
        fleet=(Annotated[tuple[FleetEntry, ...], BeforeValidator(_fleet_tables)], ()),
        notify=(NotifySection | None, None),
        scope=(ScopeSection | None, None),
        history=(HistoryValueField, None),
    )
    return model  # type: ignore[no-any-return]
