"""HTTP endpoints of the manager's desk ([desk.md](desk.md)): relay stays and placements across households, and the
agenda of dated things to do. Read only."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.clock import CALENDAR_END, PROGRAMME_START
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.resources import ListQuery, Page, PageDep, list_query
from toit_emploi_api.desk import service
from toit_emploi_api.desk.schemas import AgendaItemOut, DeskPlacementOut, DeskRelayStayOut
from toit_emploi_api.pipeline.schemas import PlacementSort, RelayStaySort
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.statuses import PlacementStatus, RelayStayStatus

router = APIRouter(prefix="/api/v1", tags=["desk"])

ManagerDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER))]
StayQuery = Annotated[ListQuery, list_query(RelayStaySort, RelayStaySort.START_DATE, created=True)]
PlacementQuery = Annotated[ListQuery, list_query(PlacementSort, PlacementSort.UPDATED_AT, created=True)]
DayQuery = Annotated[date | None, Query(ge=PROGRAMME_START, le=CALENDAR_END, description="A Paris date, `YYYY-MM-DD`.")]


@router.get("/relay-stays", summary="Relay apartments' calendar")
async def desk_relay_stays_list(
    principal: ManagerDep,
    session: SessionDep,
    page: PageDep,
    q: StayQuery,
    start: Annotated[DayQuery, Query(alias="from")] = None,
    end: Annotated[DayQuery, Query(alias="to")] = None,
    unit_id: Annotated[uuid.UUID | None, Query(description="One relay apartment.")] = None,
    status: RelayStayStatus | None = None,
) -> Page[DeskRelayStayOut]:
    """The relay stays of every household, by start date unless `sort` says otherwise: the relay apartments'
    calendar.

    `from` and `to` (Paris dates, inclusive, each optional) keep the stays that overlap the window; `unit_id` one
    apartment; `status` (`booked`, `ended`, `cancelled`); `created_since`/`created_before` (Paris dates) the stays
    booked in a window. `to` before `from` is 422. `sort`: `start_date`, `created_at`, `-` for descending (ties by
    id). Each stay carries its household's reference and its apartment's reference and commune (with its name).
    Paginated.

    **Who:** the service manager (and admins); others 403. The read is audited (`relay_stay.list`)."""
    return await service.relay_stays(session, principal, page, q, start=start, end=end, unit_id=unit_id, status=status)


@router.get("/placements", summary="Placements of every household")
async def desk_placements_list(
    principal: ManagerDep,
    session: SessionDep,
    page: PageDep,
    q: PlacementQuery,
    status: PlacementStatus | None = None,
    job_opening_id: uuid.UUID | None = None,
    employer_id: uuid.UUID | None = None,
    updated_before: Annotated[
        DayQuery, Query(description="Only placements last changed before this Paris date (without news since).")
    ] = None,
) -> Page[DeskPlacementOut]:
    """The placements of every household, least recently changed first (so those without news come first) unless
    `sort` says otherwise (`updated_at`, `created_at`, `start_date`; `-` for descending; ties by id).

    Filters (AND): `status`, `job_opening_id`, `employer_id` (the opening's employer), `updated_before` (last
    change before the start of this Paris day), `created_since`/`created_before` (Paris dates). Each placement
    carries its household's reference, its opening's title and its employer. Paginated.

    **Who:** the service manager (and admins); others 403. The read is audited (`placement.list`)."""
    return await service.placements(
        session,
        principal,
        page,
        q,
        status=status,
        job_opening_id=job_opening_id,
        employer_id=employer_id,
        updated_before=updated_before,
    )


@router.get("/agenda", summary="The manager's agenda")
async def desk_agenda(
    _: ManagerDep,
    request: Request,
    session: SessionDep,
    page: PageDep,
    start: Annotated[DayQuery, Query(alias="from", description="First day (default today, Paris).")] = None,
    end: Annotated[DayQuery, Query(alias="to", description="Last day (default `from` + 14 days).")] = None,
) -> Page[AgendaItemOut]:
    """Dated things to do across households, in date order (then kind, household reference), paginated. An agenda
    is in date order by definition: it takes no `sort`.

    Dated events in the window [`from`, `to`]: `relay_stay_start` (booked stays), `job_start` (hired placements'
    start dates), `lease_signature` and `move_in` (signed leases). To-dos due on or before `to`, even before
    `from` while still to do (`overdue` when before today): `relay_stay_end` (a booked stay's last day: its outcome
    to record), `follow_up_overdue` (a household in follow-up without an entry for 30 days, setting
    `TOIT_EMPLOI_AGENDA_FOLLOW_UP_DAYS`; due 30 days after its last entry or its entry into follow-up),
    `placement_without_news` (an open placement unchanged for 21 days, `TOIT_EMPLOI_AGENDA_PLACEMENT_STALE_DAYS`),
    `application_awaiting_decision` (a household in diagnostic whose application is presented: retain it or
    withdraw it; dated by the presentation), `right_to_work_expiry` (an adult's right-to-work document expiring
    within 90 days after `to`, `TOIT_EMPLOI_AGENDA_RIGHT_TO_WORK_DAYS`; dated by its expiry). Completed,
    withdrawn and anonymised households are left out. Each item names its household by reference only and says
    the action expected. `to` before `from`, or a window longer than 366 days, is 422.

    **Who:** the service manager (and admins); others 403."""
    return await service.agenda(session, request.app.state.settings, page, start=start, end=end)
