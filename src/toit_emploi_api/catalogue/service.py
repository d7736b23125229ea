"""Reading the reference data: the ROME codes the API knows, the communes (nothing here writes)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.resources import PageParams, Slice, found
from toit_emploi_api.reference import repository
from toit_emploi_api.reference.codes import normalise_insee_commune, normalise_rome_code
from toit_emploi_api.reference.models import Commune, RomeCodeEntry


async def list_rome_codes(
    session: AsyncSession, q: str | None, page: PageParams, sort: str = "code"
) -> Slice[RomeCodeEntry]:
    """Codes whose label holds the words of `q` (case and accents ignored) or that start with `q`, in the `sort`
    order."""
    return await repository.list_rome_codes(session, q, page, sort)


async def get_rome_code(session: AsyncSession, code: str) -> RomeCodeEntry:
    """The code (any case) and its label; 404 when the API does not know it."""
    row = await repository.get_rome_code(session, normalise_rome_code(code))
    return found(row, "The API does not know this ROME code (well-formed codes are still accepted elsewhere).")


async def list_communes(
    session: AsyncSession, q: str | None, department: str | None, page: PageParams, sort: str | None = None
) -> Slice[Commune]:
    """Communes whose name holds words starting like those of `q` (case and accents ignored), or whose INSEE code
    starts with `q`, or one of whose postcodes is `q`; optionally of one department."""
    return await repository.list_communes(session, q, department.upper() if department else None, page, sort)


async def get_commune(session: AsyncSession, insee_code: str) -> Commune:
    """The commune of this INSEE code (`2a`/`2b` upper-cased); 404 when the reference does not hold it."""
    row = await repository.get_commune(session, normalise_insee_commune(insee_code))
    return found(row, "The communes reference holds no commune with this INSEE code.")
