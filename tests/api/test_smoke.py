from httpx import AsyncClient

from tests.factories import Actor


async def test_healthz(client: AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["x-request-id"]


async def test_readyz_reports_migration_head(client: AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"


async def test_me(client: AsyncClient, admin: Actor) -> None:
    r = await client.get("/api/v1/me", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "admin"
