"""Who is calling, and the per-route role policy.

Every route declares its policy with ``authorize(...)`` (admin is always allowed) or ``public_route``;
a test walks the app and fails on any route without one.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.security import OAuth2
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import HTTPConnection

from toit_emploi_api.auth import repository
from toit_emploi_api.auth.tokens import AccessClaims, InvalidTokenError, SubjectKind, VerifiedTokens
from toit_emploi_api.core.database import USES_DATABASE, Database, SessionDep
from toit_emploi_api.core.errors import ForbiddenError, UnauthorizedError
from toit_emploi_api.core.openapi import SECURITY_SCHEME
from toit_emploi_api.core.routes import POLICY_ATTRIBUTE
from toit_emploi_api.vocab.roles import OrganisationKind, Role

TOKEN_URL = "/api/v1/auth/token"


class BearerToken(OAuth2):
    """`Authorization: Bearer <token>`, published as OAuth2 with both flows the token endpoint serves: `password`
    (people; refreshed with `grant_type=refresh_token`) and `clientCredentials` (partner systems' API clients)."""

    def __init__(self) -> None:
        super().__init__(
            flows=OAuthFlows(
                password=OAuthFlowPassword(tokenUrl=TOKEN_URL, refreshUrl=TOKEN_URL, scopes={}),
                clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes={}),
            ),
            scheme_name=SECURITY_SCHEME,
            description="People: password grant (and refresh_token). Partner systems: client_credentials grant "
            "with an API client's id and secret. Send the access token as `Authorization: Bearer <token>`.",
            auto_error=False,
        )

    async def __call__(self, request: HTTPConnection) -> str | None:
        return bearer_token(request)


def bearer_token(request: HTTPConnection) -> str | None:
    """The `Authorization: Bearer <token>` header's token, or None."""
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    return token if scheme.lower() == "bearer" and token else None


oauth2_scheme = BearerToken()


@dataclass(frozen=True)
class Principal:
    kind: SubjectKind
    id: uuid.UUID
    role: Role
    organisation_id: uuid.UUID
    organisation_kind: OrganisationKind

    def is_any(self, *roles: Role) -> bool:
        return self.role in roles

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def _claims(request: Request, token: str | None) -> AccessClaims:
    """The token's claims, or 401 (missing, forged, expired, meant for someone else)."""
    if not token:
        raise UnauthorizedError()
    try:
        verified: VerifiedTokens = request.app.state.verified_tokens
        return verified.decode(token)
    except InvalidTokenError:
        raise UnauthorizedError(
            "The bearer token is invalid or expired.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


def _inactive() -> UnauthorizedError:
    return UnauthorizedError(
        "The account behind this token no longer exists or is deactivated, or this sign-in was revoked.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def _authenticate(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    claims = _claims(request, token)
    state = await repository.subject_state(session, claims.subject_kind, claims.subject_id, claims.session_id)
    if state is None or not state.active or not state.organisation_active:
        raise _inactive()
    principal = Principal(
        kind=claims.subject_kind,
        id=claims.subject_id,
        role=state.role,
        organisation_id=state.organisation_id,
        organisation_kind=state.organisation_kind,
    )
    request.state.principal = principal
    return principal


def authorize(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """Dependency: an authenticated caller whose role is one of `roles` (or admin), else 401/403."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def dependency(principal: Annotated[Principal, Depends(_authenticate)]) -> Principal:
        if principal.role not in allowed:
            raise ForbiddenError("Your role does not allow this operation.")
        return principal

    setattr(dependency, POLICY_ATTRIBUTE, allowed)
    dependency.__name__ = "authorize_" + "_".join(sorted(r.value for r in allowed))
    return dependency


# Any authenticated caller, whatever the role.
ALL_ROLES_POLICY = authorize(*Role)

AdminDep = Annotated[Principal, Depends(authorize())]
"""The caller of an admin-only route (administration, webhooks, retention, history imports)."""
ManagerDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER))]
"""The caller of a route for the service manager (and admins) only."""

Authenticated = Annotated[Principal, Depends(_authenticate)]
"""The caller, for loader dependencies (`households.deps`, …): the route's own `authorize(...)` checks the role;
declare it before the loader so that a refused role is a 403, not a 404."""


async def metrics_reader(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> None:
    """GET /metrics: the `TOIT_EMPLOI_METRICS_TOKEN` bearer token (for Prometheus), or an admin's access token."""
    expected: str | None = request.app.state.settings.metrics_token
    if expected and token and hmac.compare_digest(token.encode(), expected.encode()):
        return
    principal = await _authenticate(request, session, token)
    if not principal.is_admin:
        raise ForbiddenError("Only an admin (or the metrics token) may read the metrics.")


setattr(metrics_reader, POLICY_ATTRIBUTE, frozenset({Role.ADMIN}))


# --- token first, subject later ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenCaller:
    """A caller whose token is valid but whose account is not looked up yet: a route on a hot read path checks the
    account inside its own statement (one round trip instead of two) and turns the row into a `Principal` with
    `principal_of`, which answers exactly as `authorize` would (401 inactive, 403 role)."""

    claims: AccessClaims
    allowed: frozenset[Role]
    database: Database

    def principal_of(self, state: repository.SubjectState | None) -> Principal:
        if state is None or not state.active or not state.organisation_active:
            raise _inactive()
        if state.role not in self.allowed:
            raise ForbiddenError("Your role does not allow this operation.")
        return Principal(
            kind=self.claims.subject_kind,
            id=self.claims.subject_id,
            role=state.role,
            organisation_id=state.organisation_id,
            organisation_kind=state.organisation_kind,
        )


def authorize_token(*roles: Role) -> Callable[..., Awaitable[TokenCaller]]:
    """Like `authorize(...)` (the same policy mark, the same 401 for a bad token), but the route checks the account
    and the role itself, in its own statement, with `TokenCaller.principal_of`, on `TokenCaller.database`.

    One dependency with no sub-dependency (the bearer header is read here, not by `oauth2_scheme`): on the hot reads
    each dependency level costs as much as the token check (measured, docs/performance.md). The operation's OAuth2
    security requirement is published by `core.openapi` for every route that is not public."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def dependency(request: Request) -> TokenCaller:
        return TokenCaller(_claims(request, bearer_token(request)), allowed, request.app.state.database)

    setattr(dependency, POLICY_ATTRIBUTE, allowed)
    setattr(dependency, USES_DATABASE, True)
    dependency.__name__ = "authorize_token_" + "_".join(sorted(r.value for r in allowed))
    return dependency
