"""Relay stays: 3 to 5 days in a relay apartment, never overlapping another stay there, and their outcome."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit
from toit_emploi_api.core.clock import today, utcnow
from toit_emploi_api.core.errors import FieldError, NotFoundError, ProblemError, ValidationProblemError
from toit_emploi_api.core.etag import require_if_match
from toit_emploi_api.households.models import Household
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline import repository
from toit_emploi_api.pipeline.access import booking_window, check_dates, constraint_name, household_for, require_stage
from toit_emploi_api.pipeline.models import RELAY_STAY_OVERLAP_CONSTRAINT, RelayStay
from toit_emploi_api.pipeline.schemas import RelayStayCreate, RelayStayOutcomeIn
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.problems import (
    NOT_A_RELAY_APARTMENT,
    RELAY_APARTMENT_UNAVAILABLE,
    RELAY_STAY_ALREADY_BOOKED,
    RELAY_STAY_CANCELLED,
    RELAY_STAY_NOT_BOOKED,
    RELAY_STAY_NOT_ENDED,
    RELAY_STAY_OVERLAP,
)
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import RelayStayStatus, UnitStatus

RELAY_STAGES = (Stage.MATCHING, Stage.RELAY_STAY)
OUTCOME_STAGES = (Stage.RELAY_STAY,)


async def create(
    session: AsyncSession, principal: Principal, household_id: uuid.UUID, body: RelayStayCreate
) -> RelayStay:
    check_dates(booking_window("start_date", body.start_date))
    household = await household_for(session, principal, household_id, for_update=True)
    require_stage(household, RELAY_STAGES, "Relay stays can be booked")
    # Locked so that the landlord's sync cannot take the apartment away while it is being booked.
    unit = await repository.get(session, HousingUnit, body.unit_id, for_update=True)
    if unit is None:
        raise ValidationProblemError(
            "unit_id: unknown housing unit", errors=[FieldError(field="unit_id", message="unknown housing unit")]
        )
    if not unit.is_relay:
        raise ProblemError(NOT_A_RELAY_APARTMENT, "This housing unit is not a relay apartment.")
    if unit.status is not UnitStatus.VACANT:
        raise ProblemError(
            RELAY_APARTMENT_UNAVAILABLE,
            f"This relay apartment is {unit.status.value}: it cannot be booked.",
            extra={"unit_status": unit.status.value},
        )
    if await repository.has_booked_stay(session, household.id):
        raise ProblemError(
            RELAY_STAY_ALREADY_BOOKED,
            "The household already has a booked relay stay; cancel it or record its outcome first.",
        )
    stay = RelayStay(
        household_id=household.id,
        unit_id=unit.id,
        start_date=body.start_date,
        end_date=body.end_date,
        status=RelayStayStatus.BOOKED,
    )
    session.add(stay)
    try:
        await session.flush()
    except IntegrityError as exc:
        if constraint_name(exc) == RELAY_STAY_OVERLAP_CONSTRAINT:
            raise ProblemError(
                RELAY_STAY_OVERLAP, "The relay apartment is already booked for some of these dates."
            ) from None
        raise
    await session.refresh(stay)
    await audit.record(
        session,
        principal,
        AuditAction.RELAY_STAY_CREATE,
        "relay_stay",
        stay.id,
        household_id=household.id,
        details={"unit_id": str(unit.id)},
    )
    return stay


async def get(session: AsyncSession, principal: Principal, relay_stay_id: uuid.UUID) -> RelayStay:
    stay = await repository.get(session, RelayStay, relay_stay_id)
    if stay is None:
        raise NotFoundError("No relay stay with this id.")
    await household_for(session, principal, stay.household_id)
    return stay


async def list_for(
    session: AsyncSession, principal: Principal, household_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[RelayStay], int]:
    household = await household_for(session, principal, household_id)
    return await repository.list_relay_stays(session, household.id, limit, offset)


async def _locked(
    session: AsyncSession,
    principal: Principal,
    relay_stay_id: uuid.UUID,
    if_match: str | None,
    stages: tuple[Stage, ...],
    what: str,
) -> tuple[Household, RelayStay]:
    found = await repository.get(session, RelayStay, relay_stay_id)
    if found is None:
        raise NotFoundError("No relay stay with this id.")
    household = await household_for(session, principal, found.household_id, for_update=True)
    stay = await repository.get(session, RelayStay, relay_stay_id, for_update=True)
    assert stay is not None  # deleted only with its household, which is locked
    require_if_match(if_match, stay.version)
    require_stage(household, stages, what)
    return household, stay


async def record_outcome(
    session: AsyncSession,
    principal: Principal,
    relay_stay_id: uuid.UUID,
    body: RelayStayOutcomeIn,
    if_match: str | None,
) -> RelayStay:
    # Stays may be booked (even after the fact) in matching, but an outcome only counts in relay_stay: it can
    # neither be recorded before the household is there nor rewritten after it left.
    household, stay = await _locked(
        session, principal, relay_stay_id, if_match, OUTCOME_STAGES, "A relay stay's outcome can be recorded"
    )
    if stay.status is RelayStayStatus.CANCELLED:
        raise ProblemError(RELAY_STAY_CANCELLED, "This relay stay was cancelled.")
    if stay.end_date > today():
        raise ProblemError(
            RELAY_STAY_NOT_ENDED,
            "The outcome is recorded at the end of the stay (on or after its end date).",
            extra={"end_date": stay.end_date.isoformat()},
        )
    stay.status = RelayStayStatus.ENDED
    stay.family_agrees = body.family_agrees
    stay.employer_agrees = body.employer_agrees
    stay.outcome_note = body.note
    stay.outcome_recorded_at = utcnow()
    await session.flush()
    await session.refresh(stay)
    await audit.record(
        session,
        principal,
        AuditAction.RELAY_STAY_OUTCOME,
        "relay_stay",
        stay.id,
        household_id=household.id,
        details={"family_agrees": body.family_agrees, "employer_agrees": body.employer_agrees},
    )
    return stay


async def cancel(
    session: AsyncSession, principal: Principal, relay_stay_id: uuid.UUID, if_match: str | None
) -> RelayStay:
    household, stay = await _locked(
        session, principal, relay_stay_id, if_match, RELAY_STAGES, "Relay stays can be cancelled"
    )
    if stay.status is not RelayStayStatus.BOOKED:
        raise ProblemError(
            RELAY_STAY_NOT_BOOKED,
            f"Only a booked relay stay can be cancelled; this one is {stay.status.value}.",
        )
    stay.status = RelayStayStatus.CANCELLED
    stay.cancelled_at = utcnow()
    await session.flush()
    await session.refresh(stay)
    await audit.record(
        session, principal, AuditAction.RELAY_STAY_CANCEL, "relay_stay", stay.id, household_id=household.id
    )
    return stay
