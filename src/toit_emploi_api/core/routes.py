"""Walk the app's API routes, whatever the FastAPI version (recent versions mount included routers lazily)."""

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
