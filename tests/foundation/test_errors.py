"""RFC 9457 problem+json for every error; hostile input never produces a 500."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from tests.factories import Actor
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app

PROBLEM = "application/problem+json"


def _assert_problem(r: Response, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["type"] == f"urn:toit-emploi:problem:{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["instance"]
    return body


async def test_unknown_route_is_problem_json(client: AsyncClient) -> None:
    _assert_problem(await client.get("/api/v1/nothing-here"), 404, "not-found")


async def test_wrong_method_is_problem_json(client: AsyncClient) -> None:
    _assert_problem(await client.delete("/healthz"), 405, "method-not-allowed")


async def test_unknown_fields_are_rejected_with_field_errors(client: AsyncClient, admin: Actor) -> None:
    r = await client.post(
        "/api/v1/organisations",
        json={"name": "Charonne", "kind": "referral_partner", "colour": "blue"},
        headers=admin.headers,
    )
    body = _assert_problem(r, 422, "validation-error")
    assert {"field": "colour", "message": "unknown field"} in body["errors"]


async def test_wrong_types_and_enums_name_the_field(client: AsyncClient, admin: Actor) -> None:
    r = await client.post("/api/v1/organisations", json={"name": 42, "kind": "bakery"}, headers=admin.headers)
    body = _assert_problem(r, 422, "validation-error")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"name", "kind"}


async def test_nul_bytes_in_body_strings_are_422(client: AsyncClient, admin: Actor) -> None:
    r = await client.post(
        "/api/v1/organisations", json={"name": "Cha\u0000ronne", "kind": "referral_partner"}, headers=admin.headers
    )
    body = _assert_problem(r, 422, "validation-error")
    assert body["errors"][0]["field"] == "name"


async def test_nul_bytes_in_the_url_are_422(client: AsyncClient, admin: Actor) -> None:
    _assert_problem(await client.get("/api/v1/users?limit=%00", headers=admin.headers), 422, "validation-error")
    _assert_problem(await client.get("/api/v1/users/%00", headers=admin.headers), 422, "validation-error")


async def test_overlong_strings_are_422(client: AsyncClient, admin: Actor) -> None:
    r = await client.post(
        "/api/v1/organisations", json={"name": "x" * 201, "kind": "referral_partner"}, headers=admin.headers
    )
    body = _assert_problem(r, 422, "validation-error")
    assert body["errors"][0]["field"] == "name"


async def test_malformed_json_is_422(client: AsyncClient, admin: Actor) -> None:
    r = await client.post(
        "/api/v1/organisations",
        content=b'{"name": "x",',
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    _assert_problem(r, 422, "validation-error")


async def test_invalid_uuid_in_path_is_404(client: AsyncClient, admin: Actor) -> None:
    # A malformed id names no resource: 404 (a 405 when another route serves that exact path).
    _assert_problem(await client.get("/api/v1/users/not-a-uuid", headers=admin.headers), 404, "not-found")


async def test_out_of_range_pagination_is_422(client: AsyncClient, admin: Actor) -> None:
    body = _assert_problem(await client.get("/api/v1/users?limit=201", headers=admin.headers), 422, "validation-error")
    assert body["errors"][0]["field"] == "query.limit"


async def test_body_over_the_cap_is_413(client: AsyncClient, admin: Actor, settings: Settings) -> None:
    big = b'{"name": "' + b"x" * (settings.max_body_bytes + 10) + b'", "kind": "funder"}'
    r = await client.post(
        "/api/v1/organisations", content=big, headers={**admin.headers, "Content-Type": "application/json"}
    )
    _assert_problem(r, 413, "payload-too-large")


async def test_streamed_body_over_the_cap_is_413_without_content_length(
    client: AsyncClient, admin: Actor, settings: Settings
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536
        yield b'", "kind": "funder"}'

    r = await client.post(
        "/api/v1/organisations",
        content=chunks(),
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    _assert_problem(r, 413, "payload-too-large")


async def test_unexpected_errors_are_500_problem_without_internals(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail: SELECT * FROM households")

    async with AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t") as c:
        r = await c.get("/boom", headers={"X-Request-ID": "req-12345"})
    body = _assert_problem(r, 500, "internal-error")
    assert "secret" not in r.text
    assert "req-12345" in str(body["detail"])
    assert r.headers["x-request-id"] == "req-12345"


async def test_request_id_is_made_or_kept_and_echoed(client: AsyncClient) -> None:
    r = await client.get("/healthz")
    assert len(r.headers["x-request-id"]) == 32
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces and <script>"})
    assert r.headers["x-request-id"] != "bad id with spaces and <script>"


async def test_access_log_has_no_query_string(
    client: AsyncClient, admin: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("toit_emploi_api")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="toit_emploi_api"):
            await client.get("/api/v1/users?limit=5&q=Benoit-Dupont", headers=admin.headers)
    finally:
        logger.removeHandler(caplog.handler)
    lines = [r.getMessage() for r in caplog.records if r.name == "toit_emploi_api.access"]
    assert any("/api/v1/users" in line for line in lines)
    assert not any("Benoit" in line for line in caplog.text.splitlines())
