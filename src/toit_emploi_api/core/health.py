"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from toit_emploi_api.core import problems
from toit_emploi_api.core.errors import problem_response, problem_responses
from toit_emploi_api.core.request_rules import lenient_query
from toit_emploi_api.core.routes import public_route

router = APIRouter(tags=["health"], dependencies=[Depends(public_route)])


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    migration: str


@router.get("/healthz", operation_id="health_live", summary="Liveness", response_model=HealthOut)
@lenient_query
async def healthz() -> HealthOut:
    """The process is alive: always 200 `{"status": "ok"}`, without touching the database (no token needed).

    Use it as the container's liveness probe; use `/readyz` to decide whether to send traffic."""
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    operation_id="health_ready",
    summary="Readiness",
    response_model=ReadyOut,
    responses=problem_responses(problems.NOT_READY),
)
@lenient_query
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers and its migrations are at this release's head (200 with the revision).

    503 `not-ready` when the database is unreachable or not migrated (run `toit-emploi migrate`). No token needed."""
    expected: str = request.app.state.migration_head
    try:
        async with request.app.state.engine.connect() as conn:
            current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    except Exception:
        return problem_response(problems.NOT_READY, "The database is not reachable.", instance="/readyz")
    if current != expected:
        return problem_response(
            problems.NOT_READY,
            f"Database migrations are not at head (found {current}, expected {expected}).",
            instance="/readyz",
        )
    return JSONResponse(ReadyOut(status="ready", migration=expected).model_dump())
