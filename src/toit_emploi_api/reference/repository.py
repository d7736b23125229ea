"""All SQL over the reference data (the ROME codes the API knows)."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.resources import PageParams, Slice, paginate
from toit_emploi_api.reference.models import RomeCodeEntry
from toit_emploi_api.reference.text import fold

# What a user types when looking for codes: a letter and up to 4 digits ("f", "F17", "F1703").
_CODE_PREFIX = re.compile("[A-Na-n][0-9]{0,4}")


def like_escape(value: str) -> str:
    """Escape LIKE wildcards so that user text matches literally (used with ``escape='\\\\'``)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(q: str | None) -> list[ColumnElement[bool]]:
    if q is None:
        return []
    folded = fold(q)
    conditions: list[ColumnElement[bool]] = []
    if folded:
        conditions.append(RomeCodeEntry.label_folded.like(f"%{like_escape(folded)}%", escape="\\"))
    stripped = q.strip()
    if _CODE_PREFIX.fullmatch(stripped):
        conditions.append(RomeCodeEntry.code.startswith(stripped.upper(), autoescape=True))
    # Only punctuation ("-", "'"): nothing to look for, so nothing matches.
    return [or_(*conditions)] if conditions else [false()]


async def list_rome_codes(session: AsyncSession, q: str | None, page: PageParams) -> Slice[RomeCodeEntry]:
    """One page of ROME codes (ordered by code) and the total matching: two statements."""
    return await paginate(session, select(RomeCodeEntry).where(*_search(q)).order_by(RomeCodeEntry.code), page)


async def get_rome_code(session: AsyncSession, code: str) -> RomeCodeEntry | None:
    return await session.get(RomeCodeEntry, code)
