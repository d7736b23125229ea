"""Transitional: the If-Match policy now lives in `core.resources` (IfMatchDep); callers move to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from toit_emploi_api.core.resources import IfMatch

IfMatchHeader = Annotated[str | None, Header(alias="If-Match", max_length=200)]


def require_if_match(if_match: str | None, current_version: int) -> None:
    IfMatch(if_match).check(current_version)
