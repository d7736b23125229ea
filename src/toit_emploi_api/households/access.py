"""The one household-access policy: who sees which household (every package that loads a household uses it),
how much of it, and who may write it when.

Admins, the service manager and the Paris referent see every household; a partner worker sees only the households
its organisation refers (another organisation's household is a 404, so that its existence does not leak), and once
it has left diagnostic only its status view (its members are a 403 `household-status-only`).
Funders and landlords never reach household routes (403 by the routes' role policies).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core.errors import ProblemError
from toit_emploi_api.core.resources import found
from toit_emploi_api.households import repository
from toit_emploi_api.households.models import Household, Member
from toit_emploi_api.vocab.problems import HOUSEHOLD_CLOSED, HOUSEHOLD_NOT_IN_DIAGNOSTIC, HOUSEHOLD_STATUS_ONLY
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import TERMINAL_STAGES, Stage

SEE_ALL_ROLES = frozenset({Role.ADMIN, Role.SERVICE_MANAGER, Role.PARIS_REFERENT})
"""Roles that see every household; the others allowed on household routes see their organisation's only."""

NO_MEMBER = "No member with this id in this household."

DIAGNOSTIC_ONLY_WRITERS = frozenset({Role.PARTNER_WORKER, Role.PARIS_REFERENT})
"""Roles that may write a household only while it is in diagnostic."""


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


def member_of(household: Household, member_id: uuid.UUID) -> Member:
    """The household's member with this id; 404 when it has none."""
    return found(next((m for m in household.members if m.id == member_id), None), NO_MEMBER)


async def read_member(session: AsyncSession, household: Household, member_id: uuid.UUID) -> Member:
    """The same for a household loaded without its members: the member read alone; 404 when it has none."""
    return found(await repository.get_member(session, household.id, member_id), NO_MEMBER)


def sees_status_only(principal: Principal, household: Household) -> bool:
    """A partner worker reads only the stage and dates of its household once it has left diagnostic."""
    return principal.role is Role.PARTNER_WORKER and household.stage is not Stage.DIAGNOSTIC


def check_members_readable(principal: Principal, household: Household) -> None:
    """403 for a partner worker reading the members of its household after diagnostic (it knows the household)."""
    if sees_status_only(principal, household):
        raise ProblemError(
            HOUSEHOLD_STATUS_ONLY,
            "The household has left the diagnostic stage: its partner organisation reads its stage and dates only.",
            extra={"stage": household.stage.value},
        )


def check_writable(principal: Principal, household: Household) -> None:
    """409 when the household is closed, or has left diagnostic for a partner worker or the Paris referent."""
    if household.stage in TERMINAL_STAGES or household.anonymised_at is not None:
        raise ProblemError(
            HOUSEHOLD_CLOSED,
            f"The household is {household.stage.value}: its file can no longer be changed.",
            extra={"stage": household.stage.value},
        )
    if principal.role in DIAGNOSTIC_ONLY_WRITERS and household.stage is not Stage.DIAGNOSTIC:
        raise ProblemError(
            HOUSEHOLD_NOT_IN_DIAGNOSTIC,
            "The household has left the diagnostic stage: only the service manager may change it now.",
            extra={"stage": household.stage.value},
        )
