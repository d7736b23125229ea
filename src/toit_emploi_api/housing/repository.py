"""SQL of housing units (list, get, uniqueness); the sync's set-based SQL is in ``sync_repository``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts.models import Organisation
from toit_emploi_api.core.resources import PageParams, Slice, equal_if_given, paginate
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.vocab.roles import OrganisationKind
from toit_emploi_api.vocab.statuses import UnitStatus


@dataclass(frozen=True)
class UnitFilters:
    status: UnitStatus | None = None
    commune_insee: str | None = None
    min_rooms: int | None = None
    max_total_rent: Decimal | None = None
    available_before: date | None = None
    is_relay: bool | None = None
    landlord_organisation_id: uuid.UUID | None = None


def _conditions(
    filters: UnitFilters, *, only_organisation: uuid.UUID | None, only_vacant: bool
) -> list[ColumnElement[bool]]:
    u = HousingUnit
    conds = equal_if_given(
        (u.landlord_organisation_id, only_organisation),
        (u.status, UnitStatus.VACANT if only_vacant else None),
        (u.status, filters.status),
        (u.commune_insee, filters.commune_insee),
        (u.landlord_organisation_id, filters.landlord_organisation_id),
    )
    if filters.min_rooms is not None:
        conds.append(u.rooms >= filters.min_rooms)
    if filters.max_total_rent is not None:
        conds.append(u.rent + u.charges <= filters.max_total_rent)
    if filters.available_before is not None:
        # No date means "available now".
        conds.append((u.available_from.is_(None)) | (u.available_from <= filters.available_before))
    if filters.is_relay is not None:
        conds.append(u.is_relay.is_(filters.is_relay))
    return conds


_SORTS: dict[str, ColumnElement[Any]] = {
    "rent": HousingUnit.rent.asc(),
    "-rent": HousingUnit.rent.desc(),
    "rooms": HousingUnit.rooms.asc(),
    "-rooms": HousingUnit.rooms.desc(),
    "available_from": HousingUnit.available_from.asc().nulls_first(),
    "-available_from": HousingUnit.available_from.desc().nulls_last(),
}


def list_statement(
    filters: UnitFilters, sort: str | None, *, only_organisation: uuid.UUID | None, only_vacant: bool
) -> Select[HousingUnit]:
    """The units matching the filters within the caller's scope, in a total order (sort, then creation)."""
    conds = _conditions(filters, only_organisation=only_organisation, only_vacant=only_vacant)
    order = [_SORTS[sort]] if sort else []
    order += [HousingUnit.created_at.asc(), HousingUnit.id.asc()]
    return select(HousingUnit).where(*conds).order_by(*order)


async def list_page(
    session: AsyncSession,
    filters: UnitFilters,
    sort: str | None,
    page: PageParams,
    *,
    only_organisation: uuid.UUID | None,
    only_vacant: bool,
) -> Slice[HousingUnit]:
    """Two statements whatever the page size: the count and the page."""
    stmt = list_statement(filters, sort, only_organisation=only_organisation, only_vacant=only_vacant)
    return await paginate(session, stmt, page)


async def get(session: AsyncSession, unit_id: uuid.UUID, *, for_update: bool = False) -> HousingUnit | None:
    stmt = select(HousingUnit).where(HousingUnit.id == unit_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def reference_taken(
    session: AsyncSession, organisation_id: uuid.UUID, reference: str, *, exclude: uuid.UUID | None = None
) -> bool:
    stmt = select(HousingUnit.id).where(
        HousingUnit.landlord_organisation_id == organisation_id, HousingUnit.landlord_reference == reference
    )
    if exclude is not None:
        stmt = stmt.where(HousingUnit.id != exclude)
    return (await session.execute(stmt)).first() is not None


async def organisation_kind(session: AsyncSession, organisation_id: uuid.UUID) -> OrganisationKind | None:
    stmt = select(Organisation.kind).where(Organisation.id == organisation_id)
    kind = (await session.execute(stmt)).scalar_one_or_none()
    return None if kind is None else OrganisationKind(kind)


async def delete_unit(session: AsyncSession, unit_id: uuid.UUID) -> None:
    await session.execute(delete(HousingUnit).where(HousingUnit.id == unit_id))
