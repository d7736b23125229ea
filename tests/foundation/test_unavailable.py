"""Which errors mean "the database is unavailable" (503), and a pool with no free connection is a 503 too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.factories import Actor
from toit_emploi_api.core.errors import is_database_unavailable, is_transient_conflict
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app


def _wrapped(driver_error: Exception, *, invalidated: bool = False) -> DBAPIError:
    error = OperationalError("SELECT 1", {}, driver_error, connection_invalidated=invalidated)
    error.__cause__ = driver_error
    return error


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        PoolTimeoutError("QueuePool limit of size 10 overflow 20 reached"),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        _wrapped(RuntimeError("whatever"), invalidated=True),
        InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        # The driver's own words, as seen in CI while the server restarted (the state numbers vary).
        asyncpg.exceptions._base.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
        asyncpg.exceptions._base.InternalClientError("cannot perform operation: another operation is in progress"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_connection_errors_are_unavailable(error: Exception) -> None:
    assert is_database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        DataError("SELECT 1", {}, Exception("value too long")),
        IntegrityError("INSERT", {}, asyncpg.exceptions.UniqueViolationError("duplicate key")),
        _wrapped(asyncpg.exceptions.UndefinedTableError("relation does not exist")),
        RuntimeError("a bug"),
        ValueError("a bug"),
        FileNotFoundError(2, "No such file"),  # not raised by the database driver: a real 500
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.exceptions._base.InternalClientError("unexpected exchange format"),  # a driver bug stays a 500
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not(error: Exception) -> None:
    assert not is_database_unavailable(error)


async def test_a_refused_connection_is_unavailable(tmp_path: Path) -> None:
    # A real connection attempt to a server that is not there: the socket error comes from the driver.
    engine = create_async_engine(f"postgresql+asyncpg://nobody@/nothing?host={tmp_path}")
    try:
        with pytest.raises(Exception) as raised:
            async with engine.connect():
                pass
        assert isinstance(raised.value, OSError) or isinstance(raised.value.__cause__, OSError), raised.value
        assert is_database_unavailable(raised.value)
    finally:
        await engine.dispose()


async def test_an_os_error_of_the_application_stays_a_500(settings: Settings) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/read-a-file")
    async def read_a_file() -> None:
        raise FileNotFoundError(2, "No such file", "/nonexistent/file")

    try:
        async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t") as c:
            r = await c.get("/read-a-file")
        assert r.status_code == 500
        assert r.json()["type"] == "urn:toit-emploi:problem:internal-error"
    finally:
        await app.state.engine.dispose()


async def test_no_free_connection_in_the_pool_is_503(settings: Settings, admin: Actor) -> None:
    app: FastAPI = create_app(settings)
    pool = app.state.engine.sync_engine.pool
    pool._timeout = 0.2  # the production wait is 10 s
    held = []
    try:
        for _ in range(pool.size() + pool._max_overflow):  # every connection the pool may open, busy
            conn = await app.state.engine.connect()
            await conn.execute(text("SELECT 1"))
            held.append(conn)
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/api/v1/organisations", headers=admin.headers)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        assert r.json()["type"] == "urn:toit-emploi:problem:database-unavailable"
    finally:
        for conn in held:
            await conn.close()
        await app.state.engine.dispose()


async def _deadlock(engine: AsyncEngine) -> None:
    """Two transactions taking two advisory locks in opposite orders: PostgreSQL cancels one (SQLSTATE 40P01)."""
    async with engine.connect() as first, engine.connect() as second:
        await first.execute(text("SELECT pg_advisory_xact_lock(880001)"))
        await second.execute(text("SELECT pg_advisory_xact_lock(880002)"))
        await first.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
        await second.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
        await asyncio.gather(
            first.execute(text("SELECT pg_advisory_xact_lock(880002)")),
            second.execute(text("SELECT pg_advisory_xact_lock(880001)")),
        )


async def test_a_real_deadlock_is_a_transient_conflict(settings: Settings) -> None:
    engine = create_async_engine(settings.async_database_url)
    try:
        with pytest.raises(DBAPIError) as raised:
            await _deadlock(engine)
        assert is_transient_conflict(raised.value)
        assert not is_database_unavailable(raised.value)
    finally:
        await engine.dispose()


async def test_a_deadlock_is_503_transaction_conflict_with_retry_after(settings: Settings) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/deadlock")
    async def deadlock() -> None:
        await _deadlock(app.state.engine)

    try:
        async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t") as c:
            r = await c.get("/deadlock")
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"] == "1"
        assert r.json()["type"] == "urn:toit-emploi:problem:transaction-conflict"
    finally:
        await app.state.engine.dispose()


def test_other_database_refusals_are_not_transient_conflicts() -> None:
    assert not is_transient_conflict(_wrapped(asyncpg.exceptions.UndefinedTableError("relation does not exist")))
    assert not is_transient_conflict(IntegrityError("INSERT", {}, asyncpg.exceptions.UniqueViolationError("dup")))


async def test_a_value_the_driver_refuses_on_a_session_less_read_is_422(settings: Settings) -> None:
    # `core.database.Database` sends its statement straight through asyncpg: the driver's own PostgresError must be
    # answered like SQLAlchemy's wrapped one (class 22 is the client's value), not a 500.
    app: FastAPI = create_app(settings)

    @app.get("/bad-value")
    async def bad_value() -> None:
        await app.state.database.fetchrow("SELECT $1::text::int", ["12x"])

    try:
        async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t") as c:
            r = await c.get("/bad-value")
            assert r.status_code == 422, r.text
            assert r.json()["type"] == "urn:toit-emploi:problem:validation-error"
            again = await c.get("/bad-value")  # the connection went back to the pool sound
            assert again.status_code == 422
    finally:
        await app.state.engine.dispose()
