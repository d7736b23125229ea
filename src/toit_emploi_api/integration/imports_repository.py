"""SQL of the households import: the referring organisations a file names (one statement per file)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts.models import Organisation


@dataclass(frozen=True)
class OrganisationRow:
    id: uuid.UUID
    name: str
    kind: str
    active: bool


async def organisations_named(session: AsyncSession, ids: list[uuid.UUID], names: list[str]) -> list[OrganisationRow]:
    """The organisations whose id is in `ids` or whose name (ignoring case) is in `names`."""
    if not ids and not names:
        return []
    stmt = select(Organisation.id, Organisation.name, Organisation.kind, Organisation.active).where(
        or_(Organisation.id.in_(ids), func.lower(Organisation.name).in_([n.lower() for n in names]))
    )
    return [OrganisationRow(r.id, r.name, str(r.kind.value), bool(r.active)) for r in await session.execute(stmt)]
