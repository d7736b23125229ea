"""HTTP endpoints of households and their members (the diagnostic file)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import Field

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core import audit, idempotency
from toit_emploi_api.core.clock import CALENDAR_END, PROGRAMME_START
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import NotFoundError, error_responses
from toit_emploi_api.core.etag import IfMatchHeader, require_if_match
from toit_emploi_api.core.resources import Page, PageDep, etag_for, with_etag
from toit_emploi_api.households import repository, service
from toit_emploi_api.households.schemas import (
    DuplicatePair,
    HouseholdCreate,
    HouseholdListItem,
    HouseholdOut,
    HouseholdSort,
    HouseholdStatusOut,
    HouseholdUpdate,
    HouseholdView,
    MemberCreate,
    MemberOut,
    MemberUpdate,
)
from toit_emploi_api.reference.codes import RomeCode
from toit_emploi_api.reference.text import fold
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import Stage

router = APIRouter(prefix="/api/v1", tags=["households"])

# The programme started in 2014: dates outside these bounds are a 422 naming the parameter.
QueryDate = Annotated[date, Field(ge=PROGRAMME_START, le=CALENDAR_END)]

# Funders and landlords have no household access at all (403); partner workers are scoped to their organisation.
HouseholdUserDep = Annotated[
    Principal, Depends(authorize(Role.PARTNER_WORKER, Role.PARIS_REFERENT, Role.SERVICE_MANAGER))
]
ManagerDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER))]
_READ = error_responses(404)
_MEMBERS_READ = error_responses(403, 404)
_CREATE = error_responses(404, 409)
_WRITE = error_responses(404, 409, 412, 428)
_DELETE = error_responses(404, 409, 412)


def _filters(
    stage: Annotated[list[Stage] | None, Query(max_length=7, description="One or more stages.")] = None,
    referring_organisation_id: uuid.UUID | None = None,
    has_children: Annotated[bool | None, Query(description="true: with children; false: without.")] = None,
    rome_code: Annotated[RomeCode | None, Query(description="An adult of the household has this ROME code.")] = None,
    created_since: Annotated[
        QueryDate | None, Query(description="Created on or after this Paris date (2014-01-01..2100-12-31).")
    ] = None,
    created_before: Annotated[
        QueryDate | None, Query(description="Created strictly before this Paris date (2014-01-01..2100-12-31).")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Search members' first and last names, ignoring case, accents, hyphens and apostrophes "
            "(partial words match; `%` is literal). A search with no letter or digit left once folded "
            "(e.g. `_`, `-`) matches nothing.",
        ),
    ] = None,
) -> repository.HouseholdFilters:
    tokens = tuple(fold(q).split()) if q else ()
    return repository.HouseholdFilters(
        stages=tuple(stage or ()),
        referring_organisation_id=referring_organisation_id,
        has_children=has_children,
        rome_code=rome_code,
        created_since=created_since,
        created_before=created_before,
        name_tokens=tokens,
        name_matches_nothing=q is not None and not tokens,
    )


FiltersDep = Annotated[repository.HouseholdFilters, Depends(_filters)]


# --- households --------------------------------------------------------------------------------------------
@router.get(
    "/households",
    summary="List households (a partner worker sees its organisation's only, after diagnostic as a status view)",
    response_model=Page[HouseholdListItem],
)
async def households_list(
    principal: HouseholdUserDep,
    session: SessionDep,
    page: PageDep,
    filters: FiltersDep,
    sort: Annotated[HouseholdSort, Query(description="Sort key; `-` for descending.")] = HouseholdSort.CREATED_AT_DESC,
) -> Page[HouseholdListItem]:
    rows, total = await repository.list_households(
        session, filters, sort, page.limit, page.offset, scope_organisation_id=service.scope_of(principal)
    )
    items: list[HouseholdListItem] = [service.household_out(principal, h, staff_view=False) for h in rows]
    # Names and birth dates of the members went out: one event per call, with the households shown.
    await audit.record(
        session,
        principal,
        AuditAction.HOUSEHOLD_LIST,
        "household",
        None,
        details={"household_ids": [str(h.id) for h in rows], "filters": filters.used()},
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/households",
    summary="Create a household in diagnostic, optionally with its members (Idempotency-Key supported)",
    status_code=status.HTTP_201_CREATED,
    response_model=HouseholdView,
    responses=_CREATE,
)
async def households_create(
    principal: HouseholdUserDep,
    session: SessionDep,
    body: HouseholdCreate,
    request: Request,
    response: Response,
    idempotency_key: idempotency.IdempotencyKeyHeader = None,
) -> HouseholdOut | HouseholdStatusOut | JSONResponse:
    claim = None
    if idempotency_key is not None:
        ttl = request.app.state.settings.idempotency_ttl_hours
        claim = await idempotency.claim(session, principal, idempotency_key, request, ttl_hours=ttl)
        if claim.replay is not None:
            return await _replay_create(session, principal, claim)
    household = await service.create_household(session, principal, body)
    out = service.household_out(principal, household)
    with_etag(response, household.version)
    response.headers["Location"] = f"/api/v1/households/{household.id}"
    if claim is not None:
        headers = {"ETag": response.headers["ETag"], "Location": response.headers["Location"]}
        await claim.store(session, status=status.HTTP_201_CREATED, body=out.model_dump(mode="json"), headers=headers)
    return out


async def _replay_create(session: SessionDep, principal: Principal, claim: idempotency.Claim) -> JSONResponse:
    """A retried creation: the first response's status and headers, with the household as the caller may see it
    now (it may have changed stage, been moved to another organisation or deleted since: then 404)."""
    stored = claim.stored_body if isinstance(claim.stored_body, dict) else {}
    household = await repository.get_household(
        session, uuid.UUID(str(stored.get("id"))), scope_organisation_id=service.scope_of(principal)
    )
    if household is None:
        raise NotFoundError("The household created with this Idempotency-Key no longer exists or is not visible.")
    await audit.record(
        session,
        principal,
        AuditAction.HOUSEHOLD_READ,
        "household",
        household.id,
        household_id=household.id,
        details={"idempotent_replay": True},
    )
    out = service.household_out(principal, household)
    headers = claim.stored_headers | {"ETag": etag_for(household.version), idempotency.REPLAYED_HEADER: "true"}
    return JSONResponse(content=out.model_dump(mode="json"), status_code=claim.stored_status or 201, headers=headers)


# Declared before /households/{household_id} so that the path parameter does not capture it.
@router.get(
    "/households/possible-duplicates",
    summary="Pairs of active households sharing a member (same names, ignoring case and accents, and birth date)",
    response_model=Page[DuplicatePair],
)
async def households_possible_duplicates(
    principal: ManagerDep, session: SessionDep, page: PageDep
) -> Page[DuplicatePair]:
    pairs, total = await repository.possible_duplicates(session, page.limit, page.offset)
    await audit.record(
        session,
        principal,
        AuditAction.HOUSEHOLD_POSSIBLE_DUPLICATES,
        "household",
        None,
        details={"pairs": [[str(p["first"]["id"]), str(p["second"]["id"])] for p in pairs]},
    )
    items = [DuplicatePair.model_validate(p) for p in pairs]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/households/{household_id}",
    summary="Read one household with its members (recorded in the audit trail)",
    response_model=HouseholdView,
    responses=_READ,
)
async def households_get(
    principal: HouseholdUserDep, session: SessionDep, household_id: uuid.UUID, response: Response
) -> HouseholdOut | HouseholdStatusOut:
    household = await service.get_visible(session, principal, household_id)
    await audit.record(
        session, principal, AuditAction.HOUSEHOLD_READ, "household", household.id, household_id=household.id
    )
    with_etag(response, household.version)
    return service.household_out(principal, household)


@router.patch(
    "/households/{household_id}",
    summary="Change a household (If-Match required; partner workers and the Paris referent: diagnostic only)",
    response_model=HouseholdView,
    responses=_WRITE,
)
async def households_update(
    principal: HouseholdUserDep,
    session: SessionDep,
    household_id: uuid.UUID,
    body: HouseholdUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> HouseholdOut | HouseholdStatusOut:
    household = await service.get_visible(session, principal, household_id, for_update=True)
    service.check_writable(principal, household)
    require_if_match(if_match, household.version)
    household = await service.update_household(session, principal, household, body)
    with_etag(response, household.version)
    return service.household_out(principal, household)


@router.delete(
    "/households/{household_id}",
    summary="Delete a household still in diagnostic (its creating organisation, or an admin)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_DELETE,
)
async def households_delete(
    principal: HouseholdUserDep, session: SessionDep, household_id: uuid.UUID, if_match: IfMatchHeader = None
) -> Response:
    household = await service.get_visible(session, principal, household_id, for_update=True)
    if if_match is not None:
        require_if_match(if_match, household.version)
    await service.delete_household(session, principal, household)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- members -----------------------------------------------------------------------------------------------
@router.get(
    "/households/{household_id}/members",
    summary="List a household's members (403 for its partner worker once it has left diagnostic)",
    response_model=Page[MemberOut],
    responses=_MEMBERS_READ,
)
async def household_members_list(
    principal: HouseholdUserDep, session: SessionDep, household_id: uuid.UUID, page: PageDep
) -> Page[MemberOut]:
    household = await service.get_visible(session, principal, household_id)
    service.check_members_readable(principal, household)
    await audit.record(
        session, principal, AuditAction.MEMBER_LIST, "household", household.id, household_id=household.id
    )
    members = list(household.members)
    items = [service.member_out(m) for m in members[page.offset : page.offset + page.limit]]
    return Page(items=items, total=len(members), limit=page.limit, offset=page.offset)


@router.post(
    "/households/{household_id}/members",
    summary="Add a member (changes the household's ETag)",
    status_code=status.HTTP_201_CREATED,
    response_model=MemberOut,
    responses=_CREATE,
)
async def household_members_create(
    principal: HouseholdUserDep, session: SessionDep, household_id: uuid.UUID, body: MemberCreate, response: Response
) -> MemberOut:
    household = await service.get_visible(session, principal, household_id, for_update=True)
    service.check_writable(principal, household)
    member = await service.add_member(session, principal, household, body)
    with_etag(response, member.version)
    response.headers["Location"] = f"/api/v1/households/{household.id}/members/{member.id}"
    return service.member_out(member)


@router.get(
    "/households/{household_id}/members/{member_id}",
    summary="Read one member (its ETag is the member's own; 403 for the partner worker after diagnostic)",
    response_model=MemberOut,
    responses=_MEMBERS_READ,
)
async def household_members_get(
    principal: HouseholdUserDep, session: SessionDep, household_id: uuid.UUID, member_id: uuid.UUID, response: Response
) -> MemberOut:
    household = await service.get_visible(session, principal, household_id)
    service.check_members_readable(principal, household)
    member = service.find_member(household, member_id)
    await audit.record(session, principal, AuditAction.MEMBER_READ, "member", member.id, household_id=household.id)
    with_etag(response, member.version)
    return service.member_out(member)


@router.patch(
    "/households/{household_id}/members/{member_id}",
    summary="Change a member (If-Match with the member's ETag; changes the household's ETag too)",
    response_model=MemberOut,
    responses=_WRITE,
)
async def household_members_update(
    principal: HouseholdUserDep,
    session: SessionDep,
    household_id: uuid.UUID,
    member_id: uuid.UUID,
    body: MemberUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> MemberOut:
    household = await service.get_visible(session, principal, household_id, for_update=True)
    member = service.find_member(household, member_id)
    service.check_writable(principal, household)
    require_if_match(if_match, member.version)
    member = await service.update_member(session, principal, household, member, body)
    with_etag(response, member.version)
    return service.member_out(member)


@router.delete(
    "/households/{household_id}/members/{member_id}",
    summary="Remove a member (changes the household's ETag)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_DELETE,
)
async def household_members_delete(
    principal: HouseholdUserDep,
    session: SessionDep,
    household_id: uuid.UUID,
    member_id: uuid.UUID,
    if_match: IfMatchHeader = None,
) -> Response:
    household = await service.get_visible(session, principal, household_id, for_update=True)
    member = service.find_member(household, member_id)
    service.check_writable(principal, household)
    if if_match is not None:
        require_if_match(if_match, member.version)
    await service.remove_member(session, principal, household, member)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
