"""Loader dependencies: the household of the path, scoped by the access policy (404 across organisations).

async def route(principal: ReaderDep, household: CurrentHousehold) -> ...   # principal first: 403 before 404
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from toit_emploi_api.auth.policy import Authenticated
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.households.access import visible_household
from toit_emploi_api.households.models import Household


async def _current(principal: Authenticated, session: SessionDep, household_id: uuid.UUID) -> Household:
    return await visible_household(session, principal, household_id)


async def _locked(principal: Authenticated, session: SessionDep, household_id: uuid.UUID) -> Household:
    return await visible_household(session, principal, household_id, for_update=True)


CurrentHousehold = Annotated[Household, Depends(_current)]
"""The path's household with its members, as the caller may see it."""

LockedHousehold = Annotated[Household, Depends(_locked)]
"""The same, locked `FOR UPDATE` until the request's transaction ends (for writes)."""
