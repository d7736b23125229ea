"""The raw-asyncpg baseline of `bench/api.py`: the same work as the app's two household reads, with nothing else.

Starlette, one asyncpg pool, python-jose through the app's own `decode_access_token` (same checks), and the SAME
statements as the app (`households.reads`: caller, household(s) with members as JSON, total, audit row), one
statement per request (its own transaction, as in the app); the JSON answered is PostgreSQL's, wrapped like the
app's page. No FastAPI, no SQLAlchemy, no pydantic, no middleware.

    DATABASE_URL=postgresql://… BENCH_JWT_SECRET=… uvicorn --factory bench.baseline:create_app
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from toit_emploi_api.auth.tokens import InvalidTokenError, decode_access_token
from toit_emploi_api.core.resources import CursorPageParams, encode_cursor
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.households import reads
from toit_emploi_api.households.schemas import HouseholdFilters, HouseholdSort
from toit_emploi_api.reference.text import fold
from toit_emploi_api.vocab.roles import Role

ALLOWED = sorted(r.value for r in (Role.ADMIN, Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER))
ALLOWED_SET = frozenset(Role(r) for r in ALLOWED)


def create_app() -> Starlette:
    settings = Settings(environment="test", jwt_secret=os.environ["BENCH_JWT_SECRET"])
    url = str(os.environ["DATABASE_URL"]).replace("postgresql+asyncpg://", "postgresql://")
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(
            url, min_size=10, max_size=10, server_settings={"timezone": "Europe/Paris"}
        )
        yield
        await state["pool"].close()

    def caller(request: Request) -> Any:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            return decode_access_token(settings, token)
        except InvalidTokenError:
            return None

    async def get_household(request: Request) -> Response:
        claims = caller(request)
        if claims is None:
            return Response(status_code=401)
        household_id = uuid.UUID(request.path_params["household_id"])
        sid = claims.session_id
        params = (claims.subject_id, ALLOWED, household_id, claims.subject_kind, "household.read", None, sid)
        async with state["pool"].acquire() as conn:  # one statement: its own transaction, as in the app
            row = await conn.fetchrow(reads.read_sql(claims.subject_kind), *params)
        if row is None or not row[1] or row[0] not in ALLOWED:
            return Response(status_code=401)
        if row[7] is None:
            return Response(status_code=404)
        return Response(row[7], media_type="application/json", headers={"ETag": f'"{row[5]}"'})

    async def list_households(request: Request) -> Response:
        claims = caller(request)
        if claims is None:
            return Response(status_code=401)
        q = request.query_params.get("q")
        tokens = tuple(fold(q).split()) if q else ()
        filters = HouseholdFilters(name_tokens=tokens, name_matches_nothing=q is not None and not tokens)
        page = CursorPageParams(limit=int(request.query_params.get("limit", 50)), offset=0)
        sort = HouseholdSort.CREATED_AT_DESC
        sql, params = reads.list_query(
            claims.subject_kind,
            claims.subject_id,
            ALLOWED_SET,
            filters,
            sort,
            page,
            "household.list",
            None,
            session_id=claims.session_id,
        )
        async with state["pool"].acquire() as conn:
            row = reads.list_row(await conn.fetchrow(sql, *params))
        if row.subject is None:
            return Response(status_code=401)
        cursor = None if row.next_key is None else encode_cursor(sort.value, row.next_key)
        body = (
            f'{{"items":{row.items},"total":{row.total},"limit":{page.limit},"offset":0,'
            f'"next_cursor":{json.dumps(cursor)}}}'
        )
        return Response(body, media_type="application/json")

    return Starlette(
        routes=[
            Route("/api/v1/households/{household_id}", get_household),
            Route("/api/v1/households", list_households),
        ],
        lifespan=lifespan,
    )
