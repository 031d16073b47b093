"""Validating declarative YAML with pydantic, with errors a user can act on.

pydantic checks structure and types (unknown keys, literals, numbers, booleans); our validators
add the domain rules. :func:`validate` turns a :class:`pydantic.ValidationError` into one message
that names the file, the field and the allowed values, raised as the caller's error class.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping

from pydantic import BaseModel, ValidationError

from .errors import EvosearchError

M = typing.TypeVar("M", bound=BaseModel)


def validate(model: type[M], data, where: str, error: type[EvosearchError],
             label: Callable[[tuple], str] | None = None) -> M:
    """``model.model_validate(data)``, or ``error("<where>: <field>: <what is wrong>")``.

    ``label(loc)`` names the place of a nested error (default: the keys joined by ``: ``).
    """
    if not isinstance(data, Mapping):
        raise error(f"{where}: the top level must be a mapping with keys {', '.join(model.model_fields)}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        raise error(f"{where}: {describe(err, model, label)}") from None


def describe(err: ValidationError, model: type[BaseModel], label: Callable[[tuple], str] | None = None) -> str:
    """The first error of ``err`` in words: ``place: problem; allowed: ...``."""
    rank = {"extra_forbidden": 0, "missing": 2}  # an unknown key usually explains a missing one: name it first
    first = min(err.errors(), key=lambda e: rank.get(e["type"], 1))
    loc = tuple(first["loc"])
    kind = first["type"]
    owner, place = _owner(model, loc[:-1]), loc[:-1]
    field = loc[-1] if loc else ""
    prefix = _prefix(place, label)
    if kind == "extra_forbidden":
        return f"{prefix}unknown key {field!r}; allowed keys: {', '.join(owner.model_fields) if owner else ''}"
    if kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "").replace(" or ", ", ").replace("'", "")
        return f"{prefix}{field}={first['input']!r}; allowed: {expected}"
    if kind in ("value_error", "assertion_error"):
        return _prefix(loc, label) + first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in ("bool_type", "bool_parsing"):
        return f"{prefix}{field!r} must be true or false, got {first['input']!r}"
    if kind == "missing":
        return f"{prefix}{field!r} is missing"
    return f"{prefix}{field}: {first['msg']} (got {first.get('input')!r})"


def _join(loc: tuple) -> str:
    return ": ".join(str(part) for part in loc)


def _prefix(loc: tuple, label) -> str:
    name = (label or _join)(loc) if loc else ""
    return f"{name}: " if name else ""


def _owner(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model whose fields the place ``loc`` holds (through nested models and dicts of them)."""
    current: typing.Any = model
    skip_key = False
    for part in loc:
        if skip_key:  # a key of a dict whose values are models
            skip_key = False
            continue
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        annotation = field.annotation
        if typing.get_origin(annotation) in (dict, Mapping):
            skip_key = True
        current = _model_in(annotation)
        if current is None:
            return None
    return current


def _model_in(annotation):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
