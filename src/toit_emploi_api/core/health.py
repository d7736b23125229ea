"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from toit_emploi_api.core import problems
from toit_emploi_api.core.errors import error_responses, problem_response
from toit_emploi_api.core.routes import public_route

router = APIRouter(tags=["health"], dependencies=[Depends(public_route)])


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str
    migration: str


@router.get("/healthz", operation_id="health_live", summary="The process is alive", response_model=HealthOut)
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    operation_id="health_ready",
    summary="The database is reachable and migrated to head",
    response_model=ReadyOut,
    responses=error_responses(503),
)
async def readyz(request: Request) -> JSONResponse:
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
