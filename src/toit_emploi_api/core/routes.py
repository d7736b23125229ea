"""Walk the app's API routes (whatever the FastAPI version), and the marks a route's policy leaves on them.

Every route declares its access policy: `auth.policy.authorize(...)` marks its dependency with the allowed roles,
`public_route` marks a deliberately open route; a test walks the app and fails on a route without either."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute


def iter_api_routes(app: FastAPI) -> Iterator[APIRoute]:
    routes: Any = app.routes
    try:  # FastAPI >= 0.16x: included routers are _IncludedRouter entries; this expands them with prefixes
        from fastapi.routing import _iter_included_route_candidates

        routes = _iter_included_route_candidates(app.routes)
    except ImportError:  # older FastAPI: app.routes is already flat
        pass
    for route in routes:
        if isinstance(route, APIRoute):
            yield route


def dependency_calls(route: APIRoute) -> list[Any]:
    """Every dependency callable of a route, nested ones included."""
    calls: list[Any] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        calls.append(dep.call)
        stack.extend(dep.dependencies)
    return calls


POLICY_ATTRIBUTE = "__toit_policy__"


async def public_route() -> None:
    """Marks a route as deliberately open (health checks, token endpoint)."""


setattr(public_route, POLICY_ATTRIBUTE, "public")


def route_policy(calls: list[Any]) -> frozenset[Any] | str | None:
    """The policy declared among a route's dependency callables: a frozenset of roles, "public", or None."""
    for call in calls:
        policy = getattr(call, POLICY_ATTRIBUTE, None)
        if policy is not None:
            return policy  # type: ignore[no-any-return]
    return None
