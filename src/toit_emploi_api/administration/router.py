"""Admin-only management of organisations, users and API clients ([getting-started.md](getting-started.md))."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from toit_emploi_api.accounts import service
from toit_emploi_api.accounts.models import ApiClient, Organisation, User
from toit_emploi_api.accounts.schemas import (
    ApiClientCreate,
    ApiClientOut,
    ApiClientSort,
    ApiClientUpdate,
    ApiClientWithSecret,
    OrganisationCreate,
    OrganisationOut,
    OrganisationSort,
    OrganisationUpdate,
    UserCreate,
    UserOut,
    UserSort,
    UserUpdate,
)
from toit_emploi_api.administration.deps import (
    CurrentApiClient,
    CurrentOrganisation,
    CurrentUser,
    LockedApiClient,
    LockedOrganisation,
    LockedUser,
)
from toit_emploi_api.auth.policy import AdminDep
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.core.idempotency import idempotent
from toit_emploi_api.core.problems import NOT_FOUND
from toit_emploi_api.core.resources import (
    IfMatchDep,
    Page,
    PageDep,
    answers_etag,
    created,
    created_answer,
    etag_answer,
    with_etag,
)
from toit_emploi_api.vocab.problems import EMAIL_TAKEN, LAST_ADMIN, ORGANISATION_NAME_TAKEN, SELF_LOCKOUT

router = APIRouter(prefix="/api/v1", tags=["administration"])
_READ = problem_responses(NOT_FOUND)


def _with_secret(response: Response, client: ApiClient, secret: str) -> ApiClientWithSecret:
    response.headers["Cache-Control"] = "no-store"
    return ApiClientWithSecret(**ApiClientOut.model_validate(client).model_dump(), client_secret=secret)


# --- organisations -----------------------------------------------------------------------------------------
@router.get("/organisations", summary="List organisations")
async def organisations_list(
    _: AdminDep,
    session: SessionDep,
    page: PageDep,
    sort: Annotated[OrganisationSort, Query(description="Sort key; `-` for descending.")] = OrganisationSort.CREATED_AT,
) -> Page[OrganisationOut]:
    """Every organisation, oldest first unless `sort` says otherwise (`name`, `created_at`, `-` for descending;
    admin only). Paginated with `limit` and `offset`."""
    return (await service.list_page(session, Organisation, page, sort.value)).to(OrganisationOut.model_validate)


@router.post(
    "/organisations",
    summary="Create an organisation",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(ORGANISATION_NAME_TAKEN),
)
@idempotent
@answers_etag
async def organisations_create(
    admin: AdminDep, session: SessionDep, body: OrganisationCreate, response: Response
) -> OrganisationOut:
    """Create an organisation (admin only), active. Its `kind` is `operator` (Aurore), `referral_partner` (the
    associations that refer families), `landlord` (Polygone) or `funder`; it decides which roles its users and API
    clients may have. Names are unique ignoring case: `409 organisation-name-taken`.

    Answers 201 with the organisation, its `ETag` and `Location`."""
    org = await service.create_organisation(session, body, actor=admin)
    return created_answer(response, OrganisationOut, org, f"/api/v1/organisations/{org.id}")


@router.get("/organisations/{organisation_id}", summary="Read an organisation", responses=_READ)
@answers_etag
async def organisations_get(_: AdminDep, org: CurrentOrganisation, response: Response) -> OrganisationOut:
    """One organisation with its `ETag` (admin only); 404 when unknown."""
    return etag_answer(response, OrganisationOut, org)


@router.patch(
    "/organisations/{organisation_id}",
    summary="Rename or (de)activate an organisation",
    responses=problem_responses(NOT_FOUND, ORGANISATION_NAME_TAKEN, LAST_ADMIN),
)
@answers_etag
async def organisations_update(
    admin: AdminDep,
    session: SessionDep,
    org: LockedOrganisation,
    body: OrganisationUpdate,
    if_match: IfMatchDep,
    response: Response,
) -> OrganisationOut:
    """Change an organisation's `name` or `active` (admin only), with `If-Match` from your last read.

    Deactivating an organisation takes away the access of all its users and API clients at once, even with
    unexpired tokens. The organisation holding the last active admins cannot be deactivated (`409 last-admin`);
    a name already taken (ignoring case) is `409 organisation-name-taken`."""
    if_match.check(org.version)
    org = await service.update_organisation(session, org, body, actor=admin)
    return etag_answer(response, OrganisationOut, org)


# --- users -------------------------------------------------------------------------------------------------
@router.get("/users", summary="List users")
async def users_list(
    admin: AdminDep,
    session: SessionDep,
    page: PageDep,
    sort: Annotated[UserSort, Query(description="Sort key; `-` for descending.")] = UserSort.CREATED_AT,
) -> Page[UserOut]:
    """Every user, oldest first unless `sort` says otherwise (`full_name`, `email`, `created_at`, `-` for
    descending; admin only). Paginated with `limit` and `offset`; passwords are never returned.
    The read is recorded (`user.list`, with the users shown)."""
    rows = await service.list_page(session, User, page, sort.value)
    await service.record_user_read(session, admin, rows.rows, listed=True)
    return rows.to(UserOut.model_validate)


@router.post(
    "/users",
    summary="Create a user",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(EMAIL_TAKEN),
)
@idempotent
@answers_etag
async def users_create(admin: AdminDep, session: SessionDep, body: UserCreate, response: Response) -> UserOut:
    """Create a person's account (admin only), active: `email` (stored lower case, unique: `409 email-taken`),
    `full_name`, `role`, `organisation_id` and a `password` of 12 to 128 characters (hashed with Argon2id; spaces
    are kept).

    The role must fit the organisation's kind (a `partner_worker` in a `referral_partner`, a `landlord` in a
    `landlord`…); an unknown organisation or a role that does not fit is 422 naming the field.
    Answers 201 with the user, its `ETag` and `Location`."""
    user = await service.create_user(session, body, actor=admin)
    return created_answer(response, UserOut, user, f"/api/v1/users/{user.id}")


@router.get("/users/{user_id}", summary="Read a user", responses=_READ)
@answers_etag
async def users_get(admin: AdminDep, session: SessionDep, user: CurrentUser, response: Response) -> UserOut:
    """One user with its `ETag` (admin only); 404 when unknown. The read is recorded (`user.read`)."""
    await service.record_user_read(session, admin, [user], listed=False)
    return etag_answer(response, UserOut, user)


@router.patch(
    "/users/{user_id}",
    summary="Change a user",
    responses=problem_responses(NOT_FOUND, SELF_LOCKOUT, LAST_ADMIN),
)
@answers_etag
async def users_update(
    admin: AdminDep, session: SessionDep, user: LockedUser, body: UserUpdate, if_match: IfMatchDep, response: Response
) -> UserOut:
    """Change a user's `full_name`, `role`, `password` or `active` (admin only), with `If-Match` from your last read.

    A deactivated user loses access at once. A new role must fit the organisation's kind (422). You cannot
    deactivate yourself or remove your own admin role (`409 self-lockout`), and the last active admin cannot be
    deactivated or demoted (`409 last-admin`)."""
    if_match.check(user.version)
    user = await service.update_user(session, user, body, acting_user_id=admin.id, actor=admin)
    return etag_answer(response, UserOut, user)


# --- API clients -------------------------------------------------------------------------------------------
@router.get("/api-clients", summary="List API clients")
async def api_clients_list(
    _: AdminDep,
    session: SessionDep,
    page: PageDep,
    sort: Annotated[ApiClientSort, Query(description="Sort key; `-` for descending.")] = ApiClientSort.CREATED_AT,
) -> Page[ApiClientOut]:
    """Every API client, oldest first unless `sort` says otherwise (`name`, `created_at`, `-` for descending; admin
    only). Paginated with `limit` and `offset`; secrets are never listed."""
    return (await service.list_page(session, ApiClient, page, sort.value)).to(ApiClientOut.model_validate)


@router.post("/api-clients", summary="Create an API client", status_code=status.HTTP_201_CREATED)
@idempotent
@answers_etag
async def api_clients_create(
    admin: AdminDep, session: SessionDep, body: ApiClientCreate, response: Response
) -> ApiClientWithSecret:
    """Create an API client for a partner system (admin only): a `name`, a `role` and an `organisation_id`.

    The server chooses its `client_id` (`tec_…`) and its secret; the answer (201, `ETag`, `Location`,
    `Cache-Control: no-store`) is the only time the `client_secret` is shown: store it now. The system then signs in
    with the `client_credentials` grant. API clients cannot be admins, and the role must fit the organisation's kind
    (422 naming the field)."""
    client, secret = await service.create_api_client(session, body, actor=admin)
    created(response, client.version, f"/api/v1/api-clients/{client.id}")
    return _with_secret(response, client, secret)


@router.get("/api-clients/{api_client_id}", summary="Read an API client", responses=_READ)
@answers_etag
async def api_clients_get(_: AdminDep, client: CurrentApiClient, response: Response) -> ApiClientOut:
    """One API client with its `ETag` (admin only), without its secret; 404 when unknown."""
    return etag_answer(response, ApiClientOut, client)


@router.patch("/api-clients/{api_client_id}", summary="Change an API client", responses=_READ)
@answers_etag
async def api_clients_update(
    admin: AdminDep,
    session: SessionDep,
    client: LockedApiClient,
    body: ApiClientUpdate,
    if_match: IfMatchDep,
    response: Response,
) -> ApiClientOut:
    """Change an API client's `name`, `role` or `active` (admin only), with `If-Match` from your last read.

    A deactivated client loses access at once. The role cannot be `admin` and must fit the organisation's kind
    (422)."""
    if_match.check(client.version)
    client = await service.update_api_client(session, client, body, actor=admin)
    return etag_answer(response, ApiClientOut, client)


@router.post("/api-clients/{api_client_id}/secret", summary="Rotate an API client's secret", responses=_READ)
@idempotent
@answers_etag
async def api_clients_rotate_secret(
    admin: AdminDep, session: SessionDep, client: LockedApiClient, if_match: IfMatchDep, response: Response
) -> ApiClientWithSecret:
    """Issue a new secret for an API client (admin only), with `If-Match` from your last read: the old secret stops
    working at once, and the new one is shown in this answer only (`Cache-Control: no-store`): store it now.
    Answers with the client's new `ETag`."""
    if_match.check(client.version)
    secret = await service.rotate_api_client_secret(session, client, actor=admin)
    with_etag(response, client.version)
    return _with_secret(response, client, secret)
