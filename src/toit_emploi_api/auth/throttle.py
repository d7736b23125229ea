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

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth import repository

ACCOUNT_WIDE_FACTOR = 4


@dataclass(frozen=True)
class Keys:
    per_address: str
    per_account: str


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def keys_for(identifier: str, client_address: str | None) -> Keys:
    return Keys(per_address=_h(f"{identifier}|{client_address or '-'}"), per_account=_h(identifier))


def user_identifier(email: str) -> str:
    return "user:" + email.strip().lower()


def client_identifier(client_id: str) -> str:
    return "client:" + client_id


async def unlock(session: AsyncSession, identifier: str) -> int:
    """Forget an account's failures and locks, from every address (`toit-emploi unlock-account`)."""
    return await repository.delete_account_counters(session, _h(identifier))


async def lock_and_check(session: AsyncSession, keys: Keys) -> int:
    """Take both counters' rows for this transaction; return seconds left on a lock (0 when it may try)."""
    # Always the same order: no deadlock between attempts.
    rows = await repository.lock_counters(session, [keys.per_account, keys.per_address], keys.per_account)
    now = datetime.now(UTC)
    waits = [int((until - now).total_seconds()) + 1 for until in rows if until is not None and until > now]
    return max(waits, default=0)


async def record_failure(session: AsyncSession, keys: Keys, *, max_failures: int, lockout: timedelta) -> int:
    """Count one failure on both counters; lock those that reach their threshold. Returns lock seconds."""
    now = datetime.now(UTC)
    wait = 0
    for key, threshold in ((keys.per_account, max_failures * ACCOUNT_WIDE_FACTOR), (keys.per_address, max_failures)):
        failures = await repository.count_failure(session, key, now)
        if failures >= threshold:
            await repository.lock_counter(session, key, now + lockout)
            wait = int(lockout.total_seconds())
    if random.random() < 0.05:  # noqa: S311 - housekeeping, not security
        await purge_stale(session, lockout)
    return wait


async def clear(session: AsyncSession, keys: Keys) -> None:
    """A successful sign-in clears its address counter; the account-wide counter is kept unless it is locked."""
    await repository.delete_counter(session, keys.per_address)


async def purge_stale(session: AsyncSession, lockout: timedelta) -> None:
    """Forget counters with no lock and no failure for a day (or the lockout, when longer)."""
    await repository.purge_stale_counters(session, max(timedelta(days=1), lockout))
