"""HTTP endpoints of privacy: the access log and the audit trail, retention (due list, runs), the data subject's
rights (access export, erasure)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.csv import CSV_CONTENT, csv_response, wants_csv
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import ProblemError, problem_responses
from toit_emploi_api.core.idempotency import idempotent
from toit_emploi_api.core.problems import NOT_FOUND
from toit_emploi_api.core.resources import ChronologySort, IfMatchDep, Page, PageDep, SortQuery, answers_etag, with_etag
from toit_emploi_api.households.deps import CurrentHousehold, LockedHousehold
from toit_emploi_api.privacy import retention, service
from toit_emploi_api.privacy.repository import AuditFilters
from toit_emploi_api.privacy.schemas import (
    AdminAuditEventOut,
    AnonymiseIn,
    AnonymiseOut,
    AuditEventOut,
    DueHouseholdOut,
    DueSort,
    HouseholdExport,
    RetentionRunIn,
    RetentionRunOut,
)
from toit_emploi_api.vocab.problems import (
    HOUSEHOLD_ANONYMISED,
    HOUSEHOLD_STATUS_ONLY,
    HOUSEHOLD_STILL_ACTIVE,
    RETENTION_RUN_IN_PROGRESS,
)
from toit_emploi_api.vocab.roles import Role

router = APIRouter(prefix="/api/v1", tags=["privacy"])

AdminDep = Annotated[Principal, Depends(authorize())]
ManagerDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER))]
AccessLogReaderDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARTNER_WORKER))]


@router.get(
    "/households/{household_id}/access-log",
    summary="Access log of a household",
    responses=problem_responses(NOT_FOUND, HOUSEHOLD_STATUS_ONLY),
)
async def household_access_log(
    principal: AccessLogReaderDep,
    session: SessionDep,
    household: CurrentHousehold,
    page: PageDep,
    sort: Annotated[ChronologySort, SortQuery] = ChronologySort.AT_DESC,
) -> Page[AuditEventOut]:
    """Every read and change of the household's file and its sub-resources (members, stage history, placements,
    relay stays, allocation, follow-up entries, exports), and every list that showed it, newest first (`sort=at`:
    oldest first; ties by id): who (kind,
    id, role, organisation), the action, the object, when, the request id, and field names or codes (never values
    of names, birth dates or notes).

    **Who:** the service manager and admins; a partner worker for its own organisation's households while they are
    in diagnostic (another organisation's household is a 404, a household that has left diagnostic a 403
    `household-status-only`). **Audit:** reading it is a `household.access_log_read` event."""
    return await service.access_log(session, principal, household, page, sort.value)


@router.get(
    "/audit-events",
    summary="Search the audit trail",
    response_model=Page[AdminAuditEventOut],
    responses={200: CSV_CONTENT},
)
async def audit_events_list(
    principal: AdminDep,
    session: SessionDep,
    request: Request,
    page: PageDep,
    actor_id: uuid.UUID | None = None,
    organisation_id: Annotated[uuid.UUID | None, Query(description="The actor's organisation.")] = None,
    action: Annotated[str | None, Query(max_length=60, examples=["household.read"])] = None,
    object_type: Annotated[str | None, Query(max_length=40, examples=["household"])] = None,
    object_id: uuid.UUID | None = None,
    household_id: Annotated[
        uuid.UUID | None, Query(description="Events about this household, lists that showed it included.")
    ] = None,
    since: Annotated[datetime | None, Query(description="At or after this instant (ISO 8601).")] = None,
    before: Annotated[datetime | None, Query(description="Strictly before this instant (ISO 8601).")] = None,
    sort: Annotated[ChronologySort, SortQuery] = ChronologySort.AT_DESC,
) -> Page[AdminAuditEventOut] | StreamingResponse:
    """The audit trail, newest first (`sort=at`: oldest first; ties by id), filtered by `actor_id`,
    `organisation_id` (the actor's), `action`, `object_type`, `object_id`, `household_id`, `since` and `before`;
    with `Accept: text/csv` every matching event as a CSV file (`;`, UTF-8 with BOM, French headers), in the same
    order, ignoring `limit` and `offset`.

    **Who:** admins. **Audit:** every search is an `audit_event.list` event (the names of its filters)."""
    filters = AuditFilters(actor_id, organisation_id, action, object_type, object_id, household_id, since, before)
    if wants_csv(request):
        rows = await service.audit_events_csv(session, request.app.state.sessionmaker, principal, filters, sort.value)
        return csv_response(service.CSV_HEADER, rows, filename="audit-events.csv")
    return await service.audit_events(session, principal, filters, page, sort.value)


@router.get("/retention/due", summary="Files due for anonymisation")
async def retention_due_list(
    principal: ManagerDep,
    session: SessionDep,
    request: Request,
    page: PageDep,
    sort: Annotated[DueSort, SortQuery] = DueSort.DUE_ON,
) -> Page[DueHouseholdOut]:
    """Households whose last contact will be more than the retention period old (24 months by default) within 30
    days, or already is, soonest first (`sort`: `due_on`, `reference`, `-` for descending; ties by id), with
    `due_on`, the first day they are due. Completed and withdrawn files are anonymised automatically on that day;
    active files are marked `decision_needed` and never anonymised automatically: withdraw the household, record a
    contact, or erase it.

    **Who:** the service manager and admins. **Audit:** `retention.due_list` with the households shown."""
    return await service.due_list(session, principal, request.app.state.settings, page, sort.value)


@router.post(
    "/retention/runs",
    summary="Run the retention job now",
    responses=problem_responses(RETENTION_RUN_IN_PROGRESS),
)
@idempotent
async def retention_runs_create(principal: AdminDep, request: Request, body: RetentionRunIn) -> RetentionRunOut:
    """Anonymise now every completed or withdrawn household whose last contact is more than the retention period
    old (what the daily run does), and answer which. `dry_run: true` changes nothing and answers what would be
    anonymised, today or on `as_of` (`as_of` is only accepted with `dry_run: true`, 422 otherwise). Active files
    are never anonymised by a run (see `GET /retention/due`). Each household is anonymised entirely or not at all.

    **Who:** admins. **Errors:** 409 `retention-run-in-progress` when another run (the daily one, another worker)
    holds the lock. **Audit:** `retention.run`, and `household.anonymise` for each household."""
    result = await retention.run(
        request.app.state.sessionmaker,
        request.app.state.settings,
        as_of=body.as_of,
        dry_run=body.dry_run,
        actor=principal,
    )
    if result.skipped:
        raise ProblemError(RETENTION_RUN_IN_PROGRESS, "Another retention run is in progress; try again later.")
    return result


@router.get(
    "/households/{household_id}/export",
    summary="Export everything held about a household",
    responses=problem_responses(NOT_FOUND),
)
async def household_export(principal: ManagerDep, session: SessionDep, household: CurrentHousehold) -> HouseholdExport:
    """Everything the programme holds about the household, as one JSON document to hand over on an access request
    (GDPR art. 15): its file with notes and members, stage history with notes, placements, relay stays,
    allocations, follow-up entries and its access log.

    **Who:** the service manager and admins. **Audit:** `household.export`."""
    return await service.export(session, principal, household)


@router.post(
    "/households/{household_id}/anonymise",
    summary="Erase a household's personal data",
    responses=problem_responses(NOT_FOUND, HOUSEHOLD_ANONYMISED, HOUSEHOLD_STILL_ACTIVE),
)
@idempotent
@answers_etag
async def household_anonymise(
    principal: ManagerDep,
    session: SessionDep,
    household: LockedHousehold,
    body: AnonymiseIn,
    if_match: IfMatchDep,
    response: Response,
) -> AnonymiseOut:
    """Erase the household's personal data now, on request (GDPR art. 17), with a `reason` code: the same
    anonymisation as the retention run, irreversible. The household keeps its id and what the programme's
    statistics need (see docs/privacy.md). `If-Match` with the household's ETag.

    **Who:** the service manager and admins. **Errors:** 409 `household-still-active` unless the household is
    completed or withdrawn (withdraw it first), 409 `household-anonymised` when it already is.
    **Audit:** `household.anonymise` with the reason."""
    if_match.check(household.version)
    out = await service.erase(session, principal, household, body)
    with_etag(response, household.version)
    return out
