"""HTTP endpoints of households and their members (the diagnostic file)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from toit_emploi_api.auth.policy import Principal, TokenCaller, authorize, authorize_token
from toit_emploi_api.core.csv import CSV_CONTENT, csv_response, wants_csv
from toit_emploi_api.core.database import SessionDep, request_session
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.core.idempotency import idempotent
from toit_emploi_api.core.problems import NOT_FOUND
from toit_emploi_api.core.resources import (
    CreatedBeforeQuery,
    CreatedSinceQuery,
    CursorPage,
    CursorPageDep,
    IfMatchDep,
    Page,
    PageDep,
    SortQuery,
    answers_etag,
    created,
    json_answer,
    search_query,
    with_etag,
)
from toit_emploi_api.households import service
from toit_emploi_api.households.deps import (
    CurrentHousehold,
    CurrentMember,
    LockedHousehold,
    WritableHousehold,
    WritableMember,
)
from toit_emploi_api.households.schemas import (
    DuplicatePair,
    DuplicateSort,
    HouseholdCreate,
    HouseholdFilters,
    HouseholdListItem,
    HouseholdOut,
    HouseholdSort,
    HouseholdStatusOut,
    HouseholdUpdate,
    HouseholdView,
    MemberCreate,
    MemberOut,
    MemberSort,
    MemberUpdate,
)
from toit_emploi_api.reference.codes import RomeCode
from toit_emploi_api.reference.text import fold
from toit_emploi_api.vocab.problems import (
    HOUSEHOLD_CLOSED,
    HOUSEHOLD_MEMBERS_LIMIT,
    HOUSEHOLD_NOT_IN_DIAGNOSTIC,
    HOUSEHOLD_STATUS_ONLY,
    LAST_PROFILED_ADULT,
    MEMBER_HAS_PLACEMENTS,
)
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import ApplicationStatus, Stage

router = APIRouter(prefix="/api/v1", tags=["households"])

# The programme started in 2014: dates outside these bounds are a 422 naming the parameter.

# Funders and landlords have no household access at all (403); partner workers are scoped to their organisation.
HouseholdUserDep = Annotated[
    Principal, Depends(authorize(Role.PARTNER_WORKER, Role.PARIS_REFERENT, Role.SERVICE_MANAGER))
]
# The same policy for the two hot reads, whose one statement checks the account (households.reads).
HouseholdReaderDep = Annotated[
    TokenCaller, Depends(authorize_token(Role.PARTNER_WORKER, Role.PARIS_REFERENT, Role.SERVICE_MANAGER))
]
ManagerDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER))]
# The problem types each kind of route answers with besides 401/403/413/422/500 and If-Match's 412/428.
_WRITABLE = (NOT_FOUND, HOUSEHOLD_CLOSED, HOUSEHOLD_NOT_IN_DIAGNOSTIC)
_MEMBER_IDENTITY = (MEMBER_HAS_PLACEMENTS, LAST_PROFILED_ADULT)


async def _filters(
    stage: Annotated[list[Stage] | None, Query(max_length=7, description="One or more stages.")] = None,
    application_status: Annotated[
        list[ApplicationStatus] | None,
        Query(max_length=3, description="One or more application steps (draft, submitted, presented)."),
    ] = None,
    referring_organisation_id: uuid.UUID | None = None,
    has_children: Annotated[bool | None, Query(description="true: with children; false: without.")] = None,
    rome_code: Annotated[RomeCode | None, Query(description="An adult of the household has this ROME code.")] = None,
    created_since: CreatedSinceQuery = None,
    created_before: CreatedBeforeQuery = None,
    q: Annotated[
        str | None,
        search_query(
            "Search members' first and last names, ignoring case, accents, hyphens and apostrophes (partial words "
            "match; `%` is literal). A search with no letter or digit left once folded (e.g. `_`, `-`) matches "
            "nothing."
        ),
    ] = None,
) -> HouseholdFilters:
    tokens = tuple(fold(q).split()) if q else ()
    return HouseholdFilters(
        stages=tuple(stage or ()),
        application_statuses=tuple(application_status or ()),
        referring_organisation_id=referring_organisation_id,
        has_children=has_children,
        rome_code=rome_code,
        created_since=created_since,
        created_before=created_before,
        name_tokens=tokens,
        name_matches_nothing=q is not None and not tokens,
    )


FiltersDep = Annotated[HouseholdFilters, Depends(_filters)]


# --- households --------------------------------------------------------------------------------------------
@router.get(
    "/households",
    summary="List households",
    response_model=CursorPage[HouseholdListItem],
    responses={200: CSV_CONTENT},
)
async def households_list(
    caller: HouseholdReaderDep,
    page: CursorPageDep,
    filters: FiltersDep,
    request: Request,
    sort: Annotated[HouseholdSort, SortQuery] = HouseholdSort.CREATED_AT_DESC,
) -> Response:
    """One page (`limit` 1-200, default 50; `offset`, or `cursor`) of the households the caller may see, as
    `{items, total, limit, offset, next_cursor}`.

    **Who sees what.** Partner workers, the Paris referent, the service manager and admins (funders and landlords:
    403). A partner worker sees only the households its organisation refers, and a household of its that has left
    `diagnostic` only as its status view (stage and dates, no members). List items never carry `manager_notes` or
    `closure_note`.

    **Filters.** `stage` (repeatable), `application_status` (repeatable: draft, submitted, presented),
    `referring_organisation_id`, `has_children`, `rome_code` (an adult of the
    household has it), `created_since` (on or after this Paris date), `created_before` (strictly before); the dates
    lie between 2014-01-01 and 2100-12-31, else 422 naming the parameter.

    **Search.** Every word of `q` (1-100 characters) must appear in the same member's "first last" name, ignoring
    case, accents, hyphens, apostrophes and underscores (`benoit` finds "Benoît", `jean-pierre` finds "Jean Pierre");
    partial words match and `%` is literal. A `q` made only of separators (`_`, `-`) matches nothing (`total` 0).

    **Sort.** `-created_at` (default), `created_at`, `reference`, `-reference`.

    **Pages.** `total` counts every match. `next_cursor` (null on the last page) continues after the last item: send
    it back as `cursor` with the same filters and sort (and no `offset`) for keyset pagination, where page 1,000
    costs what page 1 does; a cursor made for another sort, or not made by this API, is a 422 naming `cursor`.

    **CSV.** `Accept: text/csv` answers every matching household (same filters and sort; `limit`, `offset` and
    `cursor` do not apply), one row per household, streamed from one consistent snapshot: `;`, UTF-8 with BOM,
    French headers. Staff get the list item's facts without members (`Identifiant`, `Référence`, `Organisation
    orientatrice`, `Étape`, `Candidature`, …, `Adultes`, `Enfants`); a partner worker gets its own households' status
    view (identifiers, stage, dates, member counts).

    **Audit.** One `household.list` event per call, with the ids of the households returned (for CSV: every one
    exported, and `format: csv`) and the names (not the values) of the filters used. A page costs one statement
    whatever its size."""
    if wants_csv(request):
        maker = request.app.state.sessionmaker
        async with request_session(maker) as session:  # the audit row, committed before the rows stream
            export = await service.export_households(session, maker, caller, filters, sort)
        return csv_response(export.header, export.rows, filename="menages.csv")
    return json_answer(await service.list_households(caller, filters, sort, page))


@router.post(
    "/households",
    summary="Create a household",
    status_code=status.HTTP_201_CREATED,
    response_model=HouseholdView,
    responses=problem_responses(NOT_FOUND),
)
@idempotent(replay=service.replay_create)
@answers_etag
async def households_create(
    principal: HouseholdUserDep,
    session: SessionDep,
    body: HouseholdCreate,
    response: Response,
) -> HouseholdOut | HouseholdStatusOut:
    """Create a household in `diagnostic`, optionally with its members (at most 20); 201 with `ETag` and
    `Location`. The reference `TE-<year>-<number>` is made by the server.

    **Who.** Partner workers (for their own organisation: they leave `referring_organisation_id` out, another one is
    a 422), the Paris referent, the service manager and admins (who may choose a referring partner or Aurore's
    organisation; default their own). Only the service manager and admins may write `manager_notes` (422 naming the
    field otherwise). `consent_date` and `consent_scope` go together; members' ages must match their roles (adults
    18 or older today, children under 18), profile fields belong to adults, `schooling_level` to children (422
    naming the field, e.g. `members.2.rome_codes`). Names: 1-100 characters, one line, at least one letter.

    **Idempotency-Key** (optional, 1-200 printable ASCII characters): the same caller sending the same key and
    body again gets the first response replayed and nothing is created: same status and `Location`, plus
    `Idempotent-Replayed: true`, with the household as that caller may see it now (current body and `ETag`; e.g. the
    status view once it has left diagnostic, for a partner worker). 404 if the household was deleted or is no longer
    visible to the caller; the same key with another body is a 422 `idempotency-key-reused`. Keys are per caller and
    kept at least 24 hours; a request that fails keeps no key.

    **Audit.** `household.create` with the names of the fields sent and the member count; a replay is recorded as
    a `household.read`."""
    household = await service.create_household(session, principal, body)
    created(response, household.version, service.household_location(household.id))
    return service.household_out(principal, household)


# Declared before /households/{household_id} so that the path parameter does not capture it.
@router.get("/households/possible-duplicates", summary="List possible duplicate households")
async def households_possible_duplicates(
    principal: ManagerDep,
    session: SessionDep,
    page: PageDep,
    sort: Annotated[DuplicateSort, SortQuery] = DuplicateSort.CREATED_AT_DESC,
) -> Page[DuplicatePair]:
    """Pairs of active households (not `completed` or `withdrawn`) sharing a member with the same first and last
    name (ignoring case and accents) and the same birth date, with the shared members; newest pairs first (by the
    creation of the newer household of the pair; `sort=created_at`: oldest first).

    **Who.** The service manager and admins only. Creation is never blocked by another organisation's household,
    and nothing tells a partner about it.

    **Audit.** One `household.possible_duplicates` event per call, with the pairs of household ids shown."""
    return await service.possible_duplicates(session, principal, page, sort.value)


@router.get(
    "/households/{household_id}",
    summary="Read a household",
    response_model=HouseholdView,
    responses=problem_responses(NOT_FOUND),
)
@answers_etag
async def households_get(caller: HouseholdReaderDep, household_id: uuid.UUID) -> Response:
    """One household with its members, and its `ETag` (which covers its members).

    **Who sees what.** Partner workers see their organisation's households only: any other household is a 404,
    exactly like one that does not exist. Once the household has left `diagnostic`, its partner worker reads only
    the status view (`id`, `reference`, `referring_organisation_id`, `stage`, `stage_entered_at`, `days_in_stage`,
    `last_contact_date`, `adult_count`, `children_count`, `created_at`, `updated_at`). The Paris referent, the
    service manager and admins see every household, with `manager_notes` and `closure_note`.

    **Audit.** Every read is a `household.read` event."""
    body, version = await service.read_household_by_id(caller, household_id)
    return json_answer(body, version)


@router.patch(
    "/households/{household_id}",
    summary="Update a household",
    response_model=HouseholdView,
    responses=problem_responses(*_WRITABLE),
)
@answers_etag
async def households_update(
    principal: HouseholdUserDep,
    session: SessionDep,
    household: WritableHousehold,
    body: HouseholdUpdate,
    if_match: IfMatchDep,
    response: Response,
) -> HouseholdOut | HouseholdStatusOut:
    """Change a household's facts; `If-Match` with the ETag from your last read (428 without it, 412 when stale,
    with `current_etag`). Answers the household and its new `ETag`.

    **Who may write.** A `completed` or `withdrawn` household is read-only for everyone (409 `household-closed`).
    Partner workers (own organisation; another's is a 404) and the Paris referent only while it is in `diagnostic`
    (409 `household-not-in-diagnostic` afterwards); the service manager and admins while it is active. Only the
    service manager and admins may write `manager_notes` or change `referring_organisation_id` (to a referring partner
    or Aurore's organisation; 422 naming the field otherwise). The pipeline's fields (`stage`, `closure_date`, …)
    are read-only (422). `consent_date` and `consent_scope` go together.

    **Audit.** `household.update` with the names of the fields that changed."""
    if_match.check(household.version)
    household = await service.update_household(session, principal, household, body)
    with_etag(response, household.version)
    return service.household_out(principal, household)


@router.delete(
    "/households/{household_id}",
    summary="Delete a household",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NOT_FOUND, HOUSEHOLD_NOT_IN_DIAGNOSTIC),
)
async def households_delete(
    principal: HouseholdUserDep, session: SessionDep, household: LockedHousehold, if_match: IfMatchDep
) -> Response:
    """Delete a household still in `diagnostic`, with its members; `If-Match` required (428 without it, 412 when
    stale).

    **Who.** Users of the organisation that created the household, or an admin (403 for other callers who can see
    it; another organisation's household is a 404 for a partner worker). Once it has left `diagnostic` it cannot be
    deleted (409 `household-not-in-diagnostic`): withdraw it through the pipeline instead.

    **Audit.** `household.delete` with its reference and member count (the event outlives the household)."""
    if_match.check(household.version)
    await service.delete_household(session, principal, household)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- members -----------------------------------------------------------------------------------------------
@router.get(
    "/households/{household_id}/members",
    summary="List a household's members",
    responses=problem_responses(NOT_FOUND, HOUSEHOLD_STATUS_ONLY),
)
async def household_members_list(
    principal: HouseholdUserDep,
    session: SessionDep,
    household: CurrentHousehold,
    page: PageDep,
    sort: Annotated[MemberSort, SortQuery] = MemberSort.CREATED_AT,
) -> Page[MemberOut]:
    """One page of the household's members (`limit`, `offset`), in the household's order (the order they were
    added) unless `sort` says otherwise: `created_at`, `last_name` (case and accents ignored), `birth_date`; `-` for
    descending; ties by id.

    **Who.** As for reading the household (another organisation's household is a 404 for a partner worker). Once
    the household has left `diagnostic`, its partner worker gets 403 `household-status-only`: it knows the household
    exists, but reads only its stage and dates.

    **Audit.** Every call is a `member.list` event."""
    return await service.list_members(session, principal, household, page, sort.value)


@router.post(
    "/households/{household_id}/members",
    summary="Add a member",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*_WRITABLE, HOUSEHOLD_MEMBERS_LIMIT),
)
@idempotent
@answers_etag
async def household_members_create(
    principal: HouseholdUserDep,
    session: SessionDep,
    household: WritableHousehold,
    body: MemberCreate,
    response: Response,
) -> MemberOut:
    """Add a member to the household; 201 with the member's `ETag` and `Location`. The household's ETag changes.

    **Who may write.** As for changing the household: closed households are 409 `household-closed`; partner
    workers and the Paris referent only in `diagnostic` (409 `household-not-in-diagnostic`). At most 20 members
    (409 `household-members-limit`).

    **Checks.** Names 1-100 characters, one line, at least one letter; `birth_date` from 1900-01-01 to today (Paris).
    An adult (`head`, `partner`, `other_relative`) must be 18 or older today, a `child` under 18; the professional
    profile (`rome_codes`, `years_of_experience`, `driving_licence`, `french_level`, `qualifications`,
    `right_to_work_expiry`) belongs to adults, `schooling_level` to children (422 naming the field).

    **Audit.** `member.create` with the member's role."""
    member = await service.add_member(session, principal, household, body)
    created(response, member.version, service.member_location(member))
    return service.member_out(member)


@router.get(
    "/households/{household_id}/members/{member_id}",
    summary="Read a member",
    responses=problem_responses(NOT_FOUND, HOUSEHOLD_STATUS_ONLY),
)
@answers_etag
async def household_members_get(
    principal: HouseholdUserDep,
    session: SessionDep,
    household: CurrentHousehold,
    member: CurrentMember,
    response: Response,
) -> MemberOut:
    """One member, with the member's own `ETag` (for its PATCH and DELETE).

    **Who.** As for reading the household: another organisation's household, or a member of another household, is
    a 404. Once the household has left `diagnostic`, its partner worker gets 403 `household-status-only`.

    **Audit.** Every read is a `member.read` event."""
    out = await service.read_member(session, principal, household, member)
    with_etag(response, member.version)
    return out


@router.patch(
    "/households/{household_id}/members/{member_id}",
    summary="Update a member",
    responses=problem_responses(*_WRITABLE, *_MEMBER_IDENTITY),
)
@answers_etag
async def household_members_update(
    principal: HouseholdUserDep,
    session: SessionDep,
    household: LockedHousehold,
    member: WritableMember,
    body: MemberUpdate,
    if_match: IfMatchDep,
    response: Response,
) -> MemberOut:
    """Change a member; `If-Match` with the member's ETag (428 without it, 412 when stale). Answers the member and
    its new `ETag`; the household's ETag changes too.

    **Who may write.** As for changing the household (409 `household-closed`, 409 `household-not-in-diagnostic`
    for partner workers and the Paris referent after diagnostic).

    **Checks.** The resulting member must hold together: ages are checked again when the role or the birth date
    changes (adults 18 or older today, children under 18); to turn an adult into a child, clear its profile in the
    same PATCH. A member with placements in the pipeline (any status) keeps its role and birth date (409
    `member-has-placements`, with `placement_ids`). After diagnostic the household keeps at least one adult with
    ROME codes (409 `last-profiled-adult`, with `member_id`).

    **Audit.** `member.update` with the names of the fields that changed."""
    if_match.check(member.version)
    member = await service.update_member(session, principal, household, member, body)
    with_etag(response, member.version)
    return service.member_out(member)


@router.delete(
    "/households/{household_id}/members/{member_id}",
    summary="Remove a member",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*_WRITABLE, *_MEMBER_IDENTITY),
)
async def household_members_delete(
    principal: HouseholdUserDep,
    session: SessionDep,
    household: LockedHousehold,
    member: WritableMember,
    if_match: IfMatchDep,
) -> Response:
    """Remove a member; `If-Match` with the member's ETag (428 without it, 412 when stale). The household's ETag
    changes.

    **Who may write.** As for changing the household (409 `household-closed`, 409 `household-not-in-diagnostic`).

    **Checks.** A member with placements in the pipeline (any status) cannot be removed (409
    `member-has-placements`, with `placement_ids`); after diagnostic, neither can the household's last adult with
    ROME codes (409 `last-profiled-adult`).

    **Audit.** `member.delete` with the member's role."""
    if_match.check(member.version)
    await service.remove_member(session, principal, household, member)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
