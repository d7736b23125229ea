"""The daily retention run inside the service: a coroutine loop (`retention_loop`) that `main`'s lifespan starts
when `TOIT_EMPLOI_RETENTION_SCHEDULER` is on, and that a `toit-emploi worker` process may run instead
(`run_once`). Safe with several workers and machines: each run takes the PostgreSQL advisory lock (see
`privacy.retention`), so at most one anonymises at a time and the others skip; what is left is taken the next day."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from toit_emploi_api.core.clock import PROGRAMME_TZ, now
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.privacy import retention
from toit_emploi_api.privacy.schemas import RetentionRunOut

log = logging.getLogger("toit_emploi_api.privacy")


def seconds_until_next_run(moment: datetime, hour: int) -> float:
    """Seconds from `moment` to the next `hour`:00 in Paris (tomorrow's when that hour has passed today)."""
    local = moment.astimezone(PROGRAMME_TZ)
    target = datetime.combine(local.date(), time(hour), tzinfo=PROGRAMME_TZ)
    if target <= local:
        target = datetime.combine(local.date() + timedelta(days=1), time(hour), tzinfo=PROGRAMME_TZ)
    return max(1.0, (target - local).total_seconds())


async def run_once(maker: async_sessionmaker[AsyncSession], settings: Settings) -> RetentionRunOut | None:
    """One retention run as the system; an error is logged (no personal data in it) and the loop goes on."""
    try:
        return await retention.run(maker, settings)
    except Exception:
        log.exception("retention run failed")
        return None


async def retention_loop(maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Run now, then every day at `retention_run_hour` (Paris), until cancelled."""
    while True:
        await run_once(maker, settings)
        await asyncio.sleep(seconds_until_next_run(now(), settings.retention_run_hour))
