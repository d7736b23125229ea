"""HTTP endpoints of the pipeline: stage moves and history, placements, relay stays, allocation, follow-up.

HTTP only: the loaders of `pipeline.deps` (and `households.deps`) load the path's household or record within what the
caller may see (another organisation's is a 404) and lock it for writes; the route checks If-Match, calls one
service function and shapes the answer. The rules are in docs/pipeline.md and in each route's docstring.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Body, Depends, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic.main import IncEx

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.clock import days_since
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.core.idempotency import idempotent
from toit_emploi_api.core.problems import NOT_FOUND
from toit_emploi_api.core.resources import (
    ChronologySort,
    IfMatchDep,
    ListQuery,
    Page,
    PageDep,
    answers_etag,
    created_answer,
    etag_answer,
    etag_for,
    list_query,
    with_etag,
)
from toit_emploi_api.households.deps import LockedHousehold
from toit_emploi_api.households.models import Household
from toit_emploi_api.pipeline import (
    allocations,
    application,
    follow_up,
    placements,
    records,
    relay_stays,
    service,
    views,
)
from toit_emploi_api.pipeline.deps import (
    CurrentAllocation,
    CurrentPlacement,
    CurrentRelayStay,
    LockedAllocation,
    LockedPlacement,
    LockedRelayStay,
    LockedStageHousehold,
    StageHousehold,
)
from toit_emploi_api.pipeline.schemas import (
    ALLOCATION_CREATE_EXAMPLES,
    ALLOCATION_LEASE_EXAMPLES,
    APPLICATION_STEP_EXAMPLES,
    FOLLOW_UP_EXAMPLES,
    OUTCOME_EXAMPLES,
    PLACEMENT_CREATE_EXAMPLES,
    PLACEMENT_UPDATE_EXAMPLES,
    RELAY_STAY_EXAMPLES,
    TRANSITION_EXAMPLES,
    AllocationCancel,
    AllocationCreate,
    AllocationLease,
    AllocationOut,
    ApplicationStepIn,
    ApplicationStepOut,
    FollowUpEntryCreate,
    FollowUpEntryOut,
    FollowUpEntrySort,
    PipelineEventOut,
    PlacementCreate,
    PlacementOut,
    PlacementSort,
    PlacementUpdate,
    RelayStayCreate,
    RelayStayOut,
    RelayStayOutcomeIn,
    RelayStaySort,
    StageHistoryOut,
    TransitionCreate,
    TransitionResultOut,
)
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.problems import (
    ALLOCATION_NOT_RESERVED,
    APPLICATION_STEP_OUT_OF_ORDER,
    GUARD_FAILED,
    HOUSEHOLD_ALREADY_ALLOCATED,
    JOB_OPENING_CLOSED,
    JOB_OPENING_FULL,
    JOB_OPENING_NOT_OPEN,
    NOT_A_RELAY_APARTMENT,
    PLACEMENT_ALREADY_OPEN,
    PLACEMENT_CLOSED,
    PLACEMENT_MOVE_NOT_ALLOWED,
    RELAY_APARTMENT_UNAVAILABLE,
    RELAY_STAY_ALREADY_BOOKED,
    RELAY_STAY_CANCELLED,
    RELAY_STAY_NOT_BOOKED,
    RELAY_STAY_NOT_ENDED,
    RELAY_STAY_OVERLAP,
    ROLE_NOT_PERMITTED,
    TRANSITION_NOT_ALLOWED,
    UNIT_IS_RELAY_APARTMENT,
    UNIT_NOT_AVAILABLE,
    UNIT_TOO_SMALL,
    WRONG_STAGE,
)
from toit_emploi_api.vocab.roles import Role

router = APIRouter(prefix="/api/v1", tags=["pipeline"])

PlacementQuery = Annotated[ListQuery, list_query(PlacementSort, PlacementSort.CREATED_AT, created=True)]
RelayStayQuery = Annotated[ListQuery, list_query(RelayStaySort, RelayStaySort.START_DATE, created=True)]
FollowUpQuery = Annotated[ListQuery, list_query(FollowUpEntrySort, FollowUpEntrySort.ENTRY_DATE_DESC, created=True)]
EventQuery = Annotated[ListQuery, list_query(ChronologySort, ChronologySort.AT)]

# Transitions: the Paris referent and partner workers may only withdraw in diagnostic (checked by the rules).
MoverDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER))]
HistoryReaderDep = MoverDep
ReaderDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT))]
WriterDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER))]
SubmitterDep = Annotated[Principal, Depends(authorize(Role.PARTNER_WORKER, Role.PARIS_REFERENT))]
PresenterDep = Annotated[Principal, Depends(authorize(Role.PARIS_REFERENT, Role.SERVICE_MANAGER))]
_READ = problem_responses(NOT_FOUND)


def _stage_out(household: Household) -> dict[str, object]:
    return {
        "household_id": household.id,
        "stage": household.stage,
        "application_status": household.application_status,
        "stage_entered_at": household.stage_entered_at,
        "days_in_stage": days_since(household.stage_entered_at),
        "closure_date": household.closure_date,
        "withdrawal_reason": household.withdrawal_reason,
    }


# --- stage transitions -------------------------------------------------------------------------------------------
@router.post(
    "/households/{household_id}/transitions",
    summary="Move a household to another stage",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(NOT_FOUND, GUARD_FAILED, TRANSITION_NOT_ALLOWED, ROLE_NOT_PERMITTED),
)
@idempotent
@answers_etag
async def transitions_create(
    principal: MoverDep,
    session: SessionDep,
    household: LockedStageHousehold,
    body: Annotated[TransitionCreate, Body(openapi_examples=TRANSITION_EXAMPLES)],
    if_match: IfMatchDep,
    response: Response,
) -> TransitionResultOut:
    """Move the household along the path: diagnostic → matching → relay_stay → lease → follow_up → completed, the
    step back relay_stay → matching after an inconclusive relay stay, and any active stage → withdrawn.

    **Who:** the service manager (and admins) make every move; the Paris referent and partner workers may only
    withdraw a household still in diagnostic (any other move: 403 `role-not-permitted`); a partner worker only its
    own organisation's households (others: 404).

    **If-Match:** the household's ETag, as returned by `GET …/transitions` (428 without it, 412 when stale).

    **Guards** (409 `guard-failed`, with `unmet`: every missing condition as `{code, message}`):
    - diagnostic → matching: the application presented (`application_not_presented`: see
      `POST …/application/submit` and `…/present`), an adult member (`no_adult_member`), an adult with a ROME code
      (`no_professional_profile`), the consent date recorded (`consent_missing`);
    - matching → relay_stay: a booked relay stay (`relay_stay_not_booked`) and a placement at interview, offered
      or hired (`no_placement_with_employer_meeting`);
    - relay_stay → lease: the outcome recorded last since entering relay_stay has both parties agreeing
      (`relay_stay_not_validated`), no stay still booked (`relay_stay_still_booked`);
    - relay_stay → matching: that outcome has one party disagreeing (`relay_stay_not_disagreed`) with a note
      (`disagreement_reason_missing`), no stay still booked; the reserved allocation is cancelled and its unit
      released (`released.allocations`);
    - lease → follow_up: a hired placement with contract type and start date (`no_signed_contract`), an allocation
      with its lease signed (`no_lease_signed`);
    - follow_up → completed: `closure_date` (not in the future) and `note` (`closure_missing`), stored on the
      household; `closure_date` with any other target is 422;
    - → withdrawn: `reason`, one of the withdrawal reasons, and `note` (`withdrawal_reason_missing`,
      `withdrawal_note_missing`; a reason outside the list is a 422). Withdrawing cancels the reserved allocation (unit
      released), every relay stay still booked and the open placements; `released` gives the counts.

    A skipped stage or a terminal household is 409 `transition-not-allowed`. Answers 201 with the new stage, the
    recorded move and the household's new ETag.
    """
    if_match.check(household.version)
    result = await service.transition(session, principal, household, body)
    with_etag(response, result.household.version)
    return TransitionResultOut.model_validate(
        {
            **_stage_out(result.household),
            "transition": views.transition_out(result.transition),
            "released": result.released,
        }
    )


@router.get(
    "/households/{household_id}/transitions",
    summary="Stage history of a household",
    response_model=StageHistoryOut,
    responses=_READ,
)
@answers_etag
async def transitions_list(principal: HistoryReaderDep, session: SessionDep, household: StageHousehold) -> Response:
    """The household's current `stage`, `application_status`, `stage_entered_at`, `days_in_stage` and every item of
    its history, oldest first (`kind`, `from_stage`, `to_stage`, `at`, `by {kind, id, role}`, `reason`, `note`):
    `kind` is `move` for a stage move, `application_submitted` / `application_presented` for the application's steps
    inside diagnostic (from and to diagnostic). One resource, not a paginated list: it takes no `sort` (its ETag
    is the household's, so that If-None-Match stays exact; `GET …/pipeline-events?sort=-at` lists newest first).

    **Who:** the service manager, the Paris referent and partner workers (their own organisation's households:
    others are 404). A partner worker gets each item's `id`, `kind`, `from_stage`, `to_stage` and `at` only, and no
    `withdrawal_reason`: it follows where its family is, not who moved it nor why.

    The answer's ETag is the household's: the one `POST …/transitions` expects in If-Match.
    """
    moves = await service.history(session, principal, household)
    out = StageHistoryOut.model_validate(
        {**_stage_out(household), "items": [views.transition_out(m).model_dump() for m in moves]}
    )
    # A referring partner follows where its family is, not who moved it nor why (reasons, notes, staff ids).
    exclude: IncEx | None = None
    if principal.role is Role.PARTNER_WORKER:
        exclude = cast("IncEx", {"withdrawal_reason": True, "items": {"__all__": {"by", "reason", "note"}}})
    return JSONResponse(
        jsonable_encoder(out.model_dump(mode="json", exclude=exclude)), headers={"ETag": etag_for(household.version)}
    )


# --- the application's steps inside diagnostic ---------------------------------------------------------------------
_APPLICATION_STEP = problem_responses(NOT_FOUND, WRONG_STAGE, APPLICATION_STEP_OUT_OF_ORDER, ROLE_NOT_PERMITTED)


def _step_out(result: application.StepResult, response: Response) -> ApplicationStepOut:
    with_etag(response, result.household.version)
    return ApplicationStepOut.model_validate(
        {**_stage_out(result.household), "event": views.transition_out(result.event)}
    )


@router.post(
    "/households/{household_id}/application/submit",
    summary="Submit a household's application",
    status_code=status.HTTP_201_CREATED,
    responses=_APPLICATION_STEP,
)
@idempotent
@answers_etag
async def application_submit(
    principal: SubmitterDep,
    session: SessionDep,
    household: LockedStageHousehold,
    body: Annotated[ApplicationStepIn, Body(openapi_examples=APPLICATION_STEP_EXAMPLES)],
    if_match: IfMatchDep,
    response: Response,
) -> ApplicationStepOut:
    """The partner says the diagnostic file is complete and sends the application to the Paris referent:
    `application_status` draft → submitted, recorded in the stage history as an `application_submitted` item (from
    and to diagnostic, dated, with its author and the optional `note`). Not a stage move.

    **Who:** partner workers (their own organisation's households; others are 404) and the Paris referent (and
    admins). **If-Match:** the household's ETag, the one `POST …/transitions` takes (428 without it, 412 when
    stale); the answer carries the new one.

    **Checks:** the household is in diagnostic (409 `wrong-stage`); the application is a draft (409
    `application-step-out-of-order`, with `application_status` and `expected_status`). Answers 201.
    """
    if_match.check(household.version)
    return _step_out(await application.take_step(session, principal, household, "submit", body.note), response)


@router.post(
    "/households/{household_id}/application/present",
    summary="Present a household's application",
    status_code=status.HTTP_201_CREATED,
    responses=_APPLICATION_STEP,
)
@idempotent
@answers_etag
async def application_present(
    principal: PresenterDep,
    session: SessionDep,
    household: LockedStageHousehold,
    body: Annotated[ApplicationStepIn, Body(openapi_examples=APPLICATION_STEP_EXAMPLES)],
    if_match: IfMatchDep,
    response: Response,
) -> ApplicationStepOut:
    """The Paris referent presents the submitted application to the service manager: `application_status`
    submitted → presented, recorded in the stage history as an `application_presented` item. The service manager
    may then retain it (→ matching, which requires it presented: `application_not_presented`) or decline it
    (→ withdrawn, reason `application_declined`).

    **Who:** the Paris referent and the service manager (and admins). **If-Match:** the household's ETag (428
    without it, 412 when stale).

    **Checks:** the household is in diagnostic (409 `wrong-stage`); the application is submitted (409
    `application-step-out-of-order`, with `application_status` and `expected_status`). Answers 201.
    """
    if_match.check(household.version)
    return _step_out(await application.take_step(session, principal, household, "present", body.note), response)


@router.get("/households/{household_id}/pipeline-events", summary="Pipeline events of a household", responses=_READ)
async def pipeline_events_list(
    principal: ReaderDep, session: SessionDep, household: StageHousehold, page: PageDep, q: EventQuery
) -> Page[PipelineEventOut]:
    """Every pipeline write and move for the household (stage moves, placements, relay stays, allocation,
    follow-up entries), oldest first (`sort=-at`: newest first), from the audit trail: who, when, the action and
    its codes, never notes or names.

    **Who:** the service manager and the Paris referent.
    """
    return (await service.events(session, principal, household, page, q)).to(views.event_out)


# --- placements --------------------------------------------------------------------------------------------------
@router.get("/households/{household_id}/placements", summary="Placements of a household", responses=_READ)
async def placements_list(
    principal: ReaderDep, session: SessionDep, household: StageHousehold, page: PageDep, q: PlacementQuery
) -> Page[PlacementOut]:
    """The household's placements (job openings proposed to its adults), oldest first unless `sort` says otherwise
    (`created_at`, `updated_at`, `start_date`; `-` for descending; ties by id); `created_since`/`created_before`
    (Paris dates) keep those created in a window.

    **Who:** the service manager and the Paris referent.
    """
    return (await placements.list_for(session, principal, household, page, q)).to(PlacementOut.model_validate)


@router.post(
    "/households/{household_id}/placements",
    summary="Propose a job opening",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(NOT_FOUND, WRONG_STAGE, JOB_OPENING_NOT_OPEN, PLACEMENT_ALREADY_OPEN),
)
@idempotent
@answers_etag
async def placements_create(
    principal: WriterDep,
    session: SessionDep,
    household: LockedHousehold,
    body: Annotated[PlacementCreate, Body(openapi_examples=PLACEMENT_CREATE_EXAMPLES)],
    response: Response,
) -> PlacementOut:
    """Propose a job opening to one adult of the household (a "mise en relation"); the placement starts
    `proposed`.

    **Who:** the service manager.

    **Checks:** the household is in matching, relay_stay or lease (409 `wrong-stage`); `member_id` is an adult of
    the household, not a child and 18 or older (422); `job_opening_id` is a known job opening (422) that is open
    (409 `job-opening-not-open`); one open placement per member and opening (409 `placement-already-open`).

    Answers 201 with the placement, its ETag and its Location.
    """
    placement = await placements.create(session, principal, household, body)
    return created_answer(response, PlacementOut, placement, f"/api/v1/placements/{placement.id}")


@router.get("/placements/{placement_id}", summary="Read a placement", responses=_READ)
@answers_etag
async def placements_get(
    principal: ReaderDep, session: SessionDep, placement: CurrentPlacement, response: Response
) -> PlacementOut:
    """One placement, with its ETag (for `PATCH /placements/{id}`).

    **Who:** the service manager and the Paris referent.
    """
    await records.read(session, principal, AuditAction.PLACEMENT_READ, placement.household_id, [placement], "placement")
    return etag_answer(response, PlacementOut, placement)


@router.patch(
    "/placements/{placement_id}",
    summary="Move or annotate a placement",
    responses=problem_responses(
        NOT_FOUND, WRONG_STAGE, PLACEMENT_CLOSED, PLACEMENT_MOVE_NOT_ALLOWED, JOB_OPENING_FULL, JOB_OPENING_CLOSED
    ),
)
@answers_etag
async def placements_update(
    principal: WriterDep,
    session: SessionDep,
    placement: LockedPlacement,
    body: Annotated[PlacementUpdate, Body(openapi_examples=PLACEMENT_UPDATE_EXAMPLES)],
    if_match: IfMatchDep,
    response: Response,
) -> PlacementOut:
    """Move a placement `proposed → interview → offered → hired`, or to `declined` or `cancelled`, or edit its
    note.

    **Who:** the service manager. **If-Match:** the placement's ETag (428 without it, 412 when stale).

    **Checks:** the household is in matching, relay_stay or lease (409 `wrong-stage`); a move that is not allowed
    is 409 `placement-move-not-allowed` (with `allowed`). A PATCH carries only what its move needs (else 422
    naming the field): `contract_type` and `start_date` with `status: hired` (both required, `start_date` from
    2014-01-01 to two years from today); `declined_by` (`household` or `employer`) and `reason` with
    `status: declined` (both required); `reason` with `cancelled`. Hiring takes one of the opening's positions in
    one atomic update: a full opening is 409 `job-opening-full`, a closed one 409 `job-opening-closed`, and the
    opening becomes `filled` with its last position. A closed placement (hired, declined, cancelled) accepts only
    a new `note` (sending its current `status` again is harmless): any other field is 409 `placement-closed`
    (with `fields`).
    """
    if_match.check(placement.record.version)
    updated = await placements.update(session, principal, placement, body)
    return etag_answer(response, PlacementOut, updated)


# --- relay stays -------------------------------------------------------------------------------------------------
@router.get("/households/{household_id}/relay-stays", summary="Relay stays of a household", responses=_READ)
async def relay_stays_list(
    principal: ReaderDep, session: SessionDep, household: StageHousehold, page: PageDep, q: RelayStayQuery
) -> Page[RelayStayOut]:
    """The household's relay stays, by start date unless `sort` says otherwise (`start_date`, `created_at`; `-`
    for descending; ties by id); `created_since`/`created_before` (Paris dates) keep those booked in a window.

    **Who:** the service manager and the Paris referent.
    """
    return (await relay_stays.list_for(session, principal, household, page, q)).to(RelayStayOut.model_validate)


@router.post(
    "/households/{household_id}/relay-stays",
    summary="Book a relay stay",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        NOT_FOUND,
        WRONG_STAGE,
        NOT_A_RELAY_APARTMENT,
        RELAY_APARTMENT_UNAVAILABLE,
        RELAY_STAY_ALREADY_BOOKED,
        RELAY_STAY_OVERLAP,
    ),
)
@idempotent
@answers_etag
async def relay_stays_create(
    principal: WriterDep,
    session: SessionDep,
    household: LockedStageHousehold,
    body: Annotated[RelayStayCreate, Body(openapi_examples=RELAY_STAY_EXAMPLES)],
    response: Response,
) -> RelayStayOut:
    """Book a stay of 3 to 5 days (inclusive) in a relay apartment; the apartment is held by the programme until
    the stay's last day (the landlord's sync keeps its relay flag and status).

    **Who:** the service manager.

    **Checks:** the household is in matching or relay_stay (409 `wrong-stage`); 3 to 5 days (422); `start_date` at
    most 365 days ago (a stay may be recorded after the fact) and at most two years ahead (422); `unit_id` a known
    unit (422) that is a relay apartment (409 `not-a-relay-apartment`) and `vacant` (409
    `relay-apartment-unavailable`); one booked stay per household (409 `relay-stay-already-booked`); two
    non-cancelled stays never overlap in one apartment (409 `relay-stay-overlap`).

    Answers 201 with the stay, its ETag and its Location.
    """
    stay = await relay_stays.create(session, principal, household, body)
    return created_answer(response, RelayStayOut, stay, f"/api/v1/relay-stays/{stay.id}")


@router.get("/relay-stays/{relay_stay_id}", summary="Read a relay stay", responses=_READ)
@answers_etag
async def relay_stays_get(
    principal: ReaderDep, session: SessionDep, stay: CurrentRelayStay, response: Response
) -> RelayStayOut:
    """One relay stay, with its ETag (for its outcome and its cancellation).

    **Who:** the service manager and the Paris referent.
    """
    await records.read(session, principal, AuditAction.RELAY_STAY_READ, stay.household_id, [stay], "relay_stay")
    return etag_answer(response, RelayStayOut, stay)


@router.put(
    "/relay-stays/{relay_stay_id}/outcome",
    summary="Record a relay stay's outcome",
    responses=problem_responses(NOT_FOUND, WRONG_STAGE, RELAY_STAY_CANCELLED, RELAY_STAY_NOT_ENDED),
)
@answers_etag
async def relay_stays_record_outcome(
    principal: WriterDep,
    session: SessionDep,
    stay: LockedRelayStay,
    body: Annotated[RelayStayOutcomeIn, Body(openapi_examples=OUTCOME_EXAMPLES)],
    if_match: IfMatchDep,
    response: Response,
) -> RelayStayOut:
    """Record (or correct) how the stay went: `family_agrees`, `employer_agrees`, `note`. The stay becomes `ended`
    (the apartment is no longer held for it). The outcome recorded last decides relay_stay → lease (both agree) or
    → matching (one disagrees, with a note).

    **Who:** the service manager. **If-Match:** the stay's ETag (428 without it, 412 when stale).

    **Checks:** only while the household is in relay_stay (409 `wrong-stage`: an outcome can neither be recorded in
    matching nor rewritten after the household left relay_stay); not a cancelled stay (409
    `relay-stay-cancelled`); on or after the stay's end date (409 `relay-stay-not-ended`, with `end_date`).
    """
    if_match.check(stay.record.version)
    updated = await relay_stays.record_outcome(session, principal, stay, body)
    return etag_answer(response, RelayStayOut, updated)


@router.post(
    "/relay-stays/{relay_stay_id}/cancel",
    summary="Cancel a relay stay",
    responses=problem_responses(NOT_FOUND, WRONG_STAGE, RELAY_STAY_NOT_BOOKED),
)
@idempotent
@answers_etag
async def relay_stays_cancel(
    principal: WriterDep, session: SessionDep, stay: LockedRelayStay, if_match: IfMatchDep, response: Response
) -> RelayStayOut:
    """Cancel a booked stay: its dates are free again in the apartment, which is no longer held for it.

    **Who:** the service manager. **If-Match:** the stay's ETag (428 without it, 412 when stale).

    **Checks:** the household is in matching or relay_stay (409 `wrong-stage`); the stay is booked (409
    `relay-stay-not-booked`).
    """
    if_match.check(stay.record.version)
    updated = await relay_stays.cancel(session, principal, stay)
    return etag_answer(response, RelayStayOut, updated)


# --- housing allocation ------------------------------------------------------------------------------------------
@router.get("/households/{household_id}/allocation", summary="Active allocation of a household", responses=_READ)
@answers_etag
async def allocations_get(
    principal: ReaderDep, session: SessionDep, allocation: CurrentAllocation, response: Response
) -> AllocationOut:
    """The household's active housing allocation (reserved or lease signed), with its ETag; 404 when it has
    none.

    **Who:** the service manager and the Paris referent.
    """
    await records.read(
        session, principal, AuditAction.ALLOCATION_READ, allocation.household_id, [allocation], "housing_allocation"
    )
    return etag_answer(response, AllocationOut, allocation)


@router.post(
    "/households/{household_id}/allocation",
    summary="Reserve a housing unit",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        NOT_FOUND, WRONG_STAGE, HOUSEHOLD_ALREADY_ALLOCATED, UNIT_IS_RELAY_APARTMENT, UNIT_NOT_AVAILABLE, UNIT_TOO_SMALL
    ),
)
@idempotent
@answers_etag
async def allocations_reserve(
    principal: WriterDep,
    session: SessionDep,
    household: LockedHousehold,
    body: Annotated[AllocationCreate, Body(openapi_examples=ALLOCATION_CREATE_EXAMPLES)],
    response: Response,
) -> AllocationOut:
    """Reserve a vacant, non-relay housing unit for the household; the unit becomes `reserved`.

    **Who:** the service manager.

    **Checks:** the household is in relay_stay or lease (409 `wrong-stage`) and has no active allocation (409
    `household-already-allocated`); `unit_id` is a known unit (422), not a relay apartment (409
    `unit-is-relay-apartment`), `vacant` (409 `unit-not-available`); its bedrooms (rooms − 1: a T3 has 2) are at
    least 1 + ceil(children / 2), else 409 `unit-too-small` (with `bedrooms` and `required_bedrooms`) unless an
    `override_reason` is given. One active allocation per unit and per household.

    Answers 201 with the allocation, its ETag and its Location.
    """
    allocation = await allocations.reserve(session, principal, household, body)
    return created_answer(response, AllocationOut, allocation, f"/api/v1/households/{household.id}/allocation")


@router.patch(
    "/households/{household_id}/allocation",
    summary="Record the lease",
    responses=problem_responses(NOT_FOUND, WRONG_STAGE, ALLOCATION_NOT_RESERVED),
)
@answers_etag
async def allocations_sign_lease(
    principal: WriterDep,
    session: SessionDep,
    allocation: LockedAllocation,
    body: Annotated[AllocationLease, Body(openapi_examples=ALLOCATION_LEASE_EXAMPLES)],
    if_match: IfMatchDep,
    response: Response,
) -> AllocationOut:
    """Record the lease signed date and the move-in date of the reserved allocation; the unit becomes `let`.

    **Who:** the service manager. **If-Match:** the allocation's ETag (428 without it, 412 when stale).

    **Checks:** both dates from 2014-01-01 to two years from today (422); the allocation is reserved (409
    `allocation-not-reserved`); the household is in lease (409 `wrong-stage`). 404 when the household has no
    active allocation.
    """
    if_match.check(allocation.record.version)
    updated = await allocations.sign_lease(session, principal, allocation, body)
    return etag_answer(response, AllocationOut, updated)


@router.post(
    "/households/{household_id}/allocation/cancel",
    summary="Cancel a reservation",
    responses=problem_responses(NOT_FOUND, WRONG_STAGE, ALLOCATION_NOT_RESERVED),
)
@idempotent
@answers_etag
async def allocations_cancel(
    principal: WriterDep,
    session: SessionDep,
    allocation: LockedAllocation,
    if_match: IfMatchDep,
    response: Response,
    body: AllocationCancel | None = None,
) -> AllocationOut:
    """Cancel the reserved allocation; the unit is released: `vacant` again, or `unavailable` when the landlord's
    last snapshot no longer listed it (the programme never re-advertises a unit its landlord withdrew).

    **Who:** the service manager. **If-Match:** the allocation's ETag (428 without it, 412 when stale).

    **Checks:** the allocation is reserved (a signed lease stays: 409 `allocation-not-reserved`); the household is
    in relay_stay or lease (409 `wrong-stage`). 404 when the household has no active allocation.
    """
    if_match.check(allocation.record.version)
    updated = await allocations.cancel(session, principal, allocation, body or AllocationCancel())
    return etag_answer(response, AllocationOut, updated)


# --- follow-up ---------------------------------------------------------------------------------------------------
@router.get(
    "/households/{household_id}/follow-up-entries",
    summary="Follow-up entries of a household",
    responses=_READ,
)
async def follow_up_entries_list(
    principal: ReaderDep, session: SessionDep, household: StageHousehold, page: PageDep, q: FollowUpQuery
) -> Page[FollowUpEntryOut]:
    """The household's follow-up entries, newest first (by entry date, then by when they were written) unless
    `sort` says otherwise (`entry_date`, `created_at`; `-` for descending); `created_since`/`created_before` (Paris
    dates) keep those written in a window.

    **Who:** the service manager and the Paris referent.
    """
    return (await follow_up.list_for(session, principal, household, page, q)).to(views.entry_out)


@router.post(
    "/households/{household_id}/follow-up-entries",
    summary="Write a follow-up entry",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(NOT_FOUND, WRONG_STAGE),
)
@idempotent
async def follow_up_entries_create(
    principal: WriterDep,
    session: SessionDep,
    household: LockedStageHousehold,
    body: Annotated[FollowUpEntryCreate, Body(openapi_examples=FOLLOW_UP_EXAMPLES)],
) -> FollowUpEntryOut:
    """Write an entry of the global support given to the household: `entry_date` (from 2014-01-01 to today, 422
    otherwise), `domain` (employment, housing, schooling, health_insurance, benefits, administrative, other) and
    `note`; the author is the caller.

    **Who:** the service manager. **Checks:** only while the household is in follow_up (409 `wrong-stage`).
    """
    return views.entry_out(await follow_up.create(session, principal, household, body))
