"""Typed rule parameters: a pydantic model per rule, declared by the rule's defaults.

A rule declares its parameters as defaults in its metadata (``warning_pct = 10``).
The default's type and the parameter's name say what a configured value must be:

* a boolean default takes ``true`` or ``false``;
* a number takes a finite number >= 0; a ``*_pct``/``*_percent`` one whose
  default is at most 100 is a percentage (0..100); an integer default takes a
  whole number unless the name carries a unit that may be fractional
  (``_pct``, ``_ratio``, ``_mb``, ``_gb``, ``_days``);
* a list default takes an array of the same kind of items (non-empty strings);
* ``info_X`` / ``warning_X`` / ``critical_X`` must keep the order their
  defaults have: most thresholds rise with severity (warning 10 % < critical
  50 %), some fall (free memory below 100 % vs 64 %), so an inversion is caught
  without knowing what the parameter means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, create_model, model_validator

from balloon_audit.model import Severity
from balloon_audit.rules.registry import Rule
from balloon_audit.validation import InputModel, is_number, reject, suggest, type_name

SEVERITY_PREFIXES = ("info_", "warning_", "critical_")
PERCENT_SUFFIXES = ("_pct", "_percent")
FRACTIONAL_SUFFIXES = ("_pct", "_percent", "_ratio", "_mb", "_gb", "_days")
RULE_TABLE_KEYS = ("enabled", "severity")
"""Keys every ``[rules.BA###]`` table takes besides the rule's parameters."""


# --- one validator per kind of parameter --------------------------------------------


def strict_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        reject(f"must be true or false, not {type_name(value)}")
    return value


def severity_name(value: Any) -> Severity:
    if not isinstance(value, str) or value.lower() not in {s.value for s in Severity}:
        reject(f"must be one of info, warning, critical, not {value!r}")
    return Severity(value.lower())


@dataclass(frozen=True)
class NumberParam:
    """What a numeric parameter accepts, derived from its name and default."""

    percentage: bool
    integer: bool
    """The default is an int: 3.0 is read as 3."""
    fractional: bool
    """The name carries a unit that may be fractional, so 2.5 is fine even if integer."""

    @classmethod
    def of(cls, key: str, default: float) -> NumberParam:
        return cls(
            percentage=key.endswith(PERCENT_SUFFIXES) and default <= 100,
            integer=isinstance(default, int),
            fractional=key.endswith(FRACTIONAL_SUFFIXES),
        )

    def __call__(self, value: Any) -> float:
        if not is_number(value):
            reject(f"must be a number, not {type_name(value)} ({value!r})")
        if value != value or value in (float("inf"), float("-inf")):
            reject(f"must be a finite number, not {value!r}")
        if value < 0:
            reject(f"must not be negative (got {value})")
        if self.percentage and value > 100:
            reject(f"is a percentage: must be between 0 and 100 (got {value})")
        if self.integer and isinstance(value, float):
            if value.is_integer():
                return int(value)
            if not self.fractional:
                reject(f"must be a whole number (got {value})")
        return value


@dataclass(frozen=True)
class ListParam:
    """An array parameter; items are non-empty strings or numbers like the default's."""

    numbers: bool
    as_tuple: bool

    def __call__(self, value: Any) -> list[Any] | tuple[Any, ...]:
        if not isinstance(value, list):
            reject(f"must be an array, not {type_name(value)}")
        for item in value:
            if self.numbers and not is_number(item):
                reject(f"must be an array of numbers, got {item!r}")
            if not self.numbers and not (isinstance(item, str) and item.strip()):
                reject(f"must be an array of non-empty strings, got {item!r}")
        return tuple(value) if self.as_tuple else value


def _of_type(kind: type, wording: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            reject(f"must be {wording}, not {type_name(value)}")
        return value

    return check


def param_validator(key: str, default: Any) -> Callable[[Any], Any] | None:
    """The check a configured value of parameter ``key`` must pass (``None``: anything)."""
    if isinstance(default, bool):
        return strict_bool
    if is_number(default):
        return NumberParam.of(key, default)
    if isinstance(default, str):
        return _of_type(str, "a string")
    if isinstance(default, (list, tuple, frozenset, set)):
        sample = next(iter(default), "")
        return ListParam(numbers=is_number(sample), as_tuple=isinstance(default, tuple))
    if isinstance(default, Mapping):
        return _of_type(dict, "a table")
    return None


# --- threshold order ------------------------------------------------------------------


@dataclass(frozen=True)
class ThresholdPair:
    """Two parameters of one quantity at adjacent severities, e.g. warning_pct/critical_pct."""

    lower: str
    higher: str
    rising: bool
    """True when the stricter severity has the larger default."""


def threshold_pairs(defaults: Mapping[str, Any]) -> tuple[ThresholdPair, ...]:
    """The severity-ordered pairs among ``defaults`` whose defaults are distinct numbers."""
    groups: dict[str, list[str]] = {}
    for key in defaults:
        for prefix in SEVERITY_PREFIXES:
            if key.startswith(prefix):
                groups.setdefault(key[len(prefix) :], []).append(key)
    pairs = []
    for keys in groups.values():
        ordered = sorted(keys, key=lambda k: SEVERITY_PREFIXES.index(k[: k.index("_") + 1]))
        for lower, higher in zip(ordered, ordered[1:], strict=False):
            low, high = defaults[lower], defaults[higher]
            if is_number(low) and is_number(high) and low != high:
                pairs.append(ThresholdPair(lower, higher, rising=low < high))
    return tuple(pairs)


def _check_order(pair: ThresholdPair, merged: Mapping[str, Any], defaults: Mapping) -> None:
    low, high = merged[pair.lower], merged[pair.higher]
    if not (is_number(low) and is_number(high)):
        return
    if (low < high) if pair.rising else (low > high):
        return
    relation = "below" if pair.rising else "above"
    reject(
        f"{pair.lower} = {low} must be {relation} {pair.higher} = {high}"
        f" (a {pair.higher.split('_')[0]} threshold must be stricter than a"
        f" {pair.lower.split('_')[0]} one; defaults {defaults[pair.lower]}"
        f" and {defaults[pair.higher]})",
        key=pair.lower,
    )


# --- the per-rule table ---------------------------------------------------------------


class RuleTable(InputModel):
    """``[rules.BA###]``: the rule's parameters plus ``severity`` and ``enabled``."""

    rule_id: ClassVar[str] = ""
    defaults: ClassVar[Mapping[str, Any]] = {}
    pairs: ClassVar[tuple[ThresholdPair, ...]] = ()

    severity: Annotated[Severity | None, BeforeValidator(severity_name)] = None
    enabled: Annotated[bool | None, BeforeValidator(strict_bool)] = None

    @classmethod
    def unknown_key(cls, key: str) -> str:
        known = sorted(cls.defaults) + list(RULE_TABLE_KEYS)
        if cls.defaults:
            detail = f"; {cls.rule_id} takes: {', '.join(sorted(cls.defaults))}"
        else:
            detail = f"; {cls.rule_id} has no parameters (only 'severity' and 'enabled')"
        return f"unknown parameter{suggest(key, known)}{detail}"

    @classmethod
    def not_a_table(cls, value: Any) -> str:
        return f"must be a table ([rules.{cls.rule_id}])"

    def params(self) -> dict[str, Any]:
        """The parameters the configuration sets (not the defaults)."""
        return {k: getattr(self, k) for k in self.defaults if k in self.model_fields_set}

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> RuleTable:
        merged = {**self.defaults, **self.params()}
        for pair in self.pairs:
            _check_order(pair, merged, self.defaults)
        return self


def _param_field(key: str, default: Any) -> Any:
    check = param_validator(key, default)
    if check is None:
        return (Any, None)
    return (Annotated[Any, BeforeValidator(check)], None)


def rule_table(rule: Rule) -> type[RuleTable]:
    """The model of ``[rules.<rule.meta.id>]``, built from the rule's declared defaults."""
    if rule.meta.id not in _TABLES:
        _TABLES[rule.meta.id] = _build_rule_table(rule)
    return _TABLES[rule.meta.id]


_TABLES: dict[str, type[RuleTable]] = {}


def _build_rule_table(rule: Rule) -> type[RuleTable]:
    meta = rule.meta
    fields = {key: _param_field(key, default) for key, default in meta.defaults.items()}
    model = create_model(  # type: ignore[call-overload]
        f"RuleTable{meta.id}", __base__=RuleTable, __module__=__name__, **fields
    )
    model.rule_id = meta.id
    model.defaults = dict(meta.defaults)
    model.pairs = threshold_pairs(meta.defaults)
    return model  # type: ignore[no-any-return]
