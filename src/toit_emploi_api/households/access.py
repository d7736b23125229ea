"""The one household-access policy: who sees which household (every package that loads a household uses it).

Admins, the service manager and the Paris referent see every household; a partner worker sees only the households
its organisation refers (another organisation's household is a 404, so that its existence does not leak).
Funders and landlords never reach household routes (403 by the routes' role policies).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core.resources import found
from toit_emploi_api.households import repository
from toit_emploi_api.households.models import Household
from toit_emploi_api.vocab.roles import Role

SEE_ALL_ROLES = frozenset({Role.ADMIN, Role.SERVICE_MANAGER, Role.PARIS_REFERENT})
"""Roles that see every household; the others allowed on household routes see their organisation's only."""


def scope_of(principal: Principal) -> uuid.UUID | None:
    """None when the caller sees every household, else the only referring organisation it may see."""
    return None if principal.role in SEE_ALL_ROLES else principal.organisation_id


async def visible_household(
    session: AsyncSession,
    principal: Principal,
    household_id: uuid.UUID,
    *,
    for_update: bool = False,
    with_members: bool = True,
) -> Household:
    """The household (with its members unless told otherwise), locked FOR UPDATE when asked; 404 when missing or
    outside the caller's organisation."""
    household = await repository.get_household(
        session,
        household_id,
        scope_organisation_id=scope_of(principal),
        for_update=for_update,
        with_members=with_members,
    )
    return found(household, "No household with this id.")
