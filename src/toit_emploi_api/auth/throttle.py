"""Failed sign-in counters in PostgreSQL, shared by every worker and machine.

Two counters guard each attempt: one per account and client address (locks after `max_failures`), so that someone
guessing from one place is stopped quickly without locking the real user out from elsewhere; and one per account
alone with a higher threshold (4 × `max_failures`), against guessing spread over many addresses. Keys are SHA-256
hashes: the table holds no email address. Unknown accounts are counted like known ones, so the answers never tell
whether an account exists.

Each attempt takes the counters' rows `FOR UPDATE` before the password is checked, so parallel attempts on one
account are counted one after the other and a burst cannot slip past the limit.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts.models import LoginThrottle

ACCOUNT_WIDE_FACTOR = 4


@dataclass(frozen=True)
class Keys:
    per_address: str
    per_account: str


def keys_for(identifier: str, client_address: str | None) -> Keys:
    def h(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()

    return Keys(per_address=h(f"{identifier}|{client_address or '-'}"), per_account=h(identifier))


def _table() -> Table:
    table = LoginThrottle.__table__
    assert isinstance(table, Table)
    return table


async def lock_and_check(session: AsyncSession, keys: Keys) -> int:
    """Take both counters' rows for this transaction; return seconds left on a lock (0 when it may try)."""
    table = _table()
    for key in (keys.per_account, keys.per_address):  # always the same order: no deadlock between attempts
        await session.execute(insert(table).values(identifier=key, failures=0).on_conflict_do_nothing())
    rows = (
        await session.execute(
            select(LoginThrottle.locked_until)
            .where(LoginThrottle.identifier.in_([keys.per_account, keys.per_address]))
            .order_by(LoginThrottle.identifier)
            .with_for_update()
        )
    ).scalars()
    now = datetime.now(UTC)
    waits = [int((until - now).total_seconds()) + 1 for until in rows if until is not None and until > now]
    return max(waits, default=0)


async def record_failure(session: AsyncSession, keys: Keys, *, max_failures: int, lockout: timedelta) -> int:
    """Count one failure on both counters; lock those that reach their threshold. Returns lock seconds."""
    table = _table()
    now = datetime.now(UTC)
    wait = 0
    for key, threshold in ((keys.per_account, max_failures * ACCOUNT_WIDE_FACTOR), (keys.per_address, max_failures)):
        failures = (
            await session.execute(
                update(table)
                .where(table.c.identifier == key)
                .values(failures=table.c.failures + 1, last_failure_at=now)
                .returning(table.c.failures)
            )
        ).scalar_one()
        if failures >= threshold:
            await session.execute(
                update(table).where(table.c.identifier == key).values(failures=0, locked_until=now + lockout)
            )
            wait = int(lockout.total_seconds())
    if random.random() < 0.05:  # noqa: S311 - housekeeping, not security
        await purge_stale(session, lockout)
    return wait


async def clear(session: AsyncSession, keys: Keys) -> None:
    """A successful sign-in clears its address counter; the account-wide counter is kept unless it is locked."""
    await session.execute(delete(LoginThrottle).where(LoginThrottle.identifier == keys.per_address))


async def purge_stale(session: AsyncSession, lockout: timedelta) -> None:
    """Forget counters with no lock and no failure for a day (unknown accounts must not grow the table forever)."""
    await session.execute(
        text(
            "DELETE FROM login_throttle WHERE (locked_until IS NULL OR locked_until < now()) "
            "AND (last_failure_at IS NULL OR last_failure_at < now() - make_interval(secs => :keep))"
        ),
        {"keep": max(86400.0, lockout.total_seconds())},
    )
