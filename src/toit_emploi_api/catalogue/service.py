"""Reading the reference data: the ROME codes the API knows (nothing here writes)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.resources import PageParams, Slice, found
from toit_emploi_api.reference import repository
from toit_emploi_api.reference.codes import normalise_rome_code
from toit_emploi_api.reference.models import RomeCodeEntry


async def list_rome_codes(session: AsyncSession, q: str | None, page: PageParams) -> Slice[RomeCodeEntry]:
    """Codes whose label holds the words of `q` (case and accents ignored) or that start with `q`, by code."""
    return await repository.list_rome_codes(session, q, page)


async def get_rome_code(session: AsyncSession, code: str) -> RomeCodeEntry:
    """The code (any case) and its label; 404 when the API does not know it."""
    row = await repository.get_rome_code(session, normalise_rome_code(code))
    return found(row, "The API does not know this ROME code (well-formed codes are still accepted elsewhere).")
