"""The application factory: ``uvicorn --factory toit_emploi_api.main:create_app``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline

from toit_emploi_api import __version__
from toit_emploi_api.accounts import passwords
from toit_emploi_api.administration.router import router as accounts_router
from toit_emploi_api.auth.router import metrics_router
from toit_emploi_api.auth.router import router as auth_router
from toit_emploi_api.auth.tokens import VerifiedTokens
from toit_emploi_api.catalogue.router import router as reference_router
from toit_emploi_api.core import openapi as openapi_hooks
from toit_emploi_api.core.database import Database, make_engine, make_sessionmaker
from toit_emploi_api.core.errors import install_error_handlers
from toit_emploi_api.core.health import router as health_router
from toit_emploi_api.core.logging import configure_logging
from toit_emploi_api.core.metrics import Metrics
from toit_emploi_api.core.middleware import HttpMiddleware
from toit_emploi_api.core.migrations import head_revision
from toit_emploi_api.core.request_rules import RequestRules
from toit_emploi_api.core.settings import DEFAULT_SECRET, Settings, get_settings
from toit_emploi_api.desk.router import router as desk_router
from toit_emploi_api.employers.router import router as employers_router
from toit_emploi_api.households import ports as households_ports
from toit_emploi_api.households.router import router as households_router
from toit_emploi_api.housing.router import router as housing_router
from toit_emploi_api.integration.history_router import router as history_router
from toit_emploi_api.integration.imports_router import router as imports_router
from toit_emploi_api.integration.webhooks.router import router as webhooks_router
from toit_emploi_api.matching.router import router as matching_router
from toit_emploi_api.pipeline.placements import placement_ids_of_member
from toit_emploi_api.pipeline.router import router as pipeline_router
from toit_emploi_api.privacy.router import router as privacy_router
from toit_emploi_api.privacy.scheduler import retention_loop
from toit_emploi_api.reports.router import router as reports_router
from toit_emploi_api.vocab import labels
from toit_emploi_api.worker import running_in_background

DESCRIPTION = """
The JSON API behind **Un toit, un emploi** (Aurore and Polygone): it follows precarious families from the Paris
region to the Cantal, through diagnostic, matching, relay stay, lease and follow-up, until they join the mainstream
services (*droit commun*).

Authenticate with `POST /api/v1/auth/token` (OAuth2 password grant for people, client_credentials for partner
systems) and send `Authorization: Bearer <token>`. Every error is RFC 9457 `application/problem+json`.
"""

SYNC_PATH = "/api/v1/housing-units/sync"  # routes allowed a larger body: Polygone's snapshots, the imports
LARGE_BODY_PATHS = frozenset({SYNC_PATH, "/api/v1/households/import", "/api/v1/history/import"})

TAGS = [
    {"name": "auth", "description": "Tokens and the current caller."},
    {"name": "administration", "description": "Organisations, users and API clients (admin only)."},
    {"name": "households", "description": "The diagnostic file: households and their members."},
    {"name": "employers", "description": "Employers in the Cantal and their job openings."},
    {"name": "reference", "description": "Reference data (ROME codes, communes)."},
    {"name": "housing", "description": "Housing units and Polygone's vacancy sync."},
    {
        "name": "pipeline",
        "description": "Stage transitions, placements, relay stays, allocations, follow-up.",
    },
    {"name": "imports", "description": "Bulk CSV import of households; the programme's history since 2014."},
    {"name": "webhooks", "description": "Signed webhooks: subscriptions and their deliveries (admin only)."},
    {"name": "privacy", "description": "Audit trail, retention and anonymisation, access export and erasure."},
    {
        "name": "matching",
        "description": "Suggestions and candidates: a job and a home for a family, ranked and explained.",
    },
    {"name": "desk", "description": "The manager's desk: relay stays and placements across households, the agenda."},
    {"name": "health", "description": "Liveness and readiness probes."},
]


def freeze_startup_objects() -> None:
    """Move every object alive once the app has started (modules, routes, models, SQLAlchemy's mappers and compiled
    caches: about 190,000 objects) out of the garbage collector's reach (`gc.freeze`): they live as long as the
    process. A full collection walked all of them, 190-250 ms of CPU under load each time, stalling every request in
    flight: the tail of the read by id's p99 (docs/performance.md). Collections now walk what requests created.
    Reference counting still frees those objects; only cycles among them would be kept, and they live until exit."""
    gc.collect()
    gc.freeze()


def _operation_id(route: APIRoute) -> str:
    """A route's OpenAPI `operationId` is its function's name (`households_get`): routes do not restate it."""
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    passwords.configure(settings)
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The background worker (webhook deliveries, …) runs in the API process unless told otherwise; the daily
        # retention run (privacy.scheduler) when this process is the one meant to run it.
        task = (
            asyncio.create_task(retention_loop(app.state.sessionmaker, settings)) if settings.runs_retention else None
        )
        async with AsyncExitStack() as stack:
            if settings.worker_in_serve:
                await stack.enter_async_context(running_in_background(settings, app.state.sessionmaker))
            freeze_startup_objects()
            yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await engine.dispose()

    app = FastAPIOffline(
        title="toit_emploi_api",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        swagger_ui_parameters={"persistAuthorization": True},
        # Unknown query parameters are 422, a JSON body in another media type 415: for every route.
        dependencies=[RequestRules],
    )
    app.state.settings = settings
    app.state.verified_tokens = VerifiedTokens(settings, settings.verified_tokens_kept)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.database = Database(engine)  # the hot reads' one statement, without an ORM session
    app.state.migration_head = head_revision()
    app.state.metrics = Metrics(engine)

    # Households ask the pipeline whether a member has placements through a port (households is the lower layer).
    households_ports.connect(member_placements=placement_ids_of_member)
    install_error_handlers(app)
    # Every router; the hot reads' first: a request is matched against each router's routes in turn, and the ~40
    # route tests before the households' cost a tenth of a read by id's CPU (measured, docs/performance.md). The
    # OpenAPI document groups operations by tag in TAGS' order, whatever this order.
    for router in (
        imports_router,  # before households: /households/import is not a household id
        households_router,
        health_router,
        auth_router,
        accounts_router,
        employers_router,
        reference_router,
        housing_router,
        pipeline_router,
        metrics_router,
        reports_router,
        history_router,
        webhooks_router,
        privacy_router,
        matching_router,
        desk_router,
    ):
        app.include_router(router)

    def limit_for(path: str) -> int:
        return settings.max_sync_body_bytes if path in LARGE_BODY_PATHS else settings.max_body_bytes

    # One layer for every HTTP rule (core.middleware): metrics outermost (every answer with its final status, 503s
    # and last-resort 500s included), then the request id and access line, HTTP conformance (Allow on 405, 304 on
    # If-None-Match, HEAD, Cache-Control: no-store), NUL bytes in the URL and the body cap.
    app.add_middleware(HttpMiddleware, limit_for=limit_for, metrics=app.state.metrics)
    # CORS outermost, so that even the last-resort 500 reaches a browser frontend with its headers.
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                "Idempotency-Key",
                "X-Request-ID",
            ],
            expose_headers=["ETag", "Location", "X-Request-ID", "Retry-After", "Idempotent-Replayed"],
        )
    openapi_hooks.install(app, labels)
    if settings.jwt_secret == DEFAULT_SECRET and settings.environment != "test":
        # Only `local` can get here (production refuses the default): a notice, not a warning on every local start.
        logging.getLogger("toit_emploi_api").info(
            "Local mode: the development JWT secret is in use, fine on your machine only (TOIT_EMPLOI_JWT_SECRET)."
        )
    return app
