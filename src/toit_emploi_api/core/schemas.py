"""Base classes for request and response bodies, and the one strict-input policy.

Every request body subclasses `InputModel`, which applies the policy to every field, whatever its declared type:

- a JSON **integer** field takes a JSON integer only (not `"12"`, `12.0` nor `true`);
- a **boolean** field takes `true`/`false` only (not `1`, `"yes"`, `"true"`);
- a **date** field takes an ISO 8601 string `YYYY-MM-DD` only (not a timestamp such as `0` or `1764028800`, nor a
  date-time); a **date-time** field a string only;
- a **decimal** field never takes `true`/`false`; an amount of money (`Money` metadata, or `refuse_float_money`)
  takes a JSON string (`"412.30"`) or a whole JSON number (`412`), never a binary float such as `412.3`;
- unknown fields are refused, strings are stripped, NUL characters are refused.

Query parameters are strings by nature; their dates use `IsoDate` (same rule: `?created_since=0` is a 422).
PATCH fields that may be left out but never be `null` are listed in the model's `NON_NULLABLE` (refused at
validation, and not declared nullable in the OpenAPI document).
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from collections.abc import Collection
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, ClassVar, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_contains_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    return False


# --- the strict policy ---------------------------------------------------------------------------------------
_STRICT_KINDS = (bool, int, dt.datetime, dt.date, Decimal)


def _kinds(annotation: Any) -> tuple[frozenset[type], bool]:
    """The strict base types an annotation accepts (`Optional`/`Annotated` unwrapped) and whether it is a list."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        found: set[type] = set()
        is_list = False
        for arg in typing.get_args(annotation):
            if arg is type(None):
                continue
            kinds, listed = _kinds(arg)
            found |= kinds
            is_list = is_list or listed
        return frozenset(found), is_list
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        inner, _ = _kinds(args[0]) if args else (frozenset(), False)
        return inner, True
    if isinstance(annotation, type):
        for kind in _STRICT_KINDS:
            if annotation is kind:
                return frozenset({kind}), False
        return frozenset({annotation}), False
    return frozenset({object}), False


def _strict_error(kind: type, value: Any) -> str | None:
    """Why `value` (parsed JSON) is not acceptable for `kind`, or None."""
    if value is None:
        return None
    if kind is bool:
        return None if isinstance(value, bool) else "must be a JSON boolean (true or false)"
    if kind is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be a JSON integer"
    if kind is dt.datetime:
        return None if isinstance(value, str | dt.datetime) else "must be an ISO 8601 date-time string"
    if kind is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return None
        if isinstance(value, str) and _ISO_DATE.match(value.strip()):
            return None
        return "must be an ISO 8601 date string (YYYY-MM-DD)"
    if kind is Decimal:
        return "must be a number or a string, not true/false" if isinstance(value, bool) else None
    return None


@cache
def _field_rule(model: type[BaseModel], name: str) -> tuple[type | None, bool]:
    field = model.model_fields.get(name)
    if field is None:
        return None, False
    kinds, is_list = _kinds(field.annotation)
    strict = [k for k in kinds if k in _STRICT_KINDS]
    # A field of exactly one strict kind (e.g. `int | None`, `list[date]`); unions of several are left to pydantic.
    if len(kinds) != 1 or not strict:
        return None, False
    return strict[0], is_list


def strict_value(kind: type, value: Any) -> Any:
    """Apply the strict rule of `kind` to `value` (raises `ValueError` with the reason)."""
    reason = _strict_error(kind, value)
    if reason:
        raise PydanticCustomError("strict_type", reason)
    return value


def refuse_float_money(value: Any) -> Any:
    """Money never goes through a binary float: a JSON string ("1834.56") or a whole JSON number (1834) only."""
    if isinstance(value, bool):
        raise ValueError("must be an amount, not true/false")
    if isinstance(value, float):
        raise ValueError('send euros with cents as a JSON string ("1834.56") or a whole number (1834), not 1834.56')
    return value


class _MoneyInput:
    """Metadata for an amount field: `Annotated[Decimal, MoneyInput, Field(ge=0, decimal_places=2)]`: a JSON string
    or a whole JSON number; marked `x-amount` so the OpenAPI hook publishes it as integer-or-decimal-string."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> CoreSchema:
        return core_schema.no_info_before_validator_function(refuse_float_money, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = dict(handler(schema))
        out[AMOUNT_MARK] = True
        return out


AMOUNT_MARK = "x-amount"
MoneyInput = _MoneyInput()


def _money_text(value: Decimal) -> str:
    return f"{value:.2f}"


# An amount in an answer: always a string with two decimals ("400.00"), whether it was read back from PostgreSQL
# (numeric(8,2)) or is the value the client just sent (400).
MoneyOut = Annotated[
    Decimal,
    PlainSerializer(_money_text, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "examples": ["1834.56"], "description": "Euros."},
        mode="serialization",
    ),
]


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_DATE.match(value.strip()):
        raise PydanticCustomError("date_format", "must be an ISO 8601 date (YYYY-MM-DD)")
    if not isinstance(value, str | dt.date) or isinstance(value, dt.datetime):
        raise PydanticCustomError("date_format", "must be an ISO 8601 date (YYYY-MM-DD)")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
"""A date given as `YYYY-MM-DD` only (query parameters, where every value is a string): `0` is not 1970-01-01."""


def _drop_null(prop: dict[str, Any]) -> None:
    """A property schema without its `null` branch (nor a `null` default)."""
    if "anyOf" in prop:
        branches = [b for b in prop["anyOf"] if b != {"type": "null"}]
        del prop["anyOf"]
        if len(branches) == 1:
            prop.update(branches[0])
        else:
            prop["anyOf"] = branches
    if prop.get("type") == "null":
        prop.pop("type")
    if "default" in prop and prop["default"] is None:
        del prop["default"]


class InputModel(BaseModel):
    """Request bodies: unknown fields are rejected, strings are stripped, NUL characters are refused, and the
    strict policy above applies to integers, booleans, dates and decimals.

    `NON_NULLABLE`: the optional fields of a PATCH that may be left out but never be `null` (a 422 naming them);
    their schema in the OpenAPI document is not nullable."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    NON_NULLABLE: ClassVar[Collection[str]] = ()

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        for name in cls.NON_NULLABLE:
            prop = target.get("properties", {}).get(name)
            if isinstance(prop, dict):
                _drop_null(prop)
        return json_schema

    @field_validator("*", mode="before")
    @classmethod
    def _strict_input(cls, value: Any, info: Any) -> Any:
        if _contains_nul(value):
            raise ValueError("must not contain NUL characters")
        if value is None and info.field_name in cls.NON_NULLABLE:
            raise PydanticCustomError("not_null", "cannot be null (leave the field out to keep its value)")
        kind, is_list = _field_rule(cls, info.field_name)
        if kind is not None:
            if is_list and isinstance(value, list):
                for item in value:
                    strict_value(kind, item)
            elif not is_list:
                strict_value(kind, value)
        return value


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
