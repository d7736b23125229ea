"""Health probes, offline docs, CORS, settings safety and the committed OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError

from tests.conftest import ROOT
from toit_emploi_api.core.settings import DEFAULT_SECRET, Settings
from toit_emploi_api.main import create_app
from toit_emploi_api.openapi_document import render_openapi

OPENAPI_FILE = ROOT / "openapi" / "openapi.json"


@pytest.fixture(scope="module")
def rendered(settings: Settings) -> str:
    """The document as `toit-emploi openapi` writes it (a fresh app), rendered once for this module's tests: FastAPI
    takes seconds to build it."""
    return render_openapi(settings)


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/none"})
    app = create_app(broken)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
        assert (await c.get("/healthz")).status_code == 200
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_readyz_is_503_when_migrations_are_not_at_head(settings: Settings) -> None:
    app = create_app(settings)
    app.state.migration_head = "9999_future"
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert "not at head" in r.json()["detail"]


async def test_docs_are_served_without_internet(client: AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/static-offline-docs/swagger-ui-bundle.js" in page.text
    js = await client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert js.status_code == 200
    assert len(js.content) > 100_000
    redoc = await client.get("/redoc")
    assert "/static-offline-docs/redoc.standalone.js" in redoc.text


async def test_cors_allows_configured_origins_only(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ["https://app.toit-emploi.example"]}))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
        ok = await c.options(
            "/api/v1/me",
            headers={"Origin": "https://app.toit-emploi.example", "Access-Control-Request-Method": "GET"},
        )
        bad = await c.options(
            "/api/v1/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
    assert ok.headers["access-control-allow-origin"] == "https://app.toit-emploi.example"
    assert "access-control-allow-origin" not in bad.headers


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(environment="production", DATABASE_URL="postgresql://db/x", jwt_secret=DEFAULT_SECRET)


def test_production_refuses_to_start_without_database_url() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(environment="production", DATABASE_URL=None, jwt_secret="s" * 40)


def test_settings_come_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOIT_EMPLOI_ACCESS_TOKEN_MINUTES", "5")
    monkeypatch.setenv("TOIT_EMPLOI_CORS_ORIGINS", '["https://a.example"]')
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/toit")
    s = Settings()
    assert s.access_token_minutes == 5
    assert s.cors_origins == ["https://a.example"]
    assert s.async_database_url == "postgresql+asyncpg://u:p@db:5432/toit"


def test_committed_openapi_matches_the_app(rendered: str) -> None:
    committed = OPENAPI_FILE.read_text(encoding="utf-8") if OPENAPI_FILE.exists() else ""
    assert committed == rendered, "openapi/openapi.json is stale: run `make openapi` (toit-emploi openapi) and commit"


def test_openapi_operations_are_documented(rendered: str) -> None:
    doc = json.loads(rendered)
    seen: set[str] = set()
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op.get("operationId"), where
            assert op["operationId"] not in seen, f"duplicate operation id {op['operationId']}"
            seen.add(op["operationId"])
            assert op.get("tags"), f"{where} has no tag"
            assert "500" in op["responses"], f"{where} does not document 500"
            # 422 wherever input is validated (parameters, body, unknown query parameters); not on the probes.
            probe = path in ("/healthz", "/readyz")
            assert ("422" in op["responses"]) != probe, f"{where}: 422 documented iff input is checked"
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert "application/problem+json" in response["content"], f"{where} {status}"
            if op.get("security") != []:
                assert {"401", "403"} <= set(op["responses"]), where
    assert "Problem" in doc["components"]["schemas"]


def _operations(rendered: str) -> list[tuple[str, str, dict[str, Any]]]:
    doc = json.loads(rendered)
    return [(m, path, op) for path, ops in doc["paths"].items() for m, op in ops.items()]


def test_every_operation_has_a_short_title_and_a_description(rendered: str) -> None:
    """The route's docstring is its description (its rules, in /docs); the summary is a short title."""
    for method, path, op in _operations(rendered):
        where = f"{method.upper()} {path}"
        assert op.get("summary"), f"{where}: no summary"
        assert len(op["summary"]) <= 60, f"{where}: the summary is not a short title"
        assert len(op.get("description", "").strip()) >= 40, f"{where}: no description (write the route's docstring)"


def test_every_error_response_names_its_declared_problem_types(rendered: str) -> None:
    doc = json.loads(rendered)
    registered = {entry["type"] for entry in doc["components"]["x-problem-types"]}
    assert len(registered) >= 50
    for method, path, op in _operations(rendered):
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            types = response.get("x-problem-types")
            assert types, f"{method.upper()} {path} {status}: no declared problem type"
            assert set(types) <= registered, f"{method.upper()} {path} {status}: undeclared {set(types) - registered}"


def test_if_match_is_required_wherever_the_server_answers_428(rendered: str) -> None:
    """One If-Match policy: every PATCH, PUT and DELETE takes it, declared required, with 412 and 428 documented."""
    for method, path, op in _operations(rendered):
        headers = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "header"}
        if method in ("patch", "put", "delete"):
            assert "If-Match" in headers, f"{method.upper()} {path} takes no If-Match"
        if "If-Match" in headers:
            assert headers["If-Match"]["required"] is True, f"{method.upper()} {path}: If-Match declared optional"
            assert {"412", "428"} <= set(op["responses"]), f"{method.upper()} {path}"


def test_openapi_file_path_is_the_documented_one() -> None:
    assert Path("openapi/openapi.json") == OPENAPI_FILE.relative_to(ROOT)
