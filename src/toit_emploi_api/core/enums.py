"""A PostgreSQL ENUM column type built from a Python StrEnum (values, not names, are stored), and enum values as
SQL literals for constant SQL text."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import Enum


def pg_enum(enum_cls: type[StrEnum], name: str) -> Enum:
    return Enum(enum_cls, name=name, values_callable=lambda e: [m.value for m in e], validate_strings=True)


def sql_literal(value: StrEnum) -> str:
    """`'value'`: an enum value as an SQL literal, for SQL text written from constants (never from input), so that
    a predicate names the enum instead of restating its value."""
    if "'" in value.value:  # pragma: no cover - enum values are identifiers
        raise ValueError(f"an enum value with a quote cannot be an SQL literal: {value.value!r}")
    return f"'{value.value}'"


def sql_list(values: Iterable[StrEnum]) -> str:
    """`('a', 'b')`: enum values as an SQL list for `IN`, sorted (the same SQL text in every process)."""
    return "(" + ", ".join(sql_literal(v) for v in sorted(values, key=lambda v: v.value)) + ")"
