"""A PostgreSQL ENUM column type built from a Python StrEnum (values, not names, are stored)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


def pg_enum(enum_cls: type[StrEnum], name: str) -> Enum:
    return Enum(enum_cls, name=name, values_callable=lambda e: [m.value for m in e], validate_strings=True)
