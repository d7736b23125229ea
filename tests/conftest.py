"""Test fixtures: one real PostgreSQL per test session (embedded unless TEST_DATABASE_URL is set),
migrated with `alembic upgrade head`, and the real app behind httpx's ASGITransport."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from toit_emploi_api.accounts.roles import ROLE_ORGANISATION_KIND, OrganisationKind, Role
from toit_emploi_api.auth.passwords import SecretHasher
from toit_emploi_api.auth.tokens import issue_access_token
from toit_emploi_api.core import embedded, migrations
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app

ROOT = Path(__file__).resolve().parents[1]
TEST_PASSWORD = "correct horse battery staple"
# Tables filled by migrations (reference data): never truncated between tests.
PRESERVED_TABLES = {"alembic_version", "rome_codes"}


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
def app(settings: Settings):  # type: ignore[no-untyped-def]
    return create_app(settings)


@pytest.fixture(scope="session")
def sessionmaker(app) -> async_sessionmaker[AsyncSession]:  # type: ignore[no-untyped-def]
    return app.state.sessionmaker  # type: ignore[no-any-return]


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
async def client(app, clean_db: None) -> AsyncIterator[AsyncClient]:  # type: ignore[no-untyped-def]
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def db(sessionmaker: async_sessionmaker[AsyncSession], clean_db: None) -> AsyncIterator[AsyncSession]:
    """A separate session for arranging and inspecting data directly (commit what you arrange)."""
    async with sessionmaker() as session:
        yield session


@dataclass(frozen=True)
class Actor:
    id: uuid.UUID
    role: Role
    organisation_id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Actors:
    """Creates organisations and users straight in the database, and signs tokens for them."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._maker = maker
        self._settings = settings
        self._orgs: dict[OrganisationKind, uuid.UUID] = {}
        self._password_hash = SecretHasher.from_settings(settings).hash(TEST_PASSWORD)

    async def organisation(self, kind: OrganisationKind, name: str | None = None) -> uuid.UUID:
        org_id = uuid.uuid4()
        async with self._maker() as session:
            await session.execute(
                text("INSERT INTO organisations (id, name, kind, active, version) VALUES (:i, :n, :k, true, 1)"),
                {"i": org_id, "n": name or f"{kind.value} {org_id.hex[:8]}", "k": kind.value},
            )
            await session.commit()
        return org_id

    async def default_organisation(self, kind: OrganisationKind) -> uuid.UUID:
        if kind not in self._orgs:
            self._orgs[kind] = await self.organisation(kind)
        return self._orgs[kind]

    async def user(self, role: Role, organisation_id: uuid.UUID | None = None, *, active: bool = True) -> Actor:
        org_id = organisation_id or await self.default_organisation(ROLE_ORGANISATION_KIND[role])
        user_id = uuid.uuid4()
        email = f"{role.value}.{user_id.hex[:8]}@example.org"
        async with self._maker() as session:
            await session.execute(
                text(
                    "INSERT INTO users (id, email, full_name, role, organisation_id, password_hash, active, version)"
                    " VALUES (:i, :e, :f, :r, :o, :h, :a, 1)"
                ),
                {
                    "i": user_id,
                    "e": email,
                    "f": f"Test {role.value}",
                    "r": role.value,
                    "o": org_id,
                    "h": self._password_hash,
                    "a": active,
                },
            )
            await session.commit()
        token, _ = issue_access_token(
            self._settings, subject_kind="user", subject_id=user_id, role=role.value, organisation_id=org_id
        )
        return Actor(user_id, role, org_id, email, token)


@pytest.fixture
async def actors(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, clean_db: None) -> Actors:
    return Actors(sessionmaker, settings)


@pytest.fixture
async def admin(actors: Actors) -> Actor:
    return await actors.user(Role.ADMIN)


@pytest.fixture
async def service_manager(actors: Actors) -> Actor:
    return await actors.user(Role.SERVICE_MANAGER)
