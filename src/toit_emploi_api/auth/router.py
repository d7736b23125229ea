"""POST /auth/token (OAuth2) and GET /me."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from toit_emploi_api.accounts.schemas import MeOut, OrganisationBrief
from toit_emploi_api.auth import service
from toit_emploi_api.auth.policy import ALL_ROLES_POLICY, Principal, metrics_reader
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_response, problem_responses
from toit_emploi_api.core.routes import public_route
from toit_emploi_api.vocab.problems import (
    OAUTH_INVALID_CLIENT,
    OAUTH_INVALID_GRANT,
    OAUTH_INVALID_REQUEST,
    OAUTH_UNSUPPORTED_GRANT_TYPE,
)

router = APIRouter(prefix="/api/v1", tags=["auth"])
metrics_router = APIRouter(tags=["health"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(description="Seconds until the token expires.", examples=[900])
    refresh_token: str | None = Field(
        default=None,
        description="People only (password and refresh_token grants): an opaque token for `grant_type=refresh_token`, "
        "valid until unused for 30 days. Each use returns a new one; send the newest.",
        examples=["ter_8Jq0…"],
    )


_Field = Annotated[str | None, Form(max_length=256)]


_OAUTH_PROBLEMS = {
    "invalid_request": OAUTH_INVALID_REQUEST,
    "invalid_grant": OAUTH_INVALID_GRANT,
    "unsupported_grant_type": OAUTH_UNSUPPORTED_GRANT_TYPE,
    "invalid_client": OAUTH_INVALID_CLIENT,
}


def _oauth_error(request: Request, refused: service.TokenRefused) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if refused.retry_after:
        headers["Retry-After"] = str(refused.retry_after)
    if refused.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="toit-emploi"'
    return problem_response(
        _OAUTH_PROBLEMS[refused.error],
        refused.description,
        instance=request.url.path,
        extra={"error": refused.error, "error_description": refused.description},
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
    summary="Get an access token",
    dependencies=[Depends(public_route)],
    response_model=TokenOut,
    responses=problem_responses(
        OAUTH_INVALID_REQUEST, OAUTH_INVALID_GRANT, OAUTH_UNSUPPORTED_GRANT_TYPE, OAUTH_INVALID_CLIENT
    ),
)
async def auth_issue_token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[str | None, Form(max_length=64, examples=["password"])] = None,
    username: _Field = None,
    password: _Field = None,
    client_id: _Field = None,
    client_secret: _Field = None,
    scope: _Field = None,
    refresh_token: _Field = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> JSONResponse:
    """OAuth2's token endpoint (RFC 6749), form-encoded, open to anyone.

    - **People** use the `password` grant: `grant_type=password`, `username` (the email, case ignored), `password`.
    - **Systems** use an API client and the `client_credentials` grant, with the client id and secret in HTTP Basic
      (`-u 'tec_…:<secret>'`) or as the `client_id` and `client_secret` fields.
    - **People stay signed in** with the `refresh_token` grant: `grant_type=refresh_token`, `refresh_token`.

    The answer is `{"access_token", "token_type": "bearer", "expires_in"}` (seconds; 15 minutes by default), with
    `Cache-Control: no-store`. The token is a JWT carrying the subject, its role and organisation. The password and
    refresh_token grants also return a `refresh_token` (API clients get none: they sign in again). A refresh token is
    used once: each use returns a new one (send the newest); presenting a used one again revokes the whole sign-in
    (someone else may hold a copy), and one unused for 30 days expires. A deactivated user, API client or
    organisation gets no token (and loses access at once with one); deactivating a person or changing its password
    revokes its refresh tokens. Sign out with `POST /api/v1/auth/revoke`.

    **Throttling.** After 5 failed sign-ins from one address an account (email or client id) is locked for 15 minutes
    for that address; after 20 failures from anywhere it is locked for everyone. Parallel attempts are counted one by
    one; a refusal while locked carries `Retry-After`. Unknown accounts are counted like real ones, and a wrong
    password and an unknown account get the same answer, so no answer tells whether an account exists.

    **Errors** are problem+json that also carry RFC 6749's `error` and `error_description`:
    `invalid_request` (400: a missing field, a NUL character), `invalid_grant` (400: wrong email or password, or
    locked; an invalid, used, expired or revoked refresh token), `unsupported_grant_type` (400) and
    `invalid_client` (401 with `WWW-Authenticate: Basic`: wrong or missing client credentials, or locked).
    """
    address = request.client.host if request.client else None
    form = service.TokenRequest(
        grant_type=grant_type,
        username=username,
        password=password,
        client_id=client_id,
        client_secret=client_secret,
        scope=scope,
        refresh_token=refresh_token,
        basic=_basic_credentials(authorization),
    )
    result = await service.issue_token(session, request.app.state.settings, form, address)
    if isinstance(result, service.TokenRefused):
        # Returned, not raised: the failure counter must be committed with this response.
        return _oauth_error(request, result)
    body = TokenOut(access_token=result.access_token, expires_in=result.expires_in, refresh_token=result.refresh_token)
    return JSONResponse(body.model_dump(exclude_none=True), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.post(
    "/auth/revoke",
    summary="Sign out (revoke a token)",
    dependencies=[Depends(public_route)],
    status_code=200,
    response_class=Response,
    responses={200: {"description": "Revoked, or the token was unknown (the answer is the same)."}},
)
async def auth_revoke_token(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=4096, description="The refresh token (or access token) to revoke.")],
    token_type_hint: Annotated[
        str | None, Form(max_length=32, description="`refresh_token` or `access_token`; a hint only.")
    ] = None,
) -> Response:
    """Token revocation (RFC 7009), form-encoded, open to anyone holding the token: this is how a person signs out.

    - A **refresh token** revokes its whole sign-in: that refresh token, those rotated from it, and the access
      tokens issued for that sign-in, at once.
    - A person's **access token** revokes the sign-in it was issued for, the same way.
    - An unknown, expired or already revoked token, or an API client's access token (which has no sign-in to
      revoke: it expires on its own), gets the same empty 200, so the answer never tells whether a token existed.

    `token_type_hint` is optional (`refresh_token` or `access_token`) and only decides which kind is looked up
    first. A missing `token` is 422."""
    await service.revoke(session, request.app.state.settings, token, token_type_hint)
    return Response(status_code=200, headers={"Cache-Control": "no-store"})


@router.get("/me", summary="Who am I")
async def auth_get_me(session: SessionDep, principal: Annotated[Principal, Depends(ALL_ROLES_POLICY)]) -> MeOut:
    """Who the bearer token belongs to, for every authenticated caller whatever its role.

    The answer has `kind` (`user` or `client`), `id`, `role` and the `organisation` (`id`, `name`, `kind`); for a
    user also its `email` and `full_name`, for an API client its `client_id` and `name`.
    """
    caller = await service.who_am_i(session, principal)
    out = MeOut(
        kind=principal.kind,
        id=principal.id,
        role=principal.role,
        organisation=OrganisationBrief.model_validate(caller.organisation),
    )
    if caller.user is not None:
        out.email, out.full_name = caller.user.email, caller.user.full_name
    if caller.api_client is not None:
        out.client_id, out.name = caller.api_client.client_id, caller.api_client.name
    return out


@metrics_router.get(
    "/metrics",
    summary="Prometheus metrics",
    dependencies=[Depends(metrics_reader)],
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain; version=0.0.4; charset=utf-8": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process (or of every worker in multiprocess mode, see docs/operations.md):
    `toit_emploi_http_requests_total` and `toit_emploi_http_request_duration_seconds` by method, route template
    (never a concrete path) and status, and the database pool's `toit_emploi_db_pool_*` gauges.

    Send `Authorization: Bearer <TOIT_EMPLOI_METRICS_TOKEN>` (the setting, for Prometheus' `authorization`
    config) or an admin's access token; anything else is 401 or 403."""
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
