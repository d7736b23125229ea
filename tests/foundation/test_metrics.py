"""GET /metrics: Prometheus counters and latency by route template and status, pool gauges, who may read them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from httpx import ASGITransport, AsyncClient

from tests.factories import Actor, Factory
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app
from toit_emploi_api.vocab.roles import Role

METRICS_TOKEN = "m" * 40
ROOT = Path(__file__).resolve().parents[2]


def _value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_requests_by_route_template_and_status(client: AsyncClient, admin: Actor) -> None:
    unknown = uuid.uuid4()
    for _ in range(3):
        assert (await client.get(f"/api/v1/households/{unknown}", headers=admin.headers)).status_code == 404
    await client.get("/no/such/path")
    r = await client.get("/metrics", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    template = "/api/v1/households/{household_id}"
    assert _value(text, "toit_emploi_http_requests_total", route=template, status="404", method="GET") >= 3
    assert _value(text, "toit_emploi_http_request_duration_seconds_count", route=template, status="404") >= 3
    assert str(unknown) not in text  # never a concrete path
    assert 'route="<unmatched>"' in text
    for gauge in ("size", "checked_out", "idle", "overflow"):
        assert re.search(rf"^toit_emploi_db_pool_{gauge} ", text, re.MULTILINE), gauge
    assert _value(text, "toit_emploi_db_pool_size") == 20  # TOIT_EMPLOI_DB_POOL_SIZE's default


async def test_metrics_need_an_admin_or_the_metrics_token(client: AsyncClient, actors: Factory) -> None:
    assert (await client.get("/metrics")).status_code == 401
    for role in (Role.SERVICE_MANAGER, Role.PARTNER_WORKER, Role.FUNDER):
        actor = await actors.user(role)
        r = await client.get("/metrics", headers=actor.headers)
        assert r.status_code == 403
        assert r.json()["type"] == "urn:toit-emploi:problem:forbidden"
    # Without the setting, no bearer string is the metrics token.
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 401


async def test_the_metrics_token_setting_lets_prometheus_scrape(settings: Settings, clean_db: None) -> None:
    app = create_app(settings.model_copy(update={"metrics_token": METRICS_TOKEN}))
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert r.status_code == 200
            assert "toit_emploi_http_requests_total" in r.text
            wrong = await c.get("/metrics", headers={"Authorization": "Bearer " + "n" * 40})
            assert wrong.status_code == 401
    finally:
        await app.state.engine.dispose()


def test_multiprocess_mode_sums_the_workers(tmp_path: Path) -> None:
    # prometheus-client picks its mode at import: two fresh processes play two workers sharing one directory.
    script = (
        "from sqlalchemy.ext.asyncio import create_async_engine\n"
        "from toit_emploi_api.core.metrics import Metrics\n"
        "m = Metrics(create_async_engine('postgresql+asyncpg://u@/x?host=/nonexistent'))\n"
        "m.observe('GET', '/api/v1/me', 200, 0.01)\n"
        "print(m.render()[0].decode())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "src")}
    outputs = [
        subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    assert _value(outputs[1], "toit_emploi_http_requests_total", route="/api/v1/me", status="200") == 2
    assert _value(outputs[1], "toit_emploi_http_request_duration_seconds_count", route="/api/v1/me") == 2
