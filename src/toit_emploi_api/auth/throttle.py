"""Failed sign-in counter per identifier, in PostgreSQL so that every worker and machine shares it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts.models import LoginThrottle


async def locked_for(session: AsyncSession, identifier: str) -> int:
    """Seconds the identifier stays locked (0 when it may try)."""
    locked_until = (
        await session.execute(select(LoginThrottle.locked_until).where(LoginThrottle.identifier == identifier))
    ).scalar_one_or_none()
    now = datetime.now(UTC)
    if locked_until is None or locked_until <= now:
        return 0
    return max(1, int((locked_until - now).total_seconds()) + 1)


async def record_failure(session: AsyncSession, identifier: str, *, max_failures: int, lockout: timedelta) -> int:
    """Count one failure atomically; lock the identifier once it reaches `max_failures`. Returns lock seconds."""
    now = datetime.now(UTC)
    table = LoginThrottle.__table__
    assert isinstance(table, Table)
    stmt = (
        insert(table)
        .values(identifier=identifier, failures=1, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.identifier],
            set_={"failures": table.c.failures + 1, "last_failure_at": now},
        )
        .returning(table.c.failures)
    )
    failures = (await session.execute(stmt)).scalar_one()
    if failures >= max_failures:
        until = now + lockout
        await session.execute(
            table.update().where(table.c.identifier == identifier).values(failures=0, locked_until=until)
        )
        return int(lockout.total_seconds())
    return 0


async def clear(session: AsyncSession, identifier: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.identifier == identifier))
