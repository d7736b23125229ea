"""Alembic environment: async engine from DATABASE_URL (or the URL handed over by code), all domain models."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from toit_emploi_api.core.settings import Settings, to_async_url
from toit_emploi_api.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or Settings().database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set")
    return to_async_url(str(url))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


# Several containers may start at once: one migrates, the others wait on this session-level advisory lock,
# held on a separate connection so it does not interfere with the migrations' own transactions.
MIGRATION_LOCK = 0x7465_0000


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as lock_connection:
        await lock_connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        await lock_connection.commit()
        try:
            async with engine.connect() as connection:
                await connection.run_sync(_run)
        finally:
            await lock_connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            await lock_connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
