"""All SQL over the reference data (the ROME codes the API knows, the communes)."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, and_, any_, false, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.resources import PageParams, Slice, paginate, sorted_by
from toit_emploi_api.reference.models import Commune, RomeCodeEntry
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


async def list_rome_codes(
    session: AsyncSession, q: str | None, page: PageParams, sort: str = "code"
) -> Slice[RomeCodeEntry]:
    """One page of ROME codes in the `sort` order (by code by default) and the total matching: two statements."""
    columns = {"code": RomeCodeEntry.code, "label": RomeCodeEntry.label_folded}
    return await paginate(
        session, sorted_by(select(RomeCodeEntry).where(*_search(q)), sort, columns, RomeCodeEntry.code), page
    )


async def get_rome_code(session: AsyncSession, code: str) -> RomeCodeEntry | None:
    return await session.get(RomeCodeEntry, code)


# --- communes ----------------------------------------------------------------------------------------------------
_DIGITS_PREFIX = re.compile("[0-9][0-9AB]?[0-9]{0,3}", re.IGNORECASE)


def _commune_search(q: str | None) -> list[ColumnElement[bool]]:
    if q is None:
        return []
    folded = fold(q)
    conditions: list[ColumnElement[bool]] = []
    if folded:
        # Every word of q starts a word of the name ("st flour" does not match; "saint flour" and "flour" do).
        words = [
            or_(
                Commune.name_folded.startswith(word, autoescape=True),
                Commune.name_folded.contains(f" {word}", autoescape=True),
            )
            for word in folded.split()
        ]
        conditions.append(and_(*words))
    stripped = q.strip().upper()
    if _DIGITS_PREFIX.fullmatch(stripped):
        conditions.append(Commune.insee_code.startswith(stripped, autoescape=True))
        if stripped.isdigit() and len(stripped) == 5:
            conditions.append(literal(stripped) == any_(Commune.postcodes))
    return [or_(*conditions)] if conditions else [false()]


async def list_communes(
    session: AsyncSession, q: str | None, department: str | None, page: PageParams, sort: str | None = None
) -> Slice[Commune]:
    """One page of communes and the total matching: in the `sort` order, else the exact name first, then the most
    populous, then by INSEE code."""
    stmt = select(Commune).where(*_commune_search(q))
    if department is not None:
        stmt = stmt.where(Commune.department == department)
    if q is not None:
        stmt = stmt.order_by((Commune.name_folded == fold(q)).desc())
    stmt = stmt.order_by(Commune.population.desc(), Commune.insee_code)
    if sort is not None:
        columns = {"name": Commune.name_folded, "population": Commune.population, "insee_code": Commune.insee_code}
        stmt = sorted_by(stmt, sort, columns, Commune.insee_code)
    return await paginate(session, stmt, page)


async def get_commune(session: AsyncSession, insee_code: str) -> Commune | None:
    return await session.get(Commune, insee_code)
