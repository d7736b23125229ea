"""Loader dependencies: the household (and member) of the path, scoped by the access policy.

Another organisation's household is a 404, exactly like a missing one. Declare the route's principal BEFORE the
loader, so that a refused role is a 403, not a 404:

    async def route(principal: HouseholdUserDep, household: CurrentHousehold) -> ...
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from toit_emploi_api.auth.policy import Authenticated
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.households.access import check_members_readable, check_writable, member_of, visible_household
from toit_emploi_api.households.models import Household, Member


async def _current(principal: Authenticated, session: SessionDep, household_id: uuid.UUID) -> Household:
    return await visible_household(session, principal, household_id)


async def _locked(principal: Authenticated, session: SessionDep, household_id: uuid.UUID) -> Household:
    return await visible_household(session, principal, household_id, for_update=True)


CurrentHousehold = Annotated[Household, Depends(_current)]
"""The path's household with its members, as the caller may see it."""

LockedHousehold = Annotated[Household, Depends(_locked)]
"""The same, locked `FOR UPDATE` until the request's transaction ends (for writes)."""


async def _writable(principal: Authenticated, household: LockedHousehold) -> Household:
    check_writable(principal, household)
    return household


WritableHousehold = Annotated[Household, Depends(_writable)]
"""The locked household, which the caller may change now (409 `household-closed` / `household-not-in-diagnostic`)."""


async def _current_member(principal: Authenticated, household: CurrentHousehold, member_id: uuid.UUID) -> Member:
    check_members_readable(principal, household)  # before the member's 404: the partner knows the household
    return member_of(household, member_id)


async def _writable_member(principal: Authenticated, household: LockedHousehold, member_id: uuid.UUID) -> Member:
    member = member_of(household, member_id)
    check_writable(principal, household)
    return member


CurrentMember = Annotated[Member, Depends(_current_member)]
"""The path's member of the path's household (403 `household-status-only` for its partner after diagnostic)."""

WritableMember = Annotated[Member, Depends(_writable_member)]
"""The path's member of the locked household, which the caller may change now (404, then 409 as for writes)."""
