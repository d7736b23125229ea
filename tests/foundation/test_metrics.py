"""GET /metrics: Prometheus counters and latency by route template and status, pool gauges, who may read them."""

from __future__ import annotations

import re
import uuid

from httpx import ASGITransport, AsyncClient

from tests.factories import Actor, Factory
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app
from toit_emploi_api.vocab.roles import Role

METRICS_TOKEN = "m" * 40


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
    assert _value(text, "toit_emploi_db_pool_size") == 10


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
