"""The background worker: loops that run beside the API (inside `toit-emploi serve`, in the app's lifespan,
unless `TOIT_EMPLOI_WORKER_IN_SERVE=false`) or alone (`toit-emploi worker`). Any number of workers may run on any
number of machines: each loop shares its work through PostgreSQL (row locks `FOR UPDATE SKIP LOCKED`, advisory
locks), never through this process.

A loop is a `tick`: one short unit of work in its own transaction, answering True when there may be more to do
right away (it runs again at once) and False when it is idle (it runs again after `interval_seconds`). To add one,
append a `Loop` to `default_loops`:

    Loop("retention", lambda ctx: retention.run_once(ctx.sessionmaker, ctx.settings), interval_seconds=24 * 3600)

A tick that raises is logged and retried after its interval; stopping lets every running tick finish."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from toit_emploi_api.core.database import make_engine, make_sessionmaker
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.integration.webhooks import delivery
from toit_emploi_api.privacy.scheduler import retention_loop

logger = logging.getLogger("toit_emploi_api.worker")


@dataclass(frozen=True)
class WorkerContext:
    """What every tick may use: the settings, a session factory, one shared HTTP client (no redirects)."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient


@dataclass(frozen=True)
class Loop:
    name: str
    tick: Callable[[WorkerContext], Awaitable[bool]]
    interval_seconds: float
    concurrency: int = 1  # lanes running this loop side by side in one process


def default_loops(settings: Settings) -> list[Loop]:
    """Every background loop of the application."""
    poll = settings.webhook_poll_seconds
    return [
        Loop("webhook-dispatch", lambda ctx: delivery.dispatch(ctx.sessionmaker, ctx.settings), poll),
        Loop(
            "webhook-delivery",
            lambda ctx: delivery.deliver_one(ctx.sessionmaker, ctx.settings, ctx.http),
            poll,
            concurrency=settings.webhook_concurrency,
        ),
        Loop("webhook-purge", lambda ctx: delivery.purge(ctx.sessionmaker, ctx.settings), 3600),
    ]


async def _lane(loop: Loop, ctx: WorkerContext, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            busy = await loop.tick(ctx)
        except Exception:  # a tick's failure must not end the loop (the database may be restarting)
            logger.exception("worker loop failed", extra={"loop": loop.name})
            busy = False
        if busy:
            await asyncio.sleep(0)
            continue
        # A little jitter, so that many workers do not poll in step.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=loop.interval_seconds * random.uniform(0.8, 1.2))  # noqa: S311


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(follow_redirects=False, trust_env=False)


async def run(
    settings: Settings,
    stop: asyncio.Event,
    *,
    loops: list[Loop] | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    """Run the loops until `stop` is set, then let the running ticks finish."""
    engine = None
    if sessionmaker is None:
        engine = make_engine(settings)
        sessionmaker = make_sessionmaker(engine)
    try:
        async with http_client() as http:
            ctx = WorkerContext(settings=settings, sessionmaker=sessionmaker, http=http)
            lanes = [
                asyncio.create_task(_lane(loop, ctx, stop), name=f"{loop.name}-{n}")
                for loop in (loops if loops is not None else default_loops(settings))
                for n in range(loop.concurrency)
            ]
            # Standalone (`toit-emploi worker`), the worker also runs the daily retention when the setting asks for it;
            # inside `serve` the app's lifespan starts that loop itself.
            retention = (
                asyncio.create_task(retention_loop(sessionmaker, settings), name="retention")
                if engine is not None and settings.runs_retention
                else None
            )
            logger.info("worker started", extra={"lanes": len(lanes)})
            try:
                await asyncio.gather(*lanes)
            finally:
                if retention is not None:
                    retention.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await retention
    finally:
        if engine is not None:
            await engine.dispose()


@contextlib.asynccontextmanager
async def running_in_background(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    """The worker as a task of the API process (the app's lifespan), stopped with the app."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop, sessionmaker=sessionmaker), name="worker")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=settings.webhook_timeout_seconds + 5)
        except TimeoutError:
            logger.warning("worker did not stop in time; its deliveries in flight will be retried")
