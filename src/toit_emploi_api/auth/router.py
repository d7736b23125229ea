"""POST /auth/token (OAuth2) and GET /me."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from toit_emploi_api.accounts.models import ApiClient, Organisation, User
from toit_emploi_api.accounts.schemas import MeOut, OrganisationBrief
from toit_emploi_api.auth import service
from toit_emploi_api.auth.policy import ALL_ROLES_POLICY, Principal
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import error_responses, problem_response
from toit_emploi_api.core.routes import public_route
from toit_emploi_api.vocab.problems import (
    OAUTH_INVALID_CLIENT,
    OAUTH_INVALID_GRANT,
    OAUTH_INVALID_REQUEST,
    OAUTH_UNSUPPORTED_GRANT_TYPE,
)

router = APIRouter(prefix="/api/v1", tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires.", examples=[900])


_Field = Annotated[str | None, Form(max_length=256)]


_OAUTH_PROBLEMS = {
    "invalid_request": OAUTH_INVALID_REQUEST,
    "invalid_grant": OAUTH_INVALID_GRANT,
    "unsupported_grant_type": OAUTH_UNSUPPORTED_GRANT_TYPE,
    "invalid_client": OAUTH_INVALID_CLIENT,
}


def _oauth_error(request: Request, status: int, error: str, description: str, retry_after: int = 0) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="toit-emploi"'
    return problem_response(
        _OAUTH_PROBLEMS[error],
        description,
        instance=request.url.path,
        extra={"error": error, "error_description": description},
        headers=headers,
    )


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, ValueError):  # ValueError covers non-ASCII input and UnicodeDecodeError
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


@router.post(
    "/auth/token",
    operation_id="auth_issue_token",
    summary="Get an access token (OAuth2 password or client_credentials grant)",
    dependencies=[Depends(public_route)],
    response_model=TokenOut,
    responses=error_responses(400, 401),
)
async def issue_token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[str | None, Form(max_length=64, examples=["password"])] = None,
    username: _Field = None,
    password: _Field = None,
    client_id: _Field = None,
    client_secret: _Field = None,
    scope: _Field = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> JSONResponse:
    settings = request.app.state.settings
    address = request.client.host if request.client else None
    basic = _basic_credentials(authorization)
    values = [grant_type, username, password, client_id, client_secret, scope, *(basic or ())]
    if any(v is not None and "\x00" in v for v in values):
        return _oauth_error(request, 400, "invalid_request", "Parameters must not contain NUL characters.")
    if grant_type == "password":
        if not username or not password:
            return _oauth_error(request, 400, "invalid_request", "username and password are required.")
        if len(username) > 254:
            return _oauth_error(request, 400, "invalid_grant", "Invalid email or password.")
        result = await service.password_grant(session, settings, username, password, address)
    elif grant_type == "client_credentials":
        creds = basic or ((client_id, client_secret) if client_id and client_secret else None)
        if creds is None:
            return _oauth_error(request, 401, "invalid_client", "client_id and client_secret are required.")
        if len(creds[0]) > 64 or len(creds[1]) > 256:
            return _oauth_error(request, 401, "invalid_client", "Client authentication failed.")
        result = await service.client_credentials_grant(session, settings, creds[0], creds[1], address)
    elif not grant_type:
        return _oauth_error(request, 400, "invalid_request", "grant_type is required.")
    else:
        return _oauth_error(
            request, 400, "unsupported_grant_type", "grant_type must be 'password' or 'client_credentials'."
        )
    if isinstance(result, service.TokenRefused):
        # Returned, not raised: the failure counter must be committed with this response.
        return _oauth_error(request, result.status, result.error, result.description, result.retry_after)
    body = TokenOut(access_token=result.access_token, expires_in=result.expires_in)
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.get("/me", operation_id="auth_get_me", summary="Who am I", response_model=MeOut)
async def get_me(session: SessionDep, principal: Annotated[Principal, Depends(ALL_ROLES_POLICY)]) -> MeOut:
    org = (await session.execute(select(Organisation).where(Organisation.id == principal.organisation_id))).scalar_one()
    out = MeOut(
        kind=principal.kind,
        id=principal.id,
        role=principal.role,
        organisation=OrganisationBrief.model_validate(org),
    )
    if principal.kind == "user":
        user = await session.get(User, principal.id)
        assert user is not None
        out.email, out.full_name = user.email, user.full_name
    else:
        client = await session.get(ApiClient, principal.id)
        assert client is not None
        out.client_id, out.name = client.client_id, client.name
    return out
