"""Stage moves of a household: facts from the database, the pure rules, then the move under a row lock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit, outbox
from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.core.clock import PROGRAMME_START, today, utcnow
from toit_emploi_api.core.errors import FieldError, ProblemError, ValidationProblemError
from toit_emploi_api.core.resources import ListQuery, PageParams, Slice
from toit_emploi_api.households.models import Household
from toit_emploi_api.housing import holds
from toit_emploi_api.pipeline import allocations, records, relay_stays, repository, rules
from toit_emploi_api.pipeline.checks import check_dates
from toit_emploi_api.pipeline.events import stage_changed
from toit_emploi_api.pipeline.models import StageTransition
from toit_emploi_api.pipeline.rules import Decision, HouseholdFacts
from toit_emploi_api.pipeline.schemas import TransitionCreate
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.events import EventType
from toit_emploi_api.vocab.problems import GUARD_FAILED, ROLE_NOT_PERMITTED, TRANSITION_NOT_ALLOWED
from toit_emploi_api.vocab.stages import ApplicationStatus, Stage
from toit_emploi_api.vocab.statuses import RelayStayStatus

_MESSAGES = {
    rules.RULE_TRANSITION_NOT_ALLOWED: "A household cannot move from {frm} to {to}.",
    rules.RULE_ROLE_NOT_PERMITTED: "Your role may not move a household from {frm} to {to}.",
    rules.RULE_GUARD_FAILED: "The household cannot move from {frm} to {to} yet: {codes}.",
}


_PROBLEMS = {
    rules.RULE_TRANSITION_NOT_ALLOWED: TRANSITION_NOT_ALLOWED,
    rules.RULE_ROLE_NOT_PERMITTED: ROLE_NOT_PERMITTED,
    rules.RULE_GUARD_FAILED: GUARD_FAILED,
}


@dataclass(frozen=True)
class TransitionResult:
    household: Household
    transition: StageTransition
    released: dict[str, int]


def _facts(household: Household, row: repository.FactsRow, body: TransitionCreate) -> HouseholdFacts:
    outcome: rules.RelayStayOutcome | None = None
    if row.latest_stay_status is RelayStayStatus.ENDED:
        outcome = "validated" if row.latest_family_agrees and row.latest_employer_agrees else "disagreed"
    closure_date = body.closure_date or household.closure_date
    closure_note = body.note if body.to is Stage.COMPLETED and body.note else household.closure_note
    return HouseholdFacts(
        application_presented=household.application_status is ApplicationStatus.PRESENTED,
        adult_count=row.adult_count,
        adults_with_rome_profile=row.adults_with_rome_profile,
        consent_recorded=household.consent_date is not None,
        relay_stay_booked=row.relay_stay_booked,
        placements_with_employer_meeting=row.placements_with_employer_meeting,
        relay_stay_outcome=outcome,
        relay_stay_disagreement_reason_recorded=bool(row.latest_outcome_note and row.latest_outcome_note.strip()),
        relay_stay_still_booked=row.relay_stay_still_booked,
        hired_placement_with_contract=row.hired_with_contract > 0,
        allocation_lease_signed=row.lease_signed,
        closure_date_and_note=closure_date is not None and bool(closure_note and closure_note.strip()),
        reason=body.reason,
        note=body.note,
    )


def _refuse(decision: Decision, frm: Stage, to: Stage) -> None:
    detail = _MESSAGES[decision.rule].format(frm=frm.value, to=to.value, codes=", ".join(decision.codes))
    extra = {
        "from": frm.value,
        "to": to.value,
        "unmet": [{"code": c.code, "message": c.message} for c in decision.unmet],
    }
    raise ProblemError(_PROBLEMS[decision.rule], detail, extra=extra)


def _validate_body(body: TransitionCreate) -> None:
    if body.closure_date is not None and body.to is not Stage.COMPLETED:
        raise ValidationProblemError(
            "closure_date is only accepted with a move to completed.",
            errors=[FieldError(field="closure_date", message="only for to=completed")],
        )
    check_dates(("closure_date", body.closure_date, PROGRAMME_START, today()))


async def _release_for_withdrawal(session: AsyncSession, household: Household, now: datetime) -> dict[str, int]:
    """Cancel the reserved allocation (unit released), every relay stay still booked (whatever its dates: a
    past-dated stay without outcome would otherwise stay booked forever) and the open placements. The units
    concerned are locked first, in one statement and in id order, before any of their records changes."""
    relay_units = await repository.booked_stay_unit_ids(session, household.id)
    await holds.lock_units(session, relay_units + await repository.reserved_unit_ids(session, household.id))
    allocations_released = await allocations.release_reserved(session, household.id, now)
    stays = await repository.cancel_booked_stays(session, household.id, now)
    await relay_stays.hold_apartments(session, relay_units)
    placements = await repository.cancel_open_placements(session, household.id, now)
    return {"allocations": allocations_released, "relay_stays": stays, "placements": placements}


async def _release_for_step_back(session: AsyncSession, household: Household, now: datetime) -> dict[str, int]:
    """Back to looking for another employer: the unit reserved for this project is no longer held."""
    await holds.lock_units(session, await repository.reserved_unit_ids(session, household.id))
    return {"allocations": await allocations.release_reserved(session, household.id, now)}


async def transition(
    session: AsyncSession, principal: Principal, household: Household, body: TransitionCreate
) -> TransitionResult:
    """Move the (locked) household in this transaction, If-Match checked by the route."""
    _validate_body(body)
    frm = household.stage
    row = await repository.facts(session, household.id, today(), household.stage_entered_at)
    decision = rules.evaluate(frm, body.to, principal.role.value, _facts(household, row, body))
    if not decision.allowed:
        _refuse(decision, frm, body.to)
    now = utcnow()
    released: dict[str, int] = {}
    household.stage = body.to
    household.stage_entered_at = now
    household.last_contact_date = max(household.last_contact_date or today(), today())  # a move is a contact
    if body.to is Stage.WITHDRAWN:
        household.withdrawal_reason = body.reason
        released = await _release_for_withdrawal(session, household, now)
    if frm is Stage.RELAY_STAY and body.to is Stage.MATCHING:
        released = await _release_for_step_back(session, household, now)
    if body.to is Stage.COMPLETED:
        household.closure_date = body.closure_date or household.closure_date
        household.closure_note = body.note or household.closure_note
    move = StageTransition(
        household_id=household.id,
        from_stage=frm,
        to_stage=body.to,
        at=now,
        actor_kind=principal.kind,
        actor_id=principal.id,
        actor_role=principal.role.value,
        reason=body.reason,
        note=body.note,
    )
    session.add(move)
    await session.flush()
    details: dict[str, object] = {"from": frm.value, "to": body.to.value}
    if body.reason:
        details["reason"] = body.reason
    if released:
        details["released"] = released
    await audit.record(
        session,
        principal,
        AuditAction.HOUSEHOLD_TRANSITION,
        "household",
        household.id,
        household_id=household.id,
        details=details,
    )
    await outbox.emit(session, EventType.HOUSEHOLD_STAGE_CHANGED, **stage_changed(household, move, released))
    return TransitionResult(household=household, transition=move, released=released)


async def history(session: AsyncSession, principal: Principal, household: Household) -> Sequence[StageTransition]:
    """Every move of the household, oldest first; the read is recorded (notes and reasons went out)."""
    moves = await repository.history(session, household.id)
    await records.read(session, principal, AuditAction.HOUSEHOLD_HISTORY_READ, household.id, moves)
    return moves


async def events(
    session: AsyncSession, principal: Principal, household: Household, page: PageParams, q: ListQuery
) -> Slice[AuditEvent]:
    """One page of the household's pipeline events; the read is recorded."""
    await records.read(session, principal, AuditAction.HOUSEHOLD_PIPELINE_EVENTS_READ, household.id, [])
    return await repository.list_events(session, household.id, page, q)
