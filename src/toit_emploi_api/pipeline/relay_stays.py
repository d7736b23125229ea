"""Relay stays: 3 to 5 days in a relay apartment, never overlapping another stay there, and their outcome.

The apartment's hold (housing's `relay_held_until`) follows the stays still booked in it: after a booking, a
cancellation, an outcome (the stay ends) and a withdrawal, `hold_apartments` sets it to their last day (or none),
with the apartment locked first so that two households' stays in one apartment cannot overwrite each other's hold.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import outbox
from toit_emploi_api.core.clock import today, utcnow
from toit_emploi_api.core.errors import ProblemError
from toit_emploi_api.households.models import Household
from toit_emploi_api.housing import holds
from toit_emploi_api.pipeline import events, records, repository
from toit_emploi_api.pipeline.checks import booking_window, check_dates, invalid_field, require_stage
from toit_emploi_api.pipeline.deps import Owned
from toit_emploi_api.pipeline.models import RELAY_STAY_OVERLAP_CONSTRAINT, RelayStay
from toit_emploi_api.pipeline.records import flush, saved
from toit_emploi_api.pipeline.schemas import RelayStayCreate, RelayStayOutcomeIn
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.events import EventType
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


async def hold_apartments(session: AsyncSession, unit_ids: list[uuid.UUID]) -> None:
    """Set each relay apartment's hold to the last day of its stays still booked (None: none). The apartments must
    be locked (`holds.lock_unit`/`lock_units`) before their stays change, so that the hold is computed from the
    committed truth."""
    for unit_id in sorted(set(unit_ids)):
        await holds.set_relay_hold(session, unit_id, await repository.booked_until(session, unit_id))


def _overlap() -> ProblemError:
    return ProblemError(RELAY_STAY_OVERLAP, "The relay apartment is already booked for some of these dates.")


async def create(session: AsyncSession, principal: Principal, household: Household, body: RelayStayCreate) -> RelayStay:
    """Book a stay for the (locked) household; the apartment is locked and held until the stay's last day."""
    check_dates(booking_window("start_date", body.start_date))
    require_stage(household, RELAY_STAGES, "Relay stays can be booked")
    # Locked so that the landlord's sync cannot take the apartment away while it is being booked.
    unit = await holds.lock_unit(session, body.unit_id)
    if unit is None:
        raise invalid_field("unit_id", "unknown housing unit")
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
    await flush(session, {RELAY_STAY_OVERLAP_CONSTRAINT: _overlap})
    await hold_apartments(session, [unit.id])
    details = {"unit_id": str(unit.id)}
    stay = await saved(session, principal, AuditAction.RELAY_STAY_CREATE, stay, household.id, details)
    await outbox.emit(session, EventType.RELAY_STAY_BOOKED, **events.relay_stay(household, stay))
    return stay


list_for = records.household_list(AuditAction.RELAY_STAY_LIST, repository.list_relay_stays)
"""One page of the household's relay stays; the read is recorded with the ids shown."""


async def record_outcome(
    session: AsyncSession, principal: Principal, owned: Owned[RelayStay], body: RelayStayOutcomeIn
) -> RelayStay:
    """Record or correct the outcome of an ended stay (household and stay locked, If-Match checked)."""
    household, stay = owned.household, owned.record
    # Stays may be booked (even after the fact) in matching, but an outcome only counts in relay_stay: it can
    # neither be recorded before the household is there nor rewritten after it left.
    require_stage(household, OUTCOME_STAGES, "A relay stay's outcome can be recorded")
    if stay.status is RelayStayStatus.CANCELLED:
        raise ProblemError(RELAY_STAY_CANCELLED, "This relay stay was cancelled.")
    if stay.end_date > today():
        raise ProblemError(
            RELAY_STAY_NOT_ENDED,
            "The outcome is recorded at the end of the stay (on or after its end date).",
            extra={"end_date": stay.end_date.isoformat()},
        )
    ends_now = stay.status is RelayStayStatus.BOOKED
    if ends_now:
        await holds.lock_unit(session, stay.unit_id)
    stay.status = RelayStayStatus.ENDED
    stay.family_agrees = body.family_agrees
    stay.employer_agrees = body.employer_agrees
    stay.outcome_note = body.note
    stay.outcome_recorded_at = utcnow()
    await session.flush()
    if ends_now:
        await hold_apartments(session, [stay.unit_id])
    details = {"family_agrees": body.family_agrees, "employer_agrees": body.employer_agrees}
    stay = await saved(session, principal, AuditAction.RELAY_STAY_OUTCOME, stay, household.id, details)
    await outbox.emit(session, EventType.RELAY_STAY_OUTCOME_RECORDED, **events.relay_stay(household, stay))
    return stay


async def cancel(session: AsyncSession, principal: Principal, owned: Owned[RelayStay]) -> RelayStay:
    """Cancel a booked stay (household and stay locked, If-Match checked); the apartment's hold follows."""
    household, stay = owned.household, owned.record
    require_stage(household, RELAY_STAGES, "Relay stays can be cancelled")
    if stay.status is not RelayStayStatus.BOOKED:
        raise ProblemError(
            RELAY_STAY_NOT_BOOKED,
            f"Only a booked relay stay can be cancelled; this one is {stay.status.value}.",
        )
    await holds.lock_unit(session, stay.unit_id)
    stay.status = RelayStayStatus.CANCELLED
    stay.cancelled_at = utcnow()
    await session.flush()
    await hold_apartments(session, [stay.unit_id])
    stay = await saved(session, principal, AuditAction.RELAY_STAY_CANCEL, stay, household.id)
    await outbox.emit(session, EventType.RELAY_STAY_CANCELLED, **events.relay_stay(household, stay))
    return stay
