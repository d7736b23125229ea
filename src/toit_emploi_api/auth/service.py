"""The OAuth2 token endpoint's rules: password grant for people, client_credentials for partner systems; and who
the caller is (`/me`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts import repository as accounts
from toit_emploi_api.accounts.models import ApiClient, Organisation, User
from toit_emploi_api.accounts.passwords import verify_secret
from toit_emploi_api.auth import repository, throttle
from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.auth.tokens import issue_access_token
from toit_emploi_api.core import audit
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.roles import Role


@dataclass(frozen=True)
class TokenRequest:
    """The token endpoint's form, as sent (every field optional), and HTTP Basic client credentials if any."""

    grant_type: str | None = None
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    basic: tuple[str, str] | None = None


@dataclass(frozen=True)
class TokenGranted:
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class TokenRefused:
    status: int
    error: str  # RFC 6749 error code
    description: str
    retry_after: int = 0


@dataclass(frozen=True)
class _Subject:
    """The account that signed in, as the audit trail's actor."""

    kind: str
    id: uuid.UUID
    role: Role
    organisation_id: uuid.UUID


async def _audit_sign_in(session: AsyncSession, subject: _Subject, grant: str) -> None:
    entity = "user" if subject.kind == "user" else "api_client"
    await audit.record(session, subject, AuditAction.AUTH_SIGN_IN, entity, subject.id, details={"grant": grant})


async def _audit_failure(
    session: AsyncSession, entity: str, account_id: uuid.UUID | None, grant: str, *, locked: bool
) -> None:
    """A failed sign-in: the account's id when it exists, never the email, client id or secret tried."""
    await audit.record(
        session,
        None,
        AuditAction.AUTH_SIGN_IN_FAILED,
        entity,
        account_id,
        details={"grant": grant, "locked": locked},
        actor_kind="anonymous",
    )


def _invalid_request(description: str) -> TokenRefused:
    return TokenRefused(400, "invalid_request", description)


async def issue_token(
    session: AsyncSession, settings: Settings, form: TokenRequest, client_address: str | None
) -> TokenGranted | TokenRefused:
    """Check the request's shape (RFC 6749 errors), then run its grant. Refusals are returned, not raised: the
    failure counters must be committed with the answer."""
    values = [form.grant_type, form.username, form.password, form.client_id, form.client_secret, form.scope]
    values += list(form.basic or ())
    if any(v is not None and "\x00" in v for v in values):
        return _invalid_request("Parameters must not contain NUL characters.")
    if form.grant_type == "password":
        if not form.username or not form.password:
            return _invalid_request("username and password are required.")
        if len(form.username) > 254:
            return TokenRefused(400, "invalid_grant", "Invalid email or password.")
        return await password_grant(session, settings, form.username, form.password, client_address)
    if form.grant_type == "client_credentials":
        creds = form.basic or ((form.client_id, form.client_secret) if form.client_id and form.client_secret else None)
        if creds is None:
            return TokenRefused(401, "invalid_client", "client_id and client_secret are required.")
        if len(creds[0]) > 64 or len(creds[1]) > 256:
            return TokenRefused(401, "invalid_client", "Client authentication failed.")
        return await client_credentials_grant(session, settings, creds[0], creds[1], client_address)
    if not form.grant_type:
        return _invalid_request("grant_type is required.")
    return TokenRefused(400, "unsupported_grant_type", "grant_type must be 'password' or 'client_credentials'.")


async def _org_active(session: AsyncSession, organisation_id: uuid.UUID | None) -> bool:
    if organisation_id is None:
        return False
    org = await repository.organisation(session, organisation_id)
    return org is not None and org.active


def _lockout(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_lockout_minutes)


async def _refused(
    session: AsyncSession, settings: Settings, keys: throttle.Keys, refusal: TokenRefused
) -> TokenRefused:
    wait = await throttle.record_failure(
        session, keys, max_failures=settings.login_max_failures, lockout=_lockout(settings)
    )
    return TokenRefused(refusal.status, refusal.error, refusal.description, wait)


async def password_grant(
    session: AsyncSession, settings: Settings, username: str, password: str, client_address: str | None
) -> TokenGranted | TokenRefused:
    keys = throttle.keys_for("user:" + username.strip().lower(), client_address)
    if wait := await throttle.lock_and_check(session, keys):
        await _audit_failure(session, "user", None, "password", locked=True)
        return TokenRefused(400, "invalid_grant", "Too many failed attempts; try again later.", wait)
    user = await accounts.user_by_email(session, username.strip())
    ok = await verify_secret(user.password_hash if user else None, password)
    if not ok or user is None or not user.active or not await _org_active(session, user.organisation_id):
        await _audit_failure(session, "user", user.id if user else None, "password", locked=False)
        return await _refused(session, settings, keys, TokenRefused(400, "invalid_grant", "Invalid email or password."))
    await throttle.clear(session, keys)
    await _audit_sign_in(session, _Subject("user", user.id, user.role, user.organisation_id), "password")
    await repository.touch_last_login(session, user.id, datetime.now(UTC))
    token, expires_in = issue_access_token(
        settings, subject_kind="user", subject_id=user.id, role=user.role.value, organisation_id=user.organisation_id
    )
    return TokenGranted(token, expires_in)


async def client_credentials_grant(
    session: AsyncSession, settings: Settings, client_id: str, client_secret: str, client_address: str | None
) -> TokenGranted | TokenRefused:
    keys = throttle.keys_for("client:" + client_id, client_address)
    if wait := await throttle.lock_and_check(session, keys):
        await _audit_failure(session, "api_client", None, "client_credentials", locked=True)
        return TokenRefused(401, "invalid_client", "Too many failed attempts; try again later.", wait)
    client = await accounts.client_by_client_id(session, client_id)
    ok = await verify_secret(client.secret_hash if client else None, client_secret)
    if not ok or client is None or not client.active or not await _org_active(session, client.organisation_id):
        await _audit_failure(session, "api_client", client.id if client else None, "client_credentials", locked=False)
        return await _refused(
            session, settings, keys, TokenRefused(401, "invalid_client", "Client authentication failed.")
        )
    await throttle.clear(session, keys)
    subject = _Subject("client", client.id, client.role, client.organisation_id)
    await _audit_sign_in(session, subject, "client_credentials")
    await repository.touch_last_used(session, client.id, datetime.now(UTC))
    token, expires_in = issue_access_token(
        settings,
        subject_kind="client",
        subject_id=client.id,
        role=client.role.value,
        organisation_id=client.organisation_id,
    )
    return TokenGranted(token, expires_in)


@dataclass(frozen=True)
class Caller:
    """The caller of `/me`: its organisation and either its user or its API client."""

    principal: Principal
    organisation: Organisation
    user: User | None = None
    api_client: ApiClient | None = None


async def who_am_i(session: AsyncSession, principal: Principal) -> Caller:
    org = await repository.organisation(session, principal.organisation_id)
    assert org is not None  # authentication has just read it
    if principal.kind == "user":
        user = await repository.user(session, principal.id)
        assert user is not None
        return Caller(principal, org, user=user)
    client = await repository.api_client(session, principal.id)
    assert client is not None
    return Caller(principal, org, api_client=client)
