"""Test fixtures: one real PostgreSQL per test session (embedded unless TEST_DATABASE_URL is set),
migrated with `alembic upgrade head`, and the real app behind httpx's ASGITransport."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import TEST_PASSWORD, Actor, Factory
from toit_emploi_api.core import embedded, migrations
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app
from toit_emploi_api.vocab.roles import Role

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["TEST_PASSWORD", "Actor", "Factory"]
# Tables filled by migrations (reference data): never truncated between tests.
PRESERVED_TABLES = {"alembic_version", "rome_codes", "communes"}


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        server = embedded.start(ROOT / ".data" / "test-pg")
        url = embedded.ensure_database(server, "toit_emploi_test", recreate=True)
    else:
        # An external server: start from an empty schema.
        import asyncio

        from sqlalchemy.ext.asyncio import create_async_engine

        from toit_emploi_api.core.settings import to_async_url

        async def _reset() -> None:
            engine = create_async_engine(to_async_url(url))
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await engine.dispose()

        asyncio.run(_reset())
    migrations.upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        DATABASE_URL=database_url,
        jwt_secret="test-secret-" + "x" * 40,
        log_level="WARNING",
        # Argon2's minimum cost: hashing is not what these tests are about (tests/unit/test_passwords.py checks
        # that production keeps the strong defaults).
        argon2_time_cost=1,
        argon2_memory_cost=8,
        argon2_parallelism=1,
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="session")
def sessionmaker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return maker


async def truncate_all(maker: async_sessionmaker[AsyncSession]) -> None:
    async with maker() as session:
        names = (await session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars()
        tables = [f'"{n}"' for n in names if n not in PRESERVED_TABLES]
        if tables:
            await session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        await session.commit()


@pytest.fixture
async def clean_db(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await truncate_all(sessionmaker)


@pytest.fixture
async def client(app: FastAPI, clean_db: None) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def db(sessionmaker: async_sessionmaker[AsyncSession], clean_db: None) -> AsyncIterator[AsyncSession]:
    """A separate session for arranging and inspecting data directly (commit what you arrange)."""
    async with sessionmaker() as session:
        yield session


@pytest.fixture
async def factory(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, db: AsyncSession) -> Factory:
    """The test's Factory (tests/factories.py): identities and base records straight in the database."""
    return Factory(sessionmaker, settings, db)


@pytest.fixture
def actors(factory: Factory) -> Factory:
    """Organisations, users and API clients (the same Factory as `arrange`)."""
    return factory


@pytest.fixture
def arrange(factory: Factory) -> Factory:
    """Households, employers, job openings, units, placements, relay stays (the same Factory as `actors`)."""
    return factory


@pytest.fixture
async def admin(actors: Factory) -> Actor:
    return await actors.user(Role.ADMIN)


@pytest.fixture
async def service_manager(actors: Factory) -> Actor:
    return await actors.user(Role.SERVICE_MANAGER)
