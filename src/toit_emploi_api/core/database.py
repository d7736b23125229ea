"""Engine, sessions, and the one place that commits: the request's session dependency.

Dead connections heal by themselves without a round trip per request (no `pool_pre_ping`):

- at checkout, a pooled connection whose socket the server has closed (a restart, an admin shutdown) is detected
  from the driver's own state (`is_closed()`, no query) and replaced by a fresh one: the pool retries transparently;
- an error that shows the connection is gone (a disconnect, SQLSTATE class 08, 57P01-57P03) is flagged as a
  disconnect, so SQLAlchemy invalidates that connection and every pooled connection older than it: the next request
  connects again;
- while the database cannot be reached at all, requests answer 503 `database-unavailable` with `Retry-After`
  (`core.errors`), and the request's transaction is rolled back: an interrupted write is all or nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from asyncpg import PostgresError  # type: ignore[import-untyped]
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import greenlet_spawn

from toit_emploi_api.core.errors import AnswerNow, is_database_unavailable
from toit_emploi_api.core.settings import Settings

logger = logging.getLogger("toit_emploi_api.database")


def make_engine(settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        settings.async_database_url,
        hide_parameters=True,  # SQL parameters are personal data: never in exception messages or logs
        # Sized from the settings to the worker's concurrency: connections beyond `pool_size` ("overflow") are closed
        # when returned, so a pool smaller than the usual concurrency opens a PostgreSQL connection per request
        # (measured: 72 opened in 4 s at 16 concurrent requests with 10 + 20). Past size + overflow, a request waits
        # for a free connection up to `db_pool_timeout_seconds`, then answers 503 (core.errors).
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        # Dates the database derives (now()::date, current_date) are Paris dates, as everywhere in the programme.
        connect_args={
            "server_settings": {"application_name": "toit-emploi-api", "timezone": "Europe/Paris"},
            "timeout": 5,  # seconds to open a connection, so that an unreachable server is a prompt 503
        },
    )
    install_recovery(engine)
    return engine


def _driver_connection_closed(dbapi_connection: Any) -> bool:
    """Whether the driver already knows its socket is closed (asyncpg's `is_closed()`: local state, no query)."""
    raw = getattr(dbapi_connection, "_connection", None)
    is_closed = getattr(raw, "is_closed", None)
    return bool(is_closed()) if callable(is_closed) else False


def install_recovery(engine: AsyncEngine) -> None:
    """Checkout check and disconnect detection (see the module's docstring)."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _replace_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if _driver_connection_closed(dbapi_connection):
            # The pool discards this connection and checks out (or opens) another, up to three times.
            raise DisconnectionError("pooled connection was closed by the server")

    @event.listens_for(engine.sync_engine, "handle_error")
    def _flag_disconnects(context: ExceptionContext) -> None:
        if not context.is_disconnect and is_database_unavailable(context.original_exception):
            context.is_disconnect = True  # invalidate the pool's connections older than this one


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def request_session(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A request's session: commits when the block ends, rolls back on any error (what `SessionDep` gives)."""
    async with maker() as session:
        try:
            yield session
        except AnswerNow:  # an answer given by a dependency (an idempotent replay): keep what it recorded
            await session.commit()
            raise
        except BaseException as exc:
            try:
                await session.rollback()
            except Exception as rollback_error:
                # The connection is gone: the server has rolled the transaction back itself. Keep the first error.
                if not is_database_unavailable(rollback_error) and not is_database_unavailable(exc):
                    raise
                logger.warning("rollback on a lost connection", extra={"error_class": type(rollback_error).__name__})
            raise
        else:
            await session.commit()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: commits when the endpoint returns, rolls back on any error.

    Services and repositories only ``flush``; nothing else commits.
    """
    async with request_session(request.app.state.sessionmaker) as session:
        yield session


# scope="function": the commit happens before the response is sent, so a failed commit is an error response.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class Database:
    """The database without an ORM session, for a request whose whole work is ONE statement (the hot reads:
    `households.reads`): the statement goes straight through the driver (asyncpg, its prepared-statement cache) on a
    connection of the engine's pool (the same pool, sizes, checkout check and 503s as the sessions').

    Nothing else is sent on that connection, so the statement is its own transaction: no BEGIN, no COMMIT, one round
    trip. No `AsyncSession`, no dependency generator: measured, that was a third of the read by id's CPU beyond the
    statement itself (docs/performance.md)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def fetchrow(self, sql: str, params: Sequence[Any]) -> Sequence[Any] | None:
        """The statement's one row (or None)."""
        fairy = await self.engine.raw_connection()  # one hop into SQLAlchemy's greenlet: the pool's checkout
        try:
            driver = fairy.driver_connection
            assert driver is not None
            row: Sequence[Any] | None = await driver.fetchrow(sql, *params)
        except PostgresError:
            await greenlet_spawn(fairy.close)  # the server refused the statement: the connection is fine
            raise
        except BaseException:
            # The driver was interrupted (the connection lost, the task cancelled, the protocol left mid-operation):
            # throw the connection away so the pool never hands it out again in that state ("another operation is
            # in progress"); the error itself is answered as usual (a lost connection is a 503).
            await greenlet_spawn(fairy.invalidate)
            await greenlet_spawn(fairy.close)
            raise
        # Back to the pool: a sound connection with no transaction open (the pool's reset sends nothing).
        await greenlet_spawn(fairy.close)
        return row


USES_DATABASE = "__toit_uses_database__"
"""Marks a dependency that hands the route the `Database` (`auth.policy.authorize_token`), for `core.openapi`'s
503 documentation, as `get_session` is."""
