"""The OAuth2 token endpoint's rules: password grant for people, client_credentials for partner systems; and who
the caller is (`/me`)."""

from __future__ import annotations

import hashlib
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts import repository as accounts
from toit_emploi_api.accounts.models import ApiClient, Organisation, User
from toit_emploi_api.accounts.passwords import verify_secret
from toit_emploi_api.auth import repository, throttle
from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.auth.tokens import InvalidTokenError, SubjectKind, decode_access_token, issue_access_token
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
    refresh_token: str | None = None
    basic: tuple[str, str] | None = None


@dataclass(frozen=True)
class TokenGranted:
    access_token: str
    expires_in: int
    refresh_token: str | None = None


@dataclass(frozen=True)
class TokenRefused:
    status: int
    error: str  # RFC 6749 error code
    description: str
    retry_after: int = 0


@dataclass(frozen=True)
class _Subject:
    """The account that signed in, as the audit trail's actor."""

    kind: SubjectKind
    id: uuid.UUID
    role: Role
    organisation_id: uuid.UUID

    @classmethod
    def of(cls, account: User | ApiClient) -> _Subject:
        return cls("user" if isinstance(account, User) else "client", account.id, account.role, account.organisation_id)


def _access_token(
    settings: Settings, account: User | ApiClient, session_id: uuid.UUID | None = None
) -> tuple[str, int]:
    """An access token for the account (`sid`: the sign-in of a person, for the refresh tokens)."""
    subject = _Subject.of(account)
    return issue_access_token(
        settings,
        subject_kind=subject.kind,
        subject_id=subject.id,
        role=subject.role.value,
        organisation_id=subject.organisation_id,
        session_id=session_id,
    )


async def _audit_sign_in(session: AsyncSession, subject: _Subject, grant: str) -> None:
    entity = "user" if subject.kind == "user" else "api_client"
    await audit.record(session, subject, AuditAction.AUTH_SIGN_IN, entity, subject.id, details={"grant": grant})


async def _audit_revoked(session: AsyncSession, user_id: uuid.UUID, cause: str) -> None:
    """A sign-in's tokens were revoked (signed out, or a replayed refresh token): who it was, never the token."""
    await audit.record(
        session,
        None,
        AuditAction.AUTH_TOKEN_REVOKED,
        "user",
        user_id,
        details={"cause": cause},
        actor_kind="anonymous",
    )


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
    values.append(form.refresh_token)
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
    if form.grant_type == "refresh_token":
        if not form.refresh_token:
            return _invalid_request("refresh_token is required.")
        return await refresh_grant(session, settings, form.refresh_token)
    if not form.grant_type:
        return _invalid_request("grant_type is required.")
    return TokenRefused(
        400, "unsupported_grant_type", "grant_type must be 'password', 'refresh_token' or 'client_credentials'."
    )


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


@dataclass(frozen=True)
class _SecretGrant:
    """A grant that checks an account's secret: how its audit events and its refusals are worded."""

    subject_kind: str  # the audit trail's subject kind
    name: str  # the grant, as the audit trail names it
    status: int
    error: str  # RFC 6749 error code
    refused: str  # the description of a bad secret, unknown or inactive account


_PASSWORD: Final = _SecretGrant("user", "password", 400, "invalid_grant", "Invalid email or password.")
_CLIENT_CREDENTIALS: Final = _SecretGrant(
    "api_client", "client_credentials", 401, "invalid_client", "Client authentication failed."
)
_Account = TypeVar("_Account", User, ApiClient)


async def _checked_account(
    session: AsyncSession,
    settings: Settings,
    grant: _SecretGrant,
    keys: throttle.Keys,
    account_of: Callable[[], Awaitable[_Account | None]],
    secret: str,
) -> _Account | TokenRefused:
    """The account whose secret matches, active in an active organisation, with its failure counters cleared; else
    the refusal (too many failures: the account is not even looked up), the failure counted and recorded."""
    if wait := await throttle.lock_and_check(session, keys):
        await _audit_failure(session, grant.subject_kind, None, grant.name, locked=True)
        return TokenRefused(grant.status, grant.error, "Too many failed attempts; try again later.", wait)
    account = await account_of()
    secret_hash: str | None = None
    if account is not None:
        secret_hash = account.password_hash if isinstance(account, User) else account.secret_hash
    ok = await verify_secret(secret_hash, secret)
    if not ok or account is None or not account.active or not await _org_active(session, account.organisation_id):
        await _audit_failure(session, grant.subject_kind, account.id if account else None, grant.name, locked=False)
        return await _refused(session, settings, keys, TokenRefused(grant.status, grant.error, grant.refused))
    await throttle.clear(session, keys)
    return account


async def password_grant(
    session: AsyncSession, settings: Settings, username: str, password: str, client_address: str | None
) -> TokenGranted | TokenRefused:
    keys = throttle.keys_for(throttle.user_identifier(username), client_address)
    user = await _checked_account(
        session, settings, _PASSWORD, keys, lambda: accounts.user_by_email(session, username.strip()), password
    )
    if isinstance(user, TokenRefused):
        return user
    await _audit_sign_in(session, _Subject.of(user), "password")
    now = datetime.now(UTC)
    await repository.touch_last_login(session, user.id, now)
    return await _grant_for_user(session, settings, user, family_id=uuid.uuid4(), now=now)


# --- refresh tokens (people only) ------------------------------------------------------------------------------
REFRESH_TOKEN_PREFIX = "ter_"


def _refresh_hash(token: str) -> str:
    # 256 random bits: a plain SHA-256 is enough (nothing to brute-force), and it can be looked up by equality.
    return hashlib.sha256(token.encode()).hexdigest()


async def _grant_for_user(
    session: AsyncSession, settings: Settings, user: User, *, family_id: uuid.UUID, now: datetime
) -> TokenGranted:
    """An access token for this sign-in (`sid` = the family) and the family's next refresh token."""
    refresh = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
    await accounts.add_refresh_token(
        session,
        token_hash=_refresh_hash(refresh),
        family_id=family_id,
        user_id=user.id,
        expires_at=now + timedelta(days=settings.refresh_token_idle_days),
    )
    token, expires_in = _access_token(settings, user, session_id=family_id)
    return TokenGranted(token, expires_in, refresh)


_REFRESH_REFUSED = TokenRefused(400, "invalid_grant", "The refresh token is invalid, expired or revoked.")


async def refresh_grant(session: AsyncSession, settings: Settings, refresh_token: str) -> TokenGranted | TokenRefused:
    """Rotate a refresh token: the presented one is used up and a new one of the same family comes back with a new
    access token. A token already used (a replay: someone else has a copy) revokes the whole family. Refusals are
    returned so that the revocation is committed."""
    if len(refresh_token) > 256:
        return _REFRESH_REFUSED
    now = datetime.now(UTC)
    row = await accounts.refresh_token_for_update(session, _refresh_hash(refresh_token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return _REFRESH_REFUSED
    if row.used_at is not None:
        await accounts.revoke_refresh_family(session, row.family_id, now)
        await _audit_failure(session, "user", row.user_id, "refresh_token", locked=False)
        await _audit_revoked(session, row.user_id, "refresh_token_replayed")
        return _REFRESH_REFUSED
    user = await repository.user(session, row.user_id)
    if user is None or not user.active or not await _org_active(session, user.organisation_id):
        await accounts.revoke_refresh_family(session, row.family_id, now)
        return _REFRESH_REFUSED
    await accounts.mark_refresh_token_used(session, row.id, now)
    await _audit_sign_in(session, _Subject.of(user), "refresh_token")
    if random.random() < 0.05:  # noqa: S311 - housekeeping, not security
        await accounts.purge_expired_refresh_tokens(session, now)
    return await _grant_for_user(session, settings, user, family_id=row.family_id, now=now)


async def revoke(session: AsyncSession, settings: Settings, token: str, token_type_hint: str | None) -> None:
    """RFC 7009 revocation: a refresh token revokes its whole family (the sign-in); a person's access token revokes
    the sign-in it was issued for (`sid`), which also ends that access token at once. Anything else (unknown, expired,
    an API client's token) is ignored: the answer is the same."""
    if len(token) > 4096 or "\x00" in token:
        return
    now = datetime.now(UTC)
    order = (
        ("access_token", "refresh_token") if token_type_hint == "access_token" else ("refresh_token", "access_token")
    )
    for kind in order:
        if kind == "refresh_token":
            row = await accounts.refresh_token_for_update(session, _refresh_hash(token))
            if row is not None:
                await accounts.revoke_refresh_family(session, row.family_id, now)
                await _audit_revoked(session, row.user_id, "signed_out")
                return
        else:
            try:
                claims = decode_access_token(settings, token)
            except InvalidTokenError:
                continue
            if claims.session_id is not None:
                await accounts.revoke_refresh_family(session, claims.session_id, now)
                await _audit_revoked(session, claims.subject_id, "signed_out")
                return


async def client_credentials_grant(
    session: AsyncSession, settings: Settings, client_id: str, client_secret: str, client_address: str | None
) -> TokenGranted | TokenRefused:
    keys = throttle.keys_for(throttle.client_identifier(client_id), client_address)
    client = await _checked_account(
        session,
        settings,
        _CLIENT_CREDENTIALS,
        keys,
        lambda: accounts.client_by_client_id(session, client_id),
        client_secret,
    )
    if isinstance(client, TokenRefused):
        return client
    await _audit_sign_in(session, _Subject.of(client), "client_credentials")
    await repository.touch_last_used(session, client.id, datetime.now(UTC))
    token, expires_in = _access_token(settings, client)
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
