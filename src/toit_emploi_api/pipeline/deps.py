"""Loader dependencies of the pipeline: the path's household or record, scoped by the one household-access policy.

A record (placement, relay stay, allocation) is visible when its household is: another organisation's record is a
404, like an unknown one. The `Locked…` loaders lock the household first, then the record (`SELECT … FOR UPDATE`),
in this order everywhere, so that two writes on one household queue instead of interleaving.

    async def route(principal: WriterDep, session: SessionDep, stay: LockedRelayStay, if_match: IfMatchDep) -> …
        if_match.check(stay.record.version)        # principal first: a refused role is 403 before any 404
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Authenticated, Principal
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import NotFoundError
from toit_emploi_api.core.resources import found
from toit_emploi_api.households.access import visible_household
from toit_emploi_api.households.models import Household
from toit_emploi_api.pipeline import repository
from toit_emploi_api.pipeline.models import HousingAllocation, Placement, RelayStay

R = TypeVar("R", Placement, RelayStay, HousingAllocation)

NO_PLACEMENT = "No placement with this id."
NO_RELAY_STAY = "No relay stay with this id."
NO_ALLOCATION = "The household has no active housing allocation."


@dataclass(frozen=True)
class Owned(Generic[R]):
    """A pipeline record with its household (both locked, for the `Locked…` loaders)."""

    household: Household
    record: R


# --- the path's household, without its members (the pipeline's own routes do not need them) ----------------------
async def _household(principal: Authenticated, session: SessionDep, household_id: uuid.UUID) -> Household:
    return await visible_household(session, principal, household_id, with_members=False)


async def _locked_household(principal: Authenticated, session: SessionDep, household_id: uuid.UUID) -> Household:
    return await visible_household(session, principal, household_id, for_update=True, with_members=False)


StageHousehold = Annotated[Household, Depends(_household)]
"""The path's household as the caller may see it (members not loaded)."""

LockedStageHousehold = Annotated[Household, Depends(_locked_household)]
"""The same, locked `FOR UPDATE` until the request's transaction ends."""


# --- records reached by their own id -----------------------------------------------------------------------------
async def _owned(
    session: AsyncSession,
    principal: Principal,
    model: type[R],
    record_id: uuid.UUID,
    detail: str,
    *,
    for_update: bool,
) -> Owned[R]:
    record = found(await repository.get(session, model, record_id), detail)
    try:
        household = await visible_household(
            session, principal, record.household_id, for_update=for_update, with_members=False
        )
    except NotFoundError:
        raise NotFoundError(detail) from None
    if for_update:
        # A record is only deleted with its household, which is now locked.
        record = found(await repository.get(session, model, record_id, for_update=True), detail)
    return Owned(household=household, record=record)


async def _placement(principal: Authenticated, session: SessionDep, placement_id: uuid.UUID) -> Placement:
    return (await _owned(session, principal, Placement, placement_id, NO_PLACEMENT, for_update=False)).record


async def _locked_placement(principal: Authenticated, session: SessionDep, placement_id: uuid.UUID) -> Owned[Placement]:
    return await _owned(session, principal, Placement, placement_id, NO_PLACEMENT, for_update=True)


async def _relay_stay(principal: Authenticated, session: SessionDep, relay_stay_id: uuid.UUID) -> RelayStay:
    return (await _owned(session, principal, RelayStay, relay_stay_id, NO_RELAY_STAY, for_update=False)).record


async def _locked_relay_stay(
    principal: Authenticated, session: SessionDep, relay_stay_id: uuid.UUID
) -> Owned[RelayStay]:
    return await _owned(session, principal, RelayStay, relay_stay_id, NO_RELAY_STAY, for_update=True)


CurrentPlacement = Annotated[Placement, Depends(_placement)]
LockedPlacement = Annotated[Owned[Placement], Depends(_locked_placement)]
CurrentRelayStay = Annotated[RelayStay, Depends(_relay_stay)]
LockedRelayStay = Annotated[Owned[RelayStay], Depends(_locked_relay_stay)]


# --- the household's active allocation ---------------------------------------------------------------------------
async def _allocation(session: SessionDep, household: StageHousehold) -> HousingAllocation:
    return found(await repository.active_allocation(session, household.id), NO_ALLOCATION)


async def _locked_allocation(session: SessionDep, household: LockedStageHousehold) -> Owned[HousingAllocation]:
    allocation = found(await repository.active_allocation(session, household.id, for_update=True), NO_ALLOCATION)
    return Owned(household=household, record=allocation)


CurrentAllocation = Annotated[HousingAllocation, Depends(_allocation)]
"""The household's active allocation (reserved or lease signed); 404 when it has none."""

LockedAllocation = Annotated[Owned[HousingAllocation], Depends(_locked_allocation)]
"""The same, with the household and the allocation locked `FOR UPDATE`."""
