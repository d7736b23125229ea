"""Housing allocation: reserve a vacant unit big enough, record the lease, or cancel.

The unit's status belongs to housing: it is reserved, let and released through `housing.holds`, with the unit
locked first."""

from __future__ import annotations

import math
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import outbox
from toit_emploi_api.core.clock import utcnow
from toit_emploi_api.core.errors import ProblemError
from toit_emploi_api.households.models import Household
from toit_emploi_api.housing import holds
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline import events, repository
from toit_emploi_api.pipeline.checks import check_dates, invalid_field, require_stage, sane_date
from toit_emploi_api.pipeline.deps import Owned
from toit_emploi_api.pipeline.models import (
    ALLOCATION_HOUSEHOLD_ACTIVE_INDEX,
    ALLOCATION_UNIT_ACTIVE_INDEX,
    HousingAllocation,
)
from toit_emploi_api.pipeline.records import flush, saved
from toit_emploi_api.pipeline.schemas import AllocationCancel, AllocationCreate, AllocationLease
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.events import EventType
from toit_emploi_api.vocab.problems import (
    ALLOCATION_NOT_RESERVED,
    HOUSEHOLD_ALREADY_ALLOCATED,
    UNIT_IS_RELAY_APARTMENT,
    UNIT_NOT_AVAILABLE,
    UNIT_TOO_SMALL,
)
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import AllocationStatus, MemberRole, UnitStatus

ALLOCATION_STAGES = (Stage.RELAY_STAY, Stage.LEASE)


def required_bedrooms(children: int) -> int:
    """One bedroom for the adults, one per two children."""
    return 1 + math.ceil(children / 2)


def bedrooms(rooms: int) -> int:
    """French room count includes the living room: a T3 has 2 bedrooms."""
    return rooms - 1


def _unit_unavailable() -> ProblemError:
    return ProblemError(UNIT_NOT_AVAILABLE, "The housing unit is not vacant.")


def _household_allocated() -> ProblemError:
    return ProblemError(HOUSEHOLD_ALREADY_ALLOCATED, "The household already has an active allocation; cancel it first.")


async def reserve(
    session: AsyncSession, principal: Principal, household: Household, body: AllocationCreate
) -> HousingAllocation:
    """Reserve a vacant, non-relay unit for the (locked, members loaded) household."""
    require_stage(household, ALLOCATION_STAGES, "A housing unit can be reserved")
    if await repository.active_allocation(session, household.id) is not None:
        raise _household_allocated()
    unit = await holds.lock_unit(session, body.unit_id)
    if unit is None:
        raise invalid_field("unit_id", "unknown housing unit")
    if unit.is_relay:
        raise ProblemError(UNIT_IS_RELAY_APARTMENT, "A relay apartment cannot be allocated to a household.")
    if unit.status is not UnitStatus.VACANT:
        raise _unit_unavailable()
    needed = required_bedrooms(sum(1 for m in household.members if m.role is MemberRole.CHILD))
    if bedrooms(unit.rooms) < needed and not body.override_reason:
        raise ProblemError(
            UNIT_TOO_SMALL,
            f"The unit has {bedrooms(unit.rooms)} bedroom(s); the household needs {needed}. "
            "Give an override_reason to reserve it anyway.",
            extra={"bedrooms": bedrooms(unit.rooms), "required_bedrooms": needed},
        )
    allocation = HousingAllocation(
        household_id=household.id,
        unit_id=unit.id,
        status=AllocationStatus.RESERVED,
        override_reason=body.override_reason,
    )
    session.add(allocation)
    # Backstop of the checks above: the partial unique indexes.
    await flush(
        session,
        {ALLOCATION_UNIT_ACTIVE_INDEX: _unit_unavailable, ALLOCATION_HOUSEHOLD_ACTIVE_INDEX: _household_allocated},
    )
    await holds.reserve_unit(session, unit)
    details: dict[str, object] = {"unit_id": str(unit.id), "override": body.override_reason is not None}
    allocation = await saved(session, principal, AuditAction.ALLOCATION_RESERVE, allocation, household.id, details)
    await outbox.emit(session, EventType.ALLOCATION_CHANGED, **events.allocation_changed(household, allocation))
    return allocation


async def _reserved_unit(session: AsyncSession, allocation: HousingAllocation) -> HousingUnit:
    """409 `allocation-not-reserved` unless the allocation is reserved; its unit, locked."""
    if allocation.status is not AllocationStatus.RESERVED:
        raise ProblemError(
            ALLOCATION_NOT_RESERVED,
            f"The allocation is {allocation.status.value}; only a reserved allocation can change.",
        )
    unit = await holds.lock_unit(session, allocation.unit_id)
    assert unit is not None  # referenced by the allocation
    return unit


async def sign_lease(
    session: AsyncSession, principal: Principal, owned: Owned[HousingAllocation], body: AllocationLease
) -> HousingAllocation:
    """Record the lease of a reserved allocation (household and allocation locked, If-Match checked)."""
    household, allocation = owned.household, owned.record
    check_dates(sane_date("lease_signed_date", body.lease_signed_date), sane_date("move_in_date", body.move_in_date))
    unit = await _reserved_unit(session, allocation)
    require_stage(household, (Stage.LEASE,), "The lease can be recorded")
    allocation.status = AllocationStatus.LEASE_SIGNED
    allocation.lease_signed_date = body.lease_signed_date
    allocation.move_in_date = body.move_in_date
    await session.flush()
    await holds.let_unit(session, unit)
    allocation = await saved(session, principal, AuditAction.ALLOCATION_LEASE_SIGNED, allocation, household.id)
    await outbox.emit(session, EventType.ALLOCATION_CHANGED, **events.allocation_changed(household, allocation))
    return allocation


async def cancel(
    session: AsyncSession, principal: Principal, owned: Owned[HousingAllocation], body: AllocationCancel
) -> HousingAllocation:
    """Cancel a reservation (household and allocation locked, If-Match checked); the unit is released."""
    household, allocation = owned.household, owned.record
    unit = await _reserved_unit(session, allocation)
    require_stage(household, ALLOCATION_STAGES, "A reservation can be cancelled")
    allocation.status = AllocationStatus.CANCELLED
    allocation.cancelled_at = utcnow()
    await session.flush()
    await holds.release_unit(session, unit)
    details = {"unit_id": str(unit.id)}
    allocation = await saved(session, principal, AuditAction.ALLOCATION_CANCEL, allocation, household.id, details)
    await outbox.emit(session, EventType.ALLOCATION_CHANGED, **events.allocation_changed(household, allocation))
    return allocation


async def release_reserved(session: AsyncSession, household_id: uuid.UUID, now: datetime) -> int:
    """Cancel the household's reserved allocation (a signed lease stays) and release its unit; how many (0 or 1).
    The caller has locked the household and the unit."""
    unit_ids = await repository.cancel_reserved_allocation(session, household_id, now)
    await holds.release_units(session, unit_ids)
    return len(unit_ids)
