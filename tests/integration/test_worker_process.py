"""`toit-emploi worker` as a real process, killed (SIGKILL) while it posts a message, then started again: nothing is
lost, and only the message in flight reaches the receiver twice, with the same `webhook-id` (at least once, as the
Standard Webhooks specification allows: receivers deduplicate on `webhook-id`)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import Actor, Factory
from tests.integration.conftest import Caller, Receiver, eventually, subscribe
from toit_emploi_api.vocab.roles import Role

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def start_worker(database_url: str, tmp_path: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "DATABASE_URL": database_url,
        "TOIT_EMPLOI_ENVIRONMENT": "test",
        "TOIT_EMPLOI_LOG_LEVEL": "WARNING",
        "TOIT_EMPLOI_WEBHOOK_TIMEOUT_SECONDS": "30",
        "TOIT_EMPLOI_WEBHOOK_POLL_SECONDS": "0.1",
        "TOIT_EMPLOI_WEBHOOK_CONCURRENCY": "2",
    }

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "toit_emploi_api.cli", "worker"], env=env, stdout=log, stderr=log, cwd=ROOT
        )
        processes.append(process)
        return process

    def logs() -> str:
        return " | ".join(p.read_text() for p in sorted(tmp_path.glob("worker-*.log")))

    start.logs = logs  # type: ignore[attr-defined]
    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


async def test_kill_the_worker_mid_delivery_and_start_it_again(
    client: AsyncClient, admin: Actor, actors: Factory, receiver: Receiver, start_worker: Any
) -> None:
    receiver.script = ["hang"]
    partner = await actors.user(Role.PARTNER_WORKER)
    sub = await subscribe(
        client, Caller("admin", admin.headers), str(partner.organisation_id), receiver.url, ["household.created"]
    )
    for _ in range(6):
        r = await client.post("/api/v1/households", json={"housing_situation": "shelter"}, headers=partner.headers)
        assert r.status_code == 201

    first = start_worker()
    await eventually(receiver.arrived.is_set, within=60, what="the first post")
    in_flight = receiver.requests[0].webhook_id
    await eventually(lambda: len(receiver.delivered()) == 5, within=30, what="the other lane's deliveries")
    # ... and recorded (a message received but not yet committed when the worker dies is sent again too).
    for _ in range(300):
        r = await client.get(f"/api/v1/webhook-subscriptions/{sub['id']}/deliveries", headers=admin.headers)
        if sum(d["status"] == "delivered" for d in r.json()["items"]) == 5:
            break
        await asyncio.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    receiver.release.set()  # the hung request now answers a dead worker

    r = await client.get(f"/api/v1/webhook-subscriptions/{sub['id']}/deliveries", headers=admin.headers)
    by_id = {d["id"]: d for d in r.json()["items"]}
    assert by_id[in_flight]["status"] == "pending"  # rolled back with the dead worker's transaction
    assert by_id[in_flight]["attempts_count"] == 0

    second = start_worker()
    try:
        await eventually(lambda: len(receiver.delivered()) >= 6, within=60, what="the message in flight")
    except AssertionError:
        r = await client.get(f"/api/v1/webhook-subscriptions/{sub['id']}/deliveries", headers=admin.headers)
        raise AssertionError(f"{second.poll()=} {start_worker.logs()} {r.json()}") from None
    second.send_signal(signal.SIGTERM)  # a graceful stop
    assert second.wait(15) == 0

    counts = Counter(r.webhook_id for r in receiver.requests)
    assert set(counts) == set(by_id)  # nothing lost
    assert counts[in_flight] == 2  # the one in flight, received again under the same webhook-id
    assert all(n == 1 for key, n in counts.items() if key != in_flight)  # no other duplicate
    assert len(receiver.verified(sub["secret"])) == 7
    r = await client.get(f"/api/v1/webhook-subscriptions/{sub['id']}/deliveries", headers=admin.headers)
    assert {d["status"] for d in r.json()["items"]} == {"delivered"}


async def test_the_api_process_runs_the_worker_in_its_lifespan(
    client: AsyncClient, admin: Actor, actors: Factory, receiver: Receiver, worker_settings: Any
) -> None:
    from toit_emploi_api.main import create_app

    partner = await actors.user(Role.PARTNER_WORKER)
    await subscribe(
        client, Caller("admin", admin.headers), str(partner.organisation_id), receiver.url, ["household.created"]
    )
    r = await client.post("/api/v1/households", json={"housing_situation": "shelter"}, headers=partner.headers)
    assert r.status_code == 201
    served = create_app(worker_settings.model_copy(update={"worker_in_serve": True}))
    async with served.router.lifespan_context(served):
        await eventually(lambda: len(receiver.delivered()) == 1, what="the delivery by the app's own worker")
    quiet = create_app(worker_settings.model_copy(update={"worker_in_serve": False}))
    async with quiet.router.lifespan_context(quiet):
        r = await client.post("/api/v1/households", json={"housing_situation": "shelter"}, headers=partner.headers)
        await asyncio.sleep(0.4)
    assert len(receiver.requests) == 1
