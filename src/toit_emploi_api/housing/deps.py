"""Loader dependencies: the housing unit of the path, as the caller may see it (404 across organisations).

A landlord sees its own organisation's units only; Paris referents and partner workers see vacant units only; the
service manager and admins see every unit. A unit the caller may not see is 404, never 403 (existence does not leak).

    async def route(principal: WriterDep, unit: LockedUnit) -> ...   # principal first: 403 before 404
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from toit_emploi_api.auth.policy import Authenticated
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.housing import service
from toit_emploi_api.housing.models import HousingUnit


async def _current(principal: Authenticated, session: SessionDep, unit_id: uuid.UUID) -> HousingUnit:
    return await service.visible_unit(session, principal, unit_id)


async def _locked(principal: Authenticated, session: SessionDep, unit_id: uuid.UUID) -> HousingUnit:
    return await service.visible_unit(session, principal, unit_id, for_update=True)


CurrentUnit = Annotated[HousingUnit, Depends(_current)]
"""The path's housing unit, as the caller may see it."""

LockedUnit = Annotated[HousingUnit, Depends(_locked)]
"""The same, locked `FOR UPDATE` until the request's transaction ends (for writes)."""
