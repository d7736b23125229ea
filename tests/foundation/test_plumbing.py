"""Plumbing users rely on without seeing it: all-or-nothing requests, schema conventions, JSON logs."""

from __future__ import annotations

import io
import json
import logging
from contextvars import Token
from typing import cast

import pytest
from fastapi import Depends
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor
from toit_emploi_api.accounts.models import Organisation
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import ProblemError
from toit_emploi_api.core.logging import configure_logging
from toit_emploi_api.core.problems import CONFLICT
from toit_emploi_api.core.request_context import set_request_id
from toit_emploi_api.core.routes import public_route
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app
from toit_emploi_api.vocab.roles import OrganisationKind

# A personal value built at run time, so that it appears in no source line a traceback might quote.
SECRET_NAME = "".join(["Secret ", "Person ", "Name "])

# Tables whose key is not a surrogate UUID `id`, on purpose.
# The reports' summary tables are keyed by the household (and pass number) they summarise; their aggregated counts
# by their grain (a unique constraint over nullable columns, with a bigint row number as primary key): derived rows,
# never addressed by the API.
NATURAL_KEY_TABLES = {
    "alembic_version",
    "login_throttle",
    "rome_codes",
    "communes",
    "commune_distances",
    "idempotency_keys",
    "report_households",
    "report_stage_passes",
    "report_household_counts",
    "report_day_counts",
}


async def test_a_failing_request_writes_nothing(settings: Settings, db: AsyncSession) -> None:
    app = create_app(settings)

    @app.post("/half-done", dependencies=[Depends(public_route)])
    async def half_done(session: SessionDep) -> None:
        session.add(Organisation(name="Written then refused", kind=OrganisationKind.FUNDER, active=True))
        await session.flush()  # the row exists inside the transaction...
        raise ProblemError(CONFLICT, "refused after the write")  # ...and must not survive

    @app.post("/done", dependencies=[Depends(public_route)], status_code=201)
    async def done(session: SessionDep) -> None:
        session.add(Organisation(name="Written and kept", kind=OrganisationKind.FUNDER, active=True))

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.post("/half-done")).status_code == 409
        assert (await c.post("/done")).status_code == 201
    names = (await db.execute(text("SELECT name FROM organisations"))).scalars().all()
    assert names == ["Written and kept"]


async def test_schema_uses_uuid_keys_and_timezone_aware_timestamps(db: AsyncSession) -> None:
    columns = (
        await db.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        )
    ).all()
    naive = [f"{t}.{c}" for t, c, d in columns if d == "timestamp without time zone"]
    assert naive == []
    tables = {t for t, _, _ in columns} - NATURAL_KEY_TABLES
    id_types = {t: d for t, c, d in columns if c == "id"}
    assert {t: id_types.get(t) for t in tables if id_types.get(t) != "uuid"} == {}


async def test_constraints_follow_the_naming_convention(db: AsyncSession) -> None:
    rows = (
        await db.execute(
            text(
                "SELECT conname, contype FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = 'public'"
            )
        )
    ).all()
    prefixes = {"p": "pk_", "f": "fk_", "u": "uq_", "c": "ck_", "x": "ex_"}
    wrong = [name for name, kind in rows if kind in prefixes and not name.startswith(prefixes[kind])]
    assert [w for w in wrong if w != "alembic_version_pkc"] == []


def test_production_logs_are_json_lines_with_the_request_id(settings: Settings) -> None:
    configure_logging(settings.model_copy(update={"log_json": True, "log_level": "INFO"}))
    stream = io.StringIO()
    logger = logging.getLogger("toit_emploi_api")
    handler = logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    token = set_request_id("req-json-1")
    try:
        logging.getLogger("toit_emploi_api.access").info("GET /healthz 200", extra={"status": 200})
    finally:
        from toit_emploi_api.core.request_context import _request_id

        _request_id.reset(cast("Token[str]", token))
        configure_logging(settings)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["message"] == "GET /healthz 200"
    assert line["request_id"] == "req-json-1"
    assert line["level"] == "INFO"
    assert line["status"] == 200


async def test_database_value_errors_are_422_and_never_log_parameters(
    settings: Settings, db: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    """A value PostgreSQL refuses (here: too long for its column) that slipped past validation is a 422, and
    nothing logged quotes the value."""
    app = create_app(settings)

    @app.post("/too-long", dependencies=[Depends(public_route)])
    async def too_long(session: SessionDep) -> None:
        await session.execute(
            text("INSERT INTO organisations (id, name, kind, version) VALUES (gen_random_uuid(), :n, 'funder', 1)"),
            {"n": SECRET_NAME * 30},
        )

    @app.post("/broken-sql", dependencies=[Depends(public_route)])
    async def broken_sql(session: SessionDep) -> None:
        await session.execute(text("SELECT * FROM no_such_table WHERE name = :n"), {"n": SECRET_NAME})

    logger = logging.getLogger("toit_emploi_api")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="toit_emploi_api"):
            async with AsyncClient(
                transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
            ) as c:
                r = await c.post("/too-long")
                r500 = await c.post("/broken-sql")
    finally:
        logger.removeHandler(caplog.handler)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r500.status_code == 500
    assert "Secret Person" not in r500.text
    assert "Secret Person" not in caplog.text
    assert any(rec.name == "toit_emploi_api.errors" for rec in caplog.records)


async def test_unparseable_bodies_are_422(client: AsyncClient, admin: Actor) -> None:
    r = await client.post(
        "/api/v1/organisations",
        content=b'{"name": "\xff\xfe", "kind": "funder"}',
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
