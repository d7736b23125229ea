"""The application's own steps inside diagnostic: the partner submits it, the Paris referent presents it.

Both are dated events of the stage history (`kind` application_submitted / application_presented, from and to
diagnostic), not stages; they move `households.application_status` draft → submitted → presented, which the guard of
diagnostic → matching reads (`application_not_presented`). The rules are the pure table `rules.APPLICATION_STEPS`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit, outbox
from toit_emploi_api.core.clock import today, utcnow
from toit_emploi_api.core.errors import ProblemError
from toit_emploi_api.households.models import Household
from toit_emploi_api.pipeline import events, rules
from toit_emploi_api.pipeline.models import StageTransition
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.events import EventType
from toit_emploi_api.vocab.problems import APPLICATION_STEP_OUT_OF_ORDER, ROLE_NOT_PERMITTED, WRONG_STAGE
from toit_emploi_api.vocab.stages import ApplicationStatus, HistoryKind, Stage

_KINDS = {"submit": HistoryKind.APPLICATION_SUBMITTED, "present": HistoryKind.APPLICATION_PRESENTED}
_ACTIONS = {"submit": AuditAction.HOUSEHOLD_APPLICATION_SUBMIT, "present": AuditAction.HOUSEHOLD_APPLICATION_PRESENT}
_EVENTS = {
    "submit": EventType.HOUSEHOLD_APPLICATION_SUBMITTED,
    "present": EventType.HOUSEHOLD_APPLICATION_PRESENTED,
}


@dataclass(frozen=True)
class StepResult:
    household: Household
    event: StageTransition


def _refuse(rule: str, step: str, household: Household) -> None:
    expected = rules.APPLICATION_STEPS[step].from_status
    if rule == rules.RULE_ROLE_NOT_PERMITTED:
        raise ProblemError(ROLE_NOT_PERMITTED, f"Your role may not {step} an application.")
    if rule == "wrong_stage":
        raise ProblemError(
            WRONG_STAGE,
            f"An application is {step}ed only while the household is in diagnostic; it is in {household.stage.value}.",
            extra={"stage": household.stage.value, "allowed_stages": [Stage.DIAGNOSTIC.value]},
        )
    raise ProblemError(
        APPLICATION_STEP_OUT_OF_ORDER,
        f"The application is {household.application_status.value}: it can be {step}ed only when {expected}.",
        extra={"application_status": household.application_status.value, "expected_status": expected},
    )


async def take_step(
    session: AsyncSession, principal: Principal, household: Household, step: str, note: str | None
) -> StepResult:
    """Take one application step on the (locked) household, If-Match checked by the route; its ETag changes."""
    rule = rules.application_step_rule(step, household.stage, household.application_status.value, principal.role.value)
    if rule != rules.RULE_OK:
        _refuse(rule, step, household)
    now = utcnow()
    household.application_status = ApplicationStatus(rules.APPLICATION_STEPS[step].to_status)
    household.last_contact_date = max(household.last_contact_date or today(), today())  # a step is a contact
    event = StageTransition(
        kind=_KINDS[step],
        household_id=household.id,
        from_stage=Stage.DIAGNOSTIC,
        to_stage=Stage.DIAGNOSTIC,
        at=now,
        actor_kind=principal.kind,
        actor_id=principal.id,
        actor_role=principal.role.value,
        note=note,
    )
    session.add(event)
    await session.flush()
    await audit.record(
        session,
        principal,
        _ACTIONS[step],
        "household",
        household.id,
        household_id=household.id,
        details={"application_status": household.application_status.value, "note": note is not None},
    )
    await outbox.emit(session, _EVENTS[step], **events.application_step(household, now))
    return StepResult(household=household, event=event)
