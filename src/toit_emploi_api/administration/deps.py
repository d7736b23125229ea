"""Loader dependencies: the organisation, user or API client of the path (404 when unknown).

async def route(principal: AdminDep, organisation: LockedOrganisation, if_match: IfMatchDep) -> ...
Declare the route's principal first, so that a refused role is a 403 before any 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from toit_emploi_api.accounts import service
from toit_emploi_api.accounts.models import ApiClient, Organisation, User
from toit_emploi_api.auth.policy import Authenticated
from toit_emploi_api.core.database import SessionDep


async def _organisation(_: Authenticated, session: SessionDep, organisation_id: uuid.UUID) -> Organisation:
    return await service.get_or_404(session, Organisation, organisation_id)


async def _locked_organisation(_: Authenticated, session: SessionDep, organisation_id: uuid.UUID) -> Organisation:
    return await service.get_or_404(session, Organisation, organisation_id, for_update=True)


async def _user(_: Authenticated, session: SessionDep, user_id: uuid.UUID) -> User:
    return await service.get_or_404(session, User, user_id)


async def _locked_user(_: Authenticated, session: SessionDep, user_id: uuid.UUID) -> User:
    return await service.get_or_404(session, User, user_id, for_update=True)


async def _api_client(_: Authenticated, session: SessionDep, api_client_id: uuid.UUID) -> ApiClient:
    return await service.get_or_404(session, ApiClient, api_client_id)


async def _locked_api_client(_: Authenticated, session: SessionDep, api_client_id: uuid.UUID) -> ApiClient:
    return await service.get_or_404(session, ApiClient, api_client_id, for_update=True)


CurrentOrganisation = Annotated[Organisation, Depends(_organisation)]
"""The path's organisation."""
LockedOrganisation = Annotated[Organisation, Depends(_locked_organisation)]
"""The same, locked `FOR UPDATE` until the request's transaction ends (for writes)."""
CurrentUser = Annotated[User, Depends(_user)]
"""The path's user."""
LockedUser = Annotated[User, Depends(_locked_user)]
"""The same, locked `FOR UPDATE` (for writes)."""
CurrentApiClient = Annotated[ApiClient, Depends(_api_client)]
"""The path's API client."""
LockedApiClient = Annotated[ApiClient, Depends(_locked_api_client)]
"""The same, locked `FOR UPDATE` (for writes)."""
