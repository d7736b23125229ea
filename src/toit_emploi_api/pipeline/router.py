"""HTTP endpoints of the pipeline: stage moves and history, placements, relay stays, allocation, follow-up."""

from __future__ import annotations

import uuid
from typing import Annotated, cast

from fastapi import APIRouter, Body, Depends, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic.main import IncEx

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.clock import days_since
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import error_responses
from toit_emploi_api.core.etag import IfMatchHeader
from toit_emploi_api.core.resources import Page, PageDep, etag_for, with_etag
from toit_emploi_api.households.models import Household
from toit_emploi_api.pipeline import allocations, follow_up, placements, relay_stays, service
from toit_emploi_api.pipeline.models import FollowUpEntry, StageTransition
from toit_emploi_api.pipeline.schemas import (
    ALLOCATION_CREATE_EXAMPLES,
    ALLOCATION_LEASE_EXAMPLES,
    FOLLOW_UP_EXAMPLES,
    OUTCOME_EXAMPLES,
    PLACEMENT_CREATE_EXAMPLES,
    PLACEMENT_UPDATE_EXAMPLES,
    RELAY_STAY_EXAMPLES,
    TRANSITION_EXAMPLES,
    ActorOut,
    AllocationCancel,
    AllocationCreate,
    AllocationLease,
    AllocationOut,
    FollowUpEntryCreate,
    FollowUpEntryOut,
    PipelineEventOut,
    PlacementCreate,
    PlacementOut,
    PlacementUpdate,
    RelayStayCreate,
    RelayStayOut,
    RelayStayOutcomeIn,
    StageHistoryOut,
    TransitionCreate,
    TransitionOut,
    TransitionResultOut,
)
from toit_emploi_api.vocab.roles import Role

router = APIRouter(prefix="/api/v1", tags=["pipeline"])

# Transitions: the Paris referent and partner workers may only withdraw in diagnostic (checked by the rules).
MoverDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER))]
HistoryReaderDep = MoverDep
ReaderDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT))]
WriterDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER))]
_READ = error_responses(404)
_CREATE = error_responses(404, 409)
_UPDATE = error_responses(404, 409, 412, 428)


def _stage_out(household: Household) -> dict[str, object]:
    return {
        "household_id": household.id,
        "stage": household.stage,
        "stage_entered_at": household.stage_entered_at,
        "days_in_stage": days_since(household.stage_entered_at),
        "closure_date": household.closure_date,
        "withdrawal_reason": household.withdrawal_reason,
    }


def _transition_out(move: StageTransition) -> TransitionOut:
    return TransitionOut(
        id=move.id,
        from_stage=move.from_stage,
        to_stage=move.to_stage,
        at=move.at,
        by=ActorOut(kind=move.actor_kind, id=move.actor_id, role=move.actor_role),
        reason=move.reason,
        note=move.note,
    )


# --- stage transitions -------------------------------------------------------------------------------------------
@router.post(
    "/households/{household_id}/transitions",
    operation_id="transitions_create",
    summary="Move a household to another stage (guards checked, If-Match required)",
    status_code=status.HTTP_201_CREATED,
    response_model=TransitionResultOut,
    responses=error_responses(404, 409, 412, 428),
)
async def transitions_create(
    principal: MoverDep,
    session: SessionDep,
    household_id: uuid.UUID,
    body: Annotated[TransitionCreate, Body(openapi_examples=TRANSITION_EXAMPLES)],
    response: Response,
    if_match: IfMatchHeader = None,
) -> TransitionResultOut:
    result = await service.transition(session, principal, household_id, body, if_match)
    with_etag(response, result.household.version)
    return TransitionResultOut.model_validate(
        {
            **_stage_out(result.household),
            "transition": _transition_out(result.transition),
            "released": result.released,
        }
    )


@router.get(
    "/households/{household_id}/transitions",
    operation_id="transitions_list",
    summary="The household's current stage and every move (partner workers: from, to and when only)",
    response_model=StageHistoryOut,
    responses=_READ,
)
async def transitions_list(principal: HistoryReaderDep, session: SessionDep, household_id: uuid.UUID) -> Response:
    household, moves = await service.history(session, principal, household_id)
    out = StageHistoryOut.model_validate(
        {**_stage_out(household), "items": [_transition_out(m).model_dump() for m in moves]}
    )
    # A referring partner follows where its family is, not who moved it nor why (reasons, notes, staff ids).
    exclude: IncEx | None = None
    if principal.role is Role.PARTNER_WORKER:
        exclude = cast("IncEx", {"withdrawal_reason": True, "items": {"__all__": {"by", "reason", "note"}}})
    return JSONResponse(
        jsonable_encoder(out.model_dump(mode="json", exclude=exclude)), headers={"ETag": etag_for(household.version)}
    )


@router.get(
    "/households/{household_id}/pipeline-events",
    operation_id="pipeline_events_list",
    summary="Every pipeline write and move for the household (who, when, what), oldest first",
    response_model=Page[PipelineEventOut],
    responses=_READ,
)
async def pipeline_events_list(
    principal: ReaderDep, session: SessionDep, household_id: uuid.UUID, page: PageDep
) -> Page[PipelineEventOut]:
    rows, total = await service.events(session, principal, household_id, page.limit, page.offset)
    items = [
        PipelineEventOut(
            at=e.at,
            action=e.action,
            entity_type=e.entity_type,
            entity_id=e.entity_id,
            by=ActorOut(kind=e.actor_kind, id=e.actor_id, role=e.actor_role),
            details=e.details,
        )
        for e in rows
    ]
    return Page(items=items, total=total, **vars(page))


# --- placements --------------------------------------------------------------------------------------------------
@router.get(
    "/households/{household_id}/placements",
    operation_id="placements_list",
    summary="The household's placements (job proposals)",
    response_model=Page[PlacementOut],
    responses=_READ,
)
async def placements_list(
    principal: ReaderDep, session: SessionDep, household_id: uuid.UUID, page: PageDep
) -> Page[PlacementOut]:
    rows, total = await placements.list_for(session, principal, household_id, page.limit, page.offset)
    return Page(items=[PlacementOut.model_validate(r) for r in rows], total=total, **vars(page))


@router.post(
    "/households/{household_id}/placements",
    operation_id="placements_create",
    summary="Propose a job opening to an adult of the household",
    status_code=status.HTTP_201_CREATED,
    response_model=PlacementOut,
    responses=error_responses(404, 409),
)
async def placements_create(
    principal: WriterDep,
    session: SessionDep,
    household_id: uuid.UUID,
    body: Annotated[PlacementCreate, Body(openapi_examples=PLACEMENT_CREATE_EXAMPLES)],
    response: Response,
) -> PlacementOut:
    placement = await placements.create(session, principal, household_id, body)
    with_etag(response, placement.version)
    response.headers["Location"] = f"/api/v1/placements/{placement.id}"
    return PlacementOut.model_validate(placement)


@router.get(
    "/placements/{placement_id}",
    operation_id="placements_get",
    summary="One placement",
    response_model=PlacementOut,
    responses=_READ,
)
async def placements_get(
    principal: ReaderDep, session: SessionDep, placement_id: uuid.UUID, response: Response
) -> PlacementOut:
    placement = await placements.get(session, principal, placement_id)
    with_etag(response, placement.version)
    return PlacementOut.model_validate(placement)


@router.patch(
    "/placements/{placement_id}",
    operation_id="placements_update",
    summary="Move a placement (interview, offered, hired, declined, cancelled) or edit its note",
    response_model=PlacementOut,
    responses=_UPDATE,
)
async def placements_update(
    principal: WriterDep,
    session: SessionDep,
    placement_id: uuid.UUID,
    body: Annotated[PlacementUpdate, Body(openapi_examples=PLACEMENT_UPDATE_EXAMPLES)],
    response: Response,
    if_match: IfMatchHeader = None,
) -> PlacementOut:
    placement = await placements.update(session, principal, placement_id, body, if_match)
    with_etag(response, placement.version)
    return PlacementOut.model_validate(placement)


# --- relay stays -------------------------------------------------------------------------------------------------
@router.get(
    "/households/{household_id}/relay-stays",
    operation_id="relay_stays_list",
    summary="The household's relay stays",
    response_model=Page[RelayStayOut],
    responses=_READ,
)
async def relay_stays_list(
    principal: ReaderDep, session: SessionDep, household_id: uuid.UUID, page: PageDep
) -> Page[RelayStayOut]:
    rows, total = await relay_stays.list_for(session, principal, household_id, page.limit, page.offset)
    return Page(items=[RelayStayOut.model_validate(r) for r in rows], total=total, **vars(page))


@router.post(
    "/households/{household_id}/relay-stays",
    operation_id="relay_stays_create",
    summary="Book a relay stay of 3 to 5 days in a relay apartment",
    status_code=status.HTTP_201_CREATED,
    response_model=RelayStayOut,
    responses=_CREATE,
)
async def relay_stays_create(
    principal: WriterDep,
    session: SessionDep,
    household_id: uuid.UUID,
    body: Annotated[RelayStayCreate, Body(openapi_examples=RELAY_STAY_EXAMPLES)],
    response: Response,
) -> RelayStayOut:
    stay = await relay_stays.create(session, principal, household_id, body)
    with_etag(response, stay.version)
    response.headers["Location"] = f"/api/v1/relay-stays/{stay.id}"
    return RelayStayOut.model_validate(stay)


@router.get(
    "/relay-stays/{relay_stay_id}",
    operation_id="relay_stays_get",
    summary="One relay stay",
    response_model=RelayStayOut,
    responses=_READ,
)
async def relay_stays_get(
    principal: ReaderDep, session: SessionDep, relay_stay_id: uuid.UUID, response: Response
) -> RelayStayOut:
    stay = await relay_stays.get(session, principal, relay_stay_id)
    with_etag(response, stay.version)
    return RelayStayOut.model_validate(stay)


@router.put(
    "/relay-stays/{relay_stay_id}/outcome",
    operation_id="relay_stays_record_outcome",
    summary="Record (or correct) the outcome at the end of the stay: family agrees, employer agrees, note",
    response_model=RelayStayOut,
    responses=_UPDATE,
)
async def relay_stays_record_outcome(
    principal: WriterDep,
    session: SessionDep,
    relay_stay_id: uuid.UUID,
    body: Annotated[RelayStayOutcomeIn, Body(openapi_examples=OUTCOME_EXAMPLES)],
    response: Response,
    if_match: IfMatchHeader = None,
) -> RelayStayOut:
    stay = await relay_stays.record_outcome(session, principal, relay_stay_id, body, if_match)
    with_etag(response, stay.version)
    return RelayStayOut.model_validate(stay)


@router.post(
    "/relay-stays/{relay_stay_id}/cancel",
    operation_id="relay_stays_cancel",
    summary="Cancel a booked relay stay (frees the apartment's dates)",
    response_model=RelayStayOut,
    responses=_UPDATE,
)
async def relay_stays_cancel(
    principal: WriterDep,
    session: SessionDep,
    relay_stay_id: uuid.UUID,
    response: Response,
    if_match: IfMatchHeader = None,
) -> RelayStayOut:
    stay = await relay_stays.cancel(session, principal, relay_stay_id, if_match)
    with_etag(response, stay.version)
    return RelayStayOut.model_validate(stay)


# --- housing allocation ------------------------------------------------------------------------------------------
@router.get(
    "/households/{household_id}/allocation",
    operation_id="allocations_get",
    summary="The household's active housing allocation (reserved or lease signed)",
    response_model=AllocationOut,
    responses=_READ,
)
async def allocations_get(
    principal: ReaderDep, session: SessionDep, household_id: uuid.UUID, response: Response
) -> AllocationOut:
    allocation = await allocations.current(session, principal, household_id)
    with_etag(response, allocation.version)
    return AllocationOut.model_validate(allocation)


@router.post(
    "/households/{household_id}/allocation",
    operation_id="allocations_reserve",
    summary="Reserve a vacant, non-relay housing unit for the household",
    status_code=status.HTTP_201_CREATED,
    response_model=AllocationOut,
    responses=_CREATE,
)
async def allocations_reserve(
    principal: WriterDep,
    session: SessionDep,
    household_id: uuid.UUID,
    body: Annotated[AllocationCreate, Body(openapi_examples=ALLOCATION_CREATE_EXAMPLES)],
    response: Response,
) -> AllocationOut:
    allocation = await allocations.reserve(session, principal, household_id, body)
    with_etag(response, allocation.version)
    response.headers["Location"] = f"/api/v1/households/{household_id}/allocation"
    return AllocationOut.model_validate(allocation)


@router.patch(
    "/households/{household_id}/allocation",
    operation_id="allocations_sign_lease",
    summary="Record the lease signed date and move-in date (the unit becomes let)",
    response_model=AllocationOut,
    responses=_UPDATE,
)
async def allocations_sign_lease(
    principal: WriterDep,
    session: SessionDep,
    household_id: uuid.UUID,
    body: Annotated[AllocationLease, Body(openapi_examples=ALLOCATION_LEASE_EXAMPLES)],
    response: Response,
    if_match: IfMatchHeader = None,
) -> AllocationOut:
    allocation = await allocations.sign_lease(session, principal, household_id, body, if_match)
    with_etag(response, allocation.version)
    return AllocationOut.model_validate(allocation)


@router.post(
    "/households/{household_id}/allocation/cancel",
    operation_id="allocations_cancel",
    summary="Cancel the reservation (the unit is vacant again)",
    response_model=AllocationOut,
    responses=_UPDATE,
)
async def allocations_cancel(
    principal: WriterDep,
    session: SessionDep,
    household_id: uuid.UUID,
    response: Response,
    body: AllocationCancel | None = None,
    if_match: IfMatchHeader = None,
) -> AllocationOut:
    allocation = await allocations.cancel(session, principal, household_id, body or AllocationCancel(), if_match)
    with_etag(response, allocation.version)
    return AllocationOut.model_validate(allocation)


# --- follow-up ---------------------------------------------------------------------------------------------------
def _entry_out(entry: FollowUpEntry) -> FollowUpEntryOut:
    return FollowUpEntryOut(
        id=entry.id,
        household_id=entry.household_id,
        entry_date=entry.entry_date,
        domain=entry.domain,
        note=entry.note,
        author=ActorOut(kind=entry.author_kind, id=entry.author_id, role=entry.author_role),
        created_at=entry.created_at,
    )


@router.get(
    "/households/{household_id}/follow-up-entries",
    operation_id="follow_up_entries_list",
    summary="The household's follow-up entries, newest first",
    response_model=Page[FollowUpEntryOut],
    responses=_READ,
)
async def follow_up_entries_list(
    principal: ReaderDep, session: SessionDep, household_id: uuid.UUID, page: PageDep
) -> Page[FollowUpEntryOut]:
    rows, total = await follow_up.list_for(session, principal, household_id, page.limit, page.offset)
    return Page(items=[_entry_out(r) for r in rows], total=total, **vars(page))


@router.post(
    "/households/{household_id}/follow-up-entries",
    operation_id="follow_up_entries_create",
    summary="Write a follow-up entry (only in follow_up)",
    status_code=status.HTTP_201_CREATED,
    response_model=FollowUpEntryOut,
    responses=_CREATE,
)
async def follow_up_entries_create(
    principal: WriterDep,
    session: SessionDep,
    household_id: uuid.UUID,
    body: Annotated[FollowUpEntryCreate, Body(openapi_examples=FOLLOW_UP_EXAMPLES)],
) -> FollowUpEntryOut:
    entry = await follow_up.create(session, principal, household_id, body)
    return _entry_out(entry)
