"""The OAuth2 token endpoint's rules: password grant for people, client_credentials for partner systems."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts import repository
from toit_emploi_api.accounts.models import ApiClient, Organisation, User
from toit_emploi_api.accounts.passwords import verify_secret
from toit_emploi_api.auth import throttle
from toit_emploi_api.auth.tokens import issue_access_token
from toit_emploi_api.core.settings import Settings


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


async def _org_active(session: AsyncSession, organisation: Organisation | None) -> bool:
    return organisation is not None and organisation.active


def _lockout(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.login_lockout_minutes)


async def password_grant(
    session: AsyncSession, settings: Settings, username: str, password: str, client_address: str | None
) -> TokenGranted | TokenRefused:
    keys = throttle.keys_for("user:" + username.strip().lower(), client_address)
    wait = await throttle.lock_and_check(session, keys)
    if wait:
        return TokenRefused(400, "invalid_grant", "Too many failed attempts; try again later.", wait)
    user = await repository.user_by_email(session, username.strip())
    ok = await verify_secret(user.password_hash if user else None, password)
    org = await session.get(Organisation, user.organisation_id) if user else None
    if not ok or user is None or not user.active or not await _org_active(session, org):
        wait = await throttle.record_failure(
            session, keys, max_failures=settings.login_max_failures, lockout=_lockout(settings)
        )
        return TokenRefused(400, "invalid_grant", "Invalid email or password.", wait)
    await throttle.clear(session, keys)
    # A plain UPDATE: signing in is not an edit, so the user's version (ETag) stays the same.
    await session.execute(update(User).where(User.id == user.id).values(last_login_at=datetime.now(UTC)))
    token, expires_in = issue_access_token(
        settings, subject_kind="user", subject_id=user.id, role=user.role.value, organisation_id=user.organisation_id
    )
    return TokenGranted(token, expires_in)


async def client_credentials_grant(
    session: AsyncSession, settings: Settings, client_id: str, client_secret: str, client_address: str | None
) -> TokenGranted | TokenRefused:
    keys = throttle.keys_for("client:" + client_id, client_address)
    wait = await throttle.lock_and_check(session, keys)
    if wait:
        return TokenRefused(401, "invalid_client", "Too many failed attempts; try again later.", wait)
    client = await repository.client_by_client_id(session, client_id)
    ok = await verify_secret(client.secret_hash if client else None, client_secret)
    org = await session.get(Organisation, client.organisation_id) if client else None
    if not ok or client is None or not client.active or not await _org_active(session, org):
        wait = await throttle.record_failure(
            session, keys, max_failures=settings.login_max_failures, lockout=_lockout(settings)
        )
        return TokenRefused(401, "invalid_client", "Client authentication failed.", wait)
    await throttle.clear(session, keys)
    await session.execute(update(ApiClient).where(ApiClient.id == client.id).values(last_used_at=datetime.now(UTC)))
    token, expires_in = issue_access_token(
        settings,
        subject_kind="client",
        subject_id=client.id,
        role=client.role.value,
        organisation_id=client.organisation_id,
    )
    return TokenGranted(token, expires_in)
