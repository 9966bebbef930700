"""Declared input models and the one way their errors are worded.

Every file balloon-audit reads (the configuration, lab scenarios, JSON results)
is checked by a pydantic model. This module holds what those models share: a
strict base class, ``reject()`` for a validator to give the exact reason, and
``problems()``, which turns a pydantic ``ValidationError`` into the project's
messages: the key path, the reason and, for an unknown key, the closest known
key ("did you mean ...").
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NoReturn, get_args

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

Loc = tuple[str | int, ...]

_CUSTOM = "balloon_audit"
_NOT_A_TABLE = frozenset({"model_type", "model_attributes_type", "dataclass_type", "dict_type"})


class InputModel(BaseModel):
    """A table of a file the user wrote: unknown keys are errors, values are immutable.

    Subclasses word their own unknown-key, missing-key and wrong-shape messages
    by overriding the three class methods.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    @classmethod
    def unknown_key(cls, key: str) -> str:
        return f"unknown key{suggest(key, cls.model_fields)}"

    @classmethod
    def missing_key(cls, key: str) -> str:
        return "missing"

    @classmethod
    def not_a_table(cls, value: Any) -> str:
        return f"expected a table, got {type_name(value)}"


def reject(reason: str, key: str | None = None) -> NoReturn:
    """Fail a validator with ``reason`` as the whole message.

    ``key`` (dotted) extends the error's key path: a model-level check names
    the field it blames, e.g. ``info_ratio``.
    """
    raise PydanticCustomError(_CUSTOM, "{reason}", {"reason": reason, "key": key})


@dataclass(frozen=True)
class Problem:
    """One validation error: where (a key path) and why."""

    loc: Loc
    message: str


def problems(exc: ValidationError, root: type[BaseModel]) -> list[Problem]:
    """The errors of validating ``root``, each with its key path and reason."""
    return [_problem(error, root) for error in exc.errors(include_url=False)]


def _problem(error: ErrorDetails, root: type[BaseModel]) -> Problem:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == _CUSTOM:
        key = ctx.get("key")
        return Problem(loc + tuple(key.split(".")) if key else loc, str(ctx["reason"]))
    if kind in ("extra_forbidden", "missing"):
        parent = model_at(root, loc[:-1])
        if parent is not None and issubclass(parent, InputModel):
            hook = parent.unknown_key if kind == "extra_forbidden" else parent.missing_key
            return Problem(loc, hook(str(loc[-1])))
    if kind in _NOT_A_TABLE:
        model = model_at(root, loc)
        if model is not None and issubclass(model, InputModel):
            return Problem(loc, model.not_a_table(error["input"]))
    return Problem(loc, _generic(error))


def _generic(error: ErrorDetails) -> str:
    """Pydantic's own wording, lower-cased to fit after a key path, with the value."""
    message = error["msg"]
    message = message[:1].lower() + message[1:]
    if error["type"] == "missing":
        return "missing"
    if error["type"] == "json_invalid":
        return message  # its input is the whole document
    value = error.get("input")
    if isinstance(value, (dict, list)):
        return f"{message} (got {type_name(value)})"
    return f"{message} (got {shown_value(value)})"


SHOWN_VALUE_CHARS = 80
"""A rejected value is quoted in the message up to this many characters."""


def shown_value(value: object) -> str:
    """``repr(value)``, shortened so one bad value cannot flood the terminal or a log."""
    text = repr(value)
    if len(text) <= SHOWN_VALUE_CHARS:
        return text
    return f"{text[: SHOWN_VALUE_CHARS - 1]}… ({len(text):,} characters)"


def model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the table at ``loc`` (list indexes are skipped)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def dotted(loc: Loc, label: Callable[[Loc], str] | None = None) -> str:
    """``rules.BA301.warning_pct``, ``vms[3].memory_mb``: a key path as the user writes it.

    ``label(prefix)`` may add a description after a list item, e.g. the VM's name.
    """
    out = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            if label is not None:
                out += label(loc[: index + 1])
        else:
            out += f".{part}" if out else str(part)
    return out


def lookup(data: Any, loc: Loc) -> Any:
    """The value at ``loc`` in parsed input, or ``None`` when there is none."""
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def suggest(word: str, choices: Collection[str]) -> str:
    """`` (did you mean 'x'?)``, or the short list of choices, or nothing."""
    ordered = sorted(choices)
    close = difflib.get_close_matches(word, ordered, n=1, cutoff=0.6)
    if not close:
        close = [c for c in ordered if c.lower() == word.lower()]
    if close:
        return f" (did you mean {close[0]!r}?)"
    if len(ordered) <= 12:
        return f" (expected one of: {', '.join(ordered)})"
    return ""


_TYPE_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    ((list, tuple), "an array"),
    (Mapping, "a table"),
    (datetime, "a date-time"),
    (date, "a date"),
)


def type_name(value: Any) -> str:
    """How TOML and JSON name the type of ``value``: ``a string``, ``an array`` ..."""
    for kinds, name in _TYPE_NAMES:
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def is_number(value: Any) -> bool:
    """An int or float, but not a bool (which Python counts as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def non_empty_text(value: Any) -> str:
    """A field validator: a string with something in it, stripped."""
    if not isinstance(value, str) or not value.strip():
        reject("must be a non-empty string")
    return value.strip()


def port_number(value: Any) -> int:
    """A field validator: a TCP port, 1-65535."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        reject(f"must be a port number between 1 and 65535 (got {value!r})")
    return int(value)
