"""Admin-only management of organisations, users and API clients."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from toit_emploi_api.accounts import repository, service
from toit_emploi_api.accounts.models import ApiClient, Organisation, User
from toit_emploi_api.accounts.schemas import (
    ApiClientCreate,
    ApiClientOut,
    ApiClientUpdate,
    ApiClientWithSecret,
    OrganisationCreate,
    OrganisationOut,
    OrganisationUpdate,
    UserCreate,
    UserOut,
    UserUpdate,
)
from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import error_responses
from toit_emploi_api.core.etag import IfMatchHeader, require_if_match
from toit_emploi_api.core.resources import Page, PageDep, with_etag

router = APIRouter(prefix="/api/v1", tags=["administration"])
AdminDep = Annotated[Principal, Depends(authorize())]
_READ = error_responses(404)
_WRITE = error_responses(404, 409, 412, 428)


# --- organisations -----------------------------------------------------------------------------------------
@router.get("/organisations", operation_id="organisations_list", response_model=Page[OrganisationOut])
async def list_organisations(_: AdminDep, session: SessionDep, page: PageDep) -> Page[OrganisationOut]:
    rows, total = await repository.list_page(session, Organisation, page.limit, page.offset)
    return Page(items=[OrganisationOut.model_validate(r) for r in rows], total=total, **vars(page))


@router.post(
    "/organisations",
    operation_id="organisations_create",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganisationOut,
    responses=error_responses(409),
)
async def create_organisation(
    _: AdminDep, session: SessionDep, body: OrganisationCreate, response: Response
) -> OrganisationOut:
    org = await service.create_organisation(session, body)
    with_etag(response, org.version)
    response.headers["Location"] = f"/api/v1/organisations/{org.id}"
    return OrganisationOut.model_validate(org)


@router.get(
    "/organisations/{organisation_id}",
    operation_id="organisations_get",
    response_model=OrganisationOut,
    responses=_READ,
)
async def get_organisation(
    _: AdminDep, session: SessionDep, organisation_id: uuid.UUID, response: Response
) -> OrganisationOut:
    org = await service.get_or_404(session, Organisation, organisation_id)
    with_etag(response, org.version)
    return OrganisationOut.model_validate(org)


@router.patch(
    "/organisations/{organisation_id}",
    operation_id="organisations_update",
    response_model=OrganisationOut,
    responses=_WRITE,
)
async def update_organisation(
    _: AdminDep,
    session: SessionDep,
    organisation_id: uuid.UUID,
    body: OrganisationUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> OrganisationOut:
    org = await service.get_or_404(session, Organisation, organisation_id, for_update=True)
    require_if_match(if_match, org.version)
    org = await service.update_organisation(session, org, body)
    with_etag(response, org.version)
    return OrganisationOut.model_validate(org)


# --- users -------------------------------------------------------------------------------------------------
@router.get("/users", operation_id="users_list", response_model=Page[UserOut])
async def list_users(_: AdminDep, session: SessionDep, page: PageDep) -> Page[UserOut]:
    rows, total = await repository.list_page(session, User, page.limit, page.offset)
    return Page(items=[UserOut.model_validate(r) for r in rows], total=total, **vars(page))


@router.post(
    "/users",
    operation_id="users_create",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=error_responses(409),
)
async def create_user(_: AdminDep, session: SessionDep, body: UserCreate, response: Response) -> UserOut:
    user = await service.create_user(session, body)
    with_etag(response, user.version)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserOut.model_validate(user)


@router.get("/users/{user_id}", operation_id="users_get", response_model=UserOut, responses=_READ)
async def get_user(_: AdminDep, session: SessionDep, user_id: uuid.UUID, response: Response) -> UserOut:
    user = await service.get_or_404(session, User, user_id)
    with_etag(response, user.version)
    return UserOut.model_validate(user)


@router.patch("/users/{user_id}", operation_id="users_update", response_model=UserOut, responses=_WRITE)
async def update_user(
    admin: AdminDep,
    session: SessionDep,
    user_id: uuid.UUID,
    body: UserUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> UserOut:
    user = await service.get_or_404(session, User, user_id, for_update=True)
    require_if_match(if_match, user.version)
    user = await service.update_user(session, user, body, acting_user_id=admin.id)
    with_etag(response, user.version)
    return UserOut.model_validate(user)


# --- API clients -------------------------------------------------------------------------------------------
@router.get("/api-clients", operation_id="api_clients_list", response_model=Page[ApiClientOut])
async def list_api_clients(_: AdminDep, session: SessionDep, page: PageDep) -> Page[ApiClientOut]:
    rows, total = await repository.list_page(session, ApiClient, page.limit, page.offset)
    return Page(items=[ApiClientOut.model_validate(r) for r in rows], total=total, **vars(page))


@router.post(
    "/api-clients",
    operation_id="api_clients_create",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiClientWithSecret,
    responses=error_responses(409),
)
async def create_api_client(
    _: AdminDep, session: SessionDep, body: ApiClientCreate, response: Response
) -> ApiClientWithSecret:
    client, secret = await service.create_api_client(session, body)
    with_etag(response, client.version)
    response.headers["Location"] = f"/api/v1/api-clients/{client.id}"
    response.headers["Cache-Control"] = "no-store"
    return ApiClientWithSecret(**ApiClientOut.model_validate(client).model_dump(), client_secret=secret)


@router.get(
    "/api-clients/{api_client_id}",
    operation_id="api_clients_get",
    response_model=ApiClientOut,
    responses=_READ,
)
async def get_api_client(
    _: AdminDep, session: SessionDep, api_client_id: uuid.UUID, response: Response
) -> ApiClientOut:
    client = await service.get_or_404(session, ApiClient, api_client_id)
    with_etag(response, client.version)
    return ApiClientOut.model_validate(client)


@router.patch(
    "/api-clients/{api_client_id}",
    operation_id="api_clients_update",
    response_model=ApiClientOut,
    responses=_WRITE,
)
async def update_api_client(
    _: AdminDep,
    session: SessionDep,
    api_client_id: uuid.UUID,
    body: ApiClientUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> ApiClientOut:
    client = await service.get_or_404(session, ApiClient, api_client_id, for_update=True)
    require_if_match(if_match, client.version)
    client = await service.update_api_client(session, client, body)
    with_etag(response, client.version)
    return ApiClientOut.model_validate(client)


@router.post(
    "/api-clients/{api_client_id}/secret",
    operation_id="api_clients_rotate_secret",
    summary="Issue a new secret (the old one stops working; the new one is shown once)",
    response_model=ApiClientWithSecret,
    responses=_READ,
)
async def rotate_api_client_secret(
    _: AdminDep, session: SessionDep, api_client_id: uuid.UUID, response: Response
) -> ApiClientWithSecret:
    client = await service.get_or_404(session, ApiClient, api_client_id, for_update=True)
    secret = await service.rotate_api_client_secret(session, client)
    with_etag(response, client.version)
    response.headers["Cache-Control"] = "no-store"
    return ApiClientWithSecret(**ApiClientOut.model_validate(client).model_dump(), client_secret=secret)
