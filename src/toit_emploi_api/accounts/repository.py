"""All SQL for organisations, users and API clients."""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts.models import ApiClient, Organisation, User
from toit_emploi_api.core.resources import PageParams, Slice, paginate, sorted_by
from toit_emploi_api.vocab.roles import Role

M = TypeVar("M", Organisation, User, ApiClient)
ADMIN_CHANGES_LOCK = 0x7465_0001  # advisory lock key for changes to admins


async def list_page(session: AsyncSession, model: type[M], page: PageParams, sort: str = "created_at") -> Slice[M]:
    """One page of organisations, users or API clients in the `sort` order (a column name, `-` for descending;
    oldest first by default), and their total."""
    key = sort.removeprefix("-")
    stmt = sorted_by(select(model), sort, {key: getattr(model, key)}, model.id)
    return await paginate(session, stmt, page)


async def get(session: AsyncSession, model: type[M], obj_id: uuid.UUID, *, for_update: bool = False) -> M | None:
    stmt = select(model).where(model.id == obj_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(func.lower(User.email) == email.lower()))).scalar_one_or_none()


async def client_by_client_id(session: AsyncSession, client_id: str) -> ApiClient | None:
    return (await session.execute(select(ApiClient).where(ApiClient.client_id == client_id))).scalar_one_or_none()


async def organisation_name_taken(session: AsyncSession, name: str, exclude: uuid.UUID | None = None) -> bool:
    stmt = select(Organisation.id).where(func.lower(Organisation.name) == name.lower())
    if exclude is not None:
        stmt = stmt.where(Organisation.id != exclude)
    return (await session.execute(stmt)).first() is not None


async def count_admins(
    session: AsyncSession, *, excluding_user: uuid.UUID | None = None, excluding_organisation: uuid.UUID | None = None
) -> int:
    """Active admins in active organisations (the ones who can still manage accounts)."""
    stmt = (
        select(func.count())
        .select_from(User)
        .join(Organisation, Organisation.id == User.organisation_id)
        .where(User.role == Role.ADMIN, User.active.is_(True), Organisation.active.is_(True))
    )
    if excluding_user is not None:
        stmt = stmt.where(User.id != excluding_user)
    if excluding_organisation is not None:
        stmt = stmt.where(Organisation.id != excluding_organisation)
    return (await session.execute(stmt)).scalar_one()


async def lock_admins(session: AsyncSession) -> None:
    """Serialise changes that could remove the last admin (a transaction-level advisory lock)."""
    await session.execute(select(func.pg_advisory_xact_lock(ADMIN_CHANGES_LOCK)))


async def organisation_by_name(session: AsyncSession, name: str) -> Organisation | None:
    """The organisation of this name, ignoring case (names are unique that way)."""
    stmt = select(Organisation).where(func.lower(Organisation.name) == name.lower())
    return (await session.execute(stmt)).scalar_one_or_none()
