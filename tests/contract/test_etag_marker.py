"""The explicit ETag mark (`core.resources.answers_etag`): the OpenAPI document publishes the ETag header, and on a GET
`If-None-Match` and the 304, exactly on the marked routes; the test client (tests/etag_guard.py) fails any test in
which an unmarked route answers an ETag, so a route that answers 304 cannot be left unmarked."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI, Response
from httpx import ASGITransport, AsyncClient

from tests.etag_guard import ETagMarkGuard, UnmarkedETagError
from tests.factories import Actor
from toit_emploi_api.core.resources import ETAG_MARK, is_etag_marked
from toit_emploi_api.core.routes import iter_api_routes

V1 = "/api/v1"


def _operations(app: FastAPI) -> list[tuple[str, str, Any, dict[str, Any]]]:
    doc = app.openapi()
    out = []
    for route in iter_api_routes(app):
        for method in sorted(route.methods or ()):
            operation = doc["paths"].get(route.path, {}).get(method.lower())
            if operation is not None:
                out.append((method, route.path, route.endpoint, operation))
    return out


def test_the_document_gives_etag_and_304_to_the_marked_routes_only(app: FastAPI) -> None:
    marked = 0
    for method, path, endpoint, operation in _operations(app):
        documented = any("ETag" in r.get("headers", {}) for r in operation["responses"].values())
        assert documented == is_etag_marked(endpoint), f"{method} {path}"
        if method == "GET":
            assert ("304" in operation["responses"]) == is_etag_marked(endpoint), f"{method} {path}"
        marked += is_etag_marked(endpoint)
    assert marked > 40  # every read, creation and change of a versioned resource


async def test_an_unmarked_route_that_answers_304_fails_the_guard(
    app: FastAPI, client: AsyncClient, service_manager: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await client.post(f"{V1}/households", json={"housing_situation": "shelter"}, headers=service_manager.headers)
    url = made.headers["Location"]
    path = "/api/v1/households/{household_id}"
    route = next(r for r in iter_api_routes(app) if r.path == path and "GET" in (r.methods or ()))
    monkeypatch.setattr(route.endpoint, ETAG_MARK, False)
    with pytest.raises(UnmarkedETagError, match=re.escape(path)):
        await client.get(url, headers=service_manager.headers)
    with pytest.raises(UnmarkedETagError):
        await client.get(url, headers={**service_manager.headers, "If-None-Match": made.headers["etag"]})
    monkeypatch.setattr(route.endpoint, ETAG_MARK, True)
    again = await client.get(url, headers={**service_manager.headers, "If-None-Match": made.headers["etag"]})
    assert again.status_code == 304


async def test_the_guard_on_a_bare_app() -> None:
    bare = FastAPI()

    @bare.get("/unmarked")
    async def unmarked(response: Response) -> dict[str, str]:
        response.headers["ETag"] = '"1"'
        return {}

    @bare.get("/plain")
    async def plain() -> dict[str, str]:
        return {}

    async with AsyncClient(transport=ASGITransport(app=ETagMarkGuard(bare)), base_url="http://t") as c:
        assert (await c.get("/plain")).status_code == 200
        with pytest.raises(UnmarkedETagError, match="/unmarked"):
            await c.get("/unmarked")
