"""Authorization is declared per route and enforced by default, on every route of the app."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from httpx import AsyncClient

from tests.factories import Factory
from toit_emploi_api.core.routes import dependency_calls, iter_api_routes, route_policy
from toit_emploi_api.vocab.roles import Role

# Routes that FastAPI itself adds for the docs (not part of the API).
DOC_PATHS = {"/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"}


def _api_routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in iter_api_routes(app) if r.path not in DOC_PATHS]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def test_every_route_declares_exactly_one_policy(app: FastAPI) -> None:
    missing = [
        f"{sorted(r.methods or ())} {r.path}" for r in _api_routes(app) if route_policy(dependency_calls(r)) is None
    ]
    assert missing == [], f"routes without authorize(...) or public_route: {missing}"
    for route in _api_routes(app):
        policies = {getattr(c, "__toit_policy__", None) for c in dependency_calls(route)} - {None}
        assert len(policies) == 1, f"{route.path} declares {len(policies)} different policies"


def test_the_route_walk_sees_every_documented_operation(app: FastAPI) -> None:
    """Guards the tests above against walking a partial route list (FastAPI changes how routers are mounted)."""
    operations = sum(len(ops) for ops in app.openapi()["paths"].values())
    walked = sum(len(r.methods or ()) for r in _api_routes(app) if r.include_in_schema)
    assert walked == operations
    assert walked > 20


def test_the_policy_check_itself_detects_a_bare_route() -> None:
    bare = FastAPI()

    @bare.get("/bare")
    async def bare_route() -> dict[str, str]:
        return {}

    route = next(r for r in bare.routes if isinstance(r, APIRoute) and r.path == "/bare")
    assert route_policy(dependency_calls(route)) is None


def test_public_routes_are_only_the_expected_ones(app: FastAPI) -> None:
    public = {r.path for r in _api_routes(app) if route_policy(dependency_calls(r)) == "public"}
    assert public == {"/healthz", "/readyz", "/api/v1/auth/token", "/api/v1/auth/revoke"}


async def test_every_protected_route_is_401_without_a_token(app: FastAPI, client: AsyncClient) -> None:
    checked = 0
    for route in _api_routes(app):
        if route_policy(dependency_calls(route)) == "public":
            continue
        for method in route.methods or ():
            r = await client.request(method, _concrete(route.path))
            assert r.status_code == 401, f"{method} {route.path}: {r.status_code} {r.text}"
            assert r.headers["content-type"].startswith("application/problem+json")
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
async def test_every_route_refuses_roles_outside_its_policy_with_403(
    app: FastAPI, client: AsyncClient, actors: Factory, role: Role
) -> None:
    actor = await actors.user(role)
    for route in _api_routes(app):
        policy = route_policy(dependency_calls(route))
        assert policy is not None, route.path
        if policy == "public" or role in policy:
            continue
        for method in route.methods or ():
            r = await client.request(method, _concrete(route.path), headers=actor.headers)
            assert r.status_code == 403, f"{role} {method} {route.path}: {r.status_code} {r.text}"


def test_admin_is_allowed_everywhere(app: FastAPI) -> None:
    for route in _api_routes(app):
        policy = route_policy(dependency_calls(route))
        assert policy is not None, route.path
        assert policy == "public" or Role.ADMIN in policy
