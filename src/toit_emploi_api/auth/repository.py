"""All SQL of the auth package: the principal behind a token, sign-in bookkeeping and the failed sign-in counters.

Accounts keep the identities (`accounts.repository`); this module reads them the way authentication needs them and
writes the few columns a sign-in touches.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, false, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts.models import ApiClient, LoginThrottle, Organisation, RefreshToken, User
from toit_emploi_api.auth.tokens import SubjectKind
from toit_emploi_api.vocab.roles import OrganisationKind, Role


# --- the principal behind a token ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubjectState:
    """What authentication needs to know of a token's subject and its organisation, read in one statement."""

    role: Role
    active: bool
    organisation_id: uuid.UUID
    organisation_kind: OrganisationKind
    organisation_active: bool


async def subject_state(
    session: AsyncSession, kind: SubjectKind, subject_id: uuid.UUID, session_id: uuid.UUID | None = None
) -> SubjectState | None:
    """One statement: the subject, its organisation and, for a token of a sign-in (`sid`), whether that sign-in
    was revoked (then the subject counts as inactive)."""
    model: type[User] | type[ApiClient] = User if kind == "user" else ApiClient
    signed_out = (
        select(RefreshToken.id)
        .where(RefreshToken.family_id == session_id, RefreshToken.revoked_at.is_not(None))
        .exists()
        if session_id is not None
        else false()
    )
    row = (
        await session.execute(
            select(
                model.role,
                model.active,
                model.organisation_id,
                Organisation.kind,
                Organisation.active,
                signed_out.label("signed_out"),
            )
            .join(Organisation, Organisation.id == model.organisation_id)
            .where(model.id == subject_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return SubjectState(
        role=Role(row[0]),
        active=row[1] and not row[5],
        organisation_id=row[2],
        organisation_kind=OrganisationKind(row[3]),
        organisation_active=row[4],
    )


async def organisation(session: AsyncSession, organisation_id: uuid.UUID) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def api_client(session: AsyncSession, api_client_id: uuid.UUID) -> ApiClient | None:
    return await session.get(ApiClient, api_client_id)


# --- sign-in bookkeeping ---------------------------------------------------------------------------------------
# Plain UPDATEs: signing in is not an edit, so the account's version (ETag) stays the same.
async def touch_last_login(session: AsyncSession, user_id: uuid.UUID, at: datetime) -> None:
    await session.execute(update(User).where(User.id == user_id).values(last_login_at=at))


async def touch_last_used(session: AsyncSession, api_client_id: uuid.UUID, at: datetime) -> None:
    await session.execute(update(ApiClient).where(ApiClient.id == api_client_id).values(last_used_at=at))


# --- failed sign-in counters -----------------------------------------------------------------------------------
def _throttle() -> Table:
    table = LoginThrottle.__table__
    assert isinstance(table, Table)
    return table


async def lock_counters(session: AsyncSession, identifiers: Sequence[str], account_hash: str) -> list[datetime | None]:
    """Create the counters' rows when missing (in the order given, tagged with the account-wide key), then take
    them `FOR UPDATE` for this transaction, ordered by identifier; returns their `locked_until`."""
    table = _throttle()
    for identifier in identifiers:
        await session.execute(
            insert(table).values(identifier=identifier, account_hash=account_hash, failures=0).on_conflict_do_nothing()
        )
    rows = await session.execute(
        select(LoginThrottle.locked_until)
        .where(LoginThrottle.identifier.in_(list(identifiers)))
        .order_by(LoginThrottle.identifier)
        .with_for_update()
    )
    return list(rows.scalars())


async def count_failure(session: AsyncSession, identifier: str, at: datetime) -> int:
    """One more failure on this counter; returns its new count."""
    table = _throttle()
    result = await session.execute(
        update(table)
        .where(table.c.identifier == identifier)
        .values(failures=table.c.failures + 1, last_failure_at=at)
        .returning(table.c.failures)
    )
    return int(result.scalar_one())


async def lock_counter(session: AsyncSession, identifier: str, until: datetime) -> None:
    """Reset the counter and lock it until `until`."""
    table = _throttle()
    await session.execute(update(table).where(table.c.identifier == identifier).values(failures=0, locked_until=until))


async def delete_counter(session: AsyncSession, identifier: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.identifier == identifier))


async def delete_account_counters(session: AsyncSession, account_hash: str) -> int:
    """Drop an account's failed sign-in counters and locks, from every address; returns how many there were."""
    result = await session.execute(
        delete(LoginThrottle).where(
            (LoginThrottle.account_hash == account_hash) | (LoginThrottle.identifier == account_hash)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_stale_counters(session: AsyncSession, keep: timedelta) -> None:
    """Forget counters with no lock and no failure for `keep` (unknown accounts must not grow the table forever)."""
    await session.execute(
        text(
            "DELETE FROM login_throttle WHERE (locked_until IS NULL OR locked_until < now()) "
            "AND (last_failure_at IS NULL OR last_failure_at < now() - make_interval(secs => :keep))"
        ),
        {"keep": keep.total_seconds()},
    )
