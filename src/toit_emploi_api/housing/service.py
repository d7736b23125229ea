"""Rules of housing units: who sees and writes which unit, statuses owned by the pipeline. Flushes only."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit, clock
from toit_emploi_api.core.errors import FieldError, ProblemError, ValidationProblemError
from toit_emploi_api.core.resources import PageParams, Slice, found
from toit_emploi_api.housing import repository, rules
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.housing.repository import UnitFilters
from toit_emploi_api.housing.schemas import NOT_NULLABLE, HousingUnitCreate, HousingUnitUpdate
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.problems import (
    LANDLORD_REFERENCE_TAKEN,
    UNIT_ALLOCATED,
    UNIT_HAS_BOOKED_RELAY_STAY,
    UNIT_HELD_BY_PROGRAMME,
)
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.statuses import UnitStatus

# Roles that read vacant units only, without landlord internals.
PUBLIC_READERS = frozenset({Role.PARIS_REFERENT, Role.PARTNER_WORKER})


def sees_full_unit(principal: Principal) -> bool:
    return principal.role not in PUBLIC_READERS


def _scope(principal: Principal) -> tuple[uuid.UUID | None, bool]:
    """(only this landlord organisation, only vacant units) for the caller."""
    if principal.role is Role.LANDLORD:
        return principal.organisation_id, False
    if principal.role in PUBLIC_READERS:
        return None, True
    return None, False


def _visible(principal: Principal, unit: HousingUnit) -> bool:
    only_org, only_vacant = _scope(principal)
    if only_org is not None and unit.landlord_organisation_id != only_org:
        return False
    return not (only_vacant and unit.status is not UnitStatus.VACANT)


async def list_units(
    session: AsyncSession, principal: Principal, filters: UnitFilters, sort: str | None, page: PageParams
) -> Slice[HousingUnit]:
    """One page of the units the caller may see (its filters narrow the caller's scope, never widen it)."""
    only_org, only_vacant = _scope(principal)
    return await repository.list_page(session, filters, sort, page, only_organisation=only_org, only_vacant=only_vacant)


async def visible_unit(
    session: AsyncSession, principal: Principal, unit_id: uuid.UUID, *, for_update: bool = False
) -> HousingUnit:
    """The unit, if the caller may see it; else 404 (another landlord's unit included: existence does not leak)."""
    unit = await repository.get(session, unit_id, for_update=for_update)
    return found(unit if unit is not None and _visible(principal, unit) else None, "No housing unit with this id.")


async def resolve_landlord(
    session: AsyncSession, principal: Principal, requested: uuid.UUID | None, field: str
) -> uuid.UUID:
    """The landlord organisation a write acts for: a landlord's own; admin/service manager must name one."""
    if principal.role is Role.LANDLORD:
        if requested is not None and requested != principal.organisation_id:
            raise ValidationProblemError(
                "A landlord acts for its own organisation only.",
                errors=[FieldError(field=field, message="must be your own organisation, or omitted")],
            )
        return principal.organisation_id
    if requested is None:
        raise ValidationProblemError(
            "Say which landlord organisation this is for.",
            errors=[FieldError(field=field, message="required for your role")],
        )
    if await repository.organisation_kind(session, requested) is not OrganisationKind.LANDLORD:
        raise ValidationProblemError(
            "The organisation does not exist or is not a landlord.",
            errors=[FieldError(field=field, message="must be an existing landlord organisation")],
        )
    return requested


def _reference_taken() -> ProblemError:
    return ProblemError(LANDLORD_REFERENCE_TAKEN, "This landlord already has a unit with this reference.")


async def create_unit(session: AsyncSession, principal: Principal, data: HousingUnitCreate) -> HousingUnit:
    org_id = await resolve_landlord(session, principal, data.landlord_organisation_id, "landlord_organisation_id")
    if await repository.reference_taken(session, org_id, data.landlord_reference):
        raise _reference_taken()
    unit = HousingUnit(landlord_organisation_id=org_id, **data.model_dump(exclude={"landlord_organisation_id"}))
    session.add(unit)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise _reference_taken() from None
    await session.refresh(unit, ["commune_name"])  # read from the communes reference
    await audit.record(
        session,
        principal,
        AuditAction.HOUSING_UNIT_CREATE,
        "housing_unit",
        unit.id,
        details={"status": unit.status.value},
    )
    return unit


async def update_unit(
    session: AsyncSession, principal: Principal, unit: HousingUnit, data: HousingUnitUpdate
) -> HousingUnit:
    changes = data.model_dump(exclude_unset=True)
    nulls = sorted(k for k, v in changes.items() if v is None and k in NOT_NULLABLE)
    if nulls:
        raise ValidationProblemError(
            "These fields cannot be cleared.",
            errors=[FieldError(field=k, message="may not be null") for k in nulls],
        )
    changes = {k: v for k, v in changes.items() if getattr(unit, k) != v}
    if unit.status in rules.PIPELINE_STATUSES:
        if "status" in changes:
            raise ProblemError(
                UNIT_HELD_BY_PROGRAMME,
                f"The unit is {unit.status.value}: its status is managed by its housing allocation.",
            )
        if changes and principal.role is Role.LANDLORD:
            raise ProblemError(
                UNIT_HELD_BY_PROGRAMME,
                f"The unit is {unit.status.value} by the programme: ask the service manager to change its facts.",
            )
    held = sorted(k for k in ("is_relay", "status") if k in changes)
    if held and rules.relay_held(unit.relay_held_until, clock.today()):
        raise ProblemError(
            UNIT_HAS_BOOKED_RELAY_STAY,
            f"The unit is a relay apartment with a booked stay: its {' and '.join(held)} cannot change until the "
            "stay ends or is cancelled.",
            extra={"fields": held},
        )
    ref = changes.get("landlord_reference")
    if ref is not None and await repository.reference_taken(
        session, unit.landlord_organisation_id, ref, exclude=unit.id
    ):
        raise _reference_taken()
    if not changes:
        return unit
    for key, value in changes.items():
        setattr(unit, key, value)
    await session.flush()
    await session.refresh(unit, ["updated_at", "commune_name"])  # set by the database on UPDATE; the reference
    await audit.record(
        session,
        principal,
        AuditAction.HOUSING_UNIT_UPDATE,
        "housing_unit",
        unit.id,
        details={"fields": sorted(changes)},
    )
    return unit


async def delete_unit(session: AsyncSession, principal: Principal, unit: HousingUnit) -> None:
    if unit.status not in rules.MANUAL_STATUSES:
        raise ProblemError(
            UNIT_ALLOCATED,
            f"The unit is {unit.status.value}: a unit that was allocated cannot be deleted; mark it unavailable.",
        )
    try:
        async with session.begin_nested():
            await repository.delete_unit(session, unit.id)
    except IntegrityError:
        # Rows of other tables (e.g. allocations, relay stays) refer to it.
        raise ProblemError(
            UNIT_ALLOCATED,
            "The unit has a history in the programme and cannot be deleted; mark it unavailable.",
        ) from None
    await audit.record(session, principal, AuditAction.HOUSING_UNIT_DELETE, "housing_unit", unit.id)
