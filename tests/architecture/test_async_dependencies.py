"""Every endpoint and every dependency is a coroutine: FastAPI runs a plain `def` in its thread pool, a thread hop
per call and per request (a plain `def` list filter cost a no-match search 10 ms of wall time, docs/performance.md)."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from toit_emploi_api.core.routes import iter_api_routes


def _is_async(call: Any) -> bool:
    # A function, or an object whose class defines an async `__call__` (e.g. FastAPI's security schemes).
    candidates = (call, call if inspect.isfunction(call) else type(call).__call__)
    return any(inspect.iscoroutinefunction(c) or inspect.isasyncgenfunction(c) for c in candidates)


def _sync_calls(dependant: Dependant) -> set[str]:
    found: set[str] = set()
    for sub in dependant.dependencies:
        if sub.call is not None and not _is_async(sub.call):
            found.add(f"{sub.call.__module__}.{getattr(sub.call, '__qualname__', sub.call)}")
        found |= _sync_calls(sub)
    return found


def test_no_endpoint_or_dependency_runs_in_the_thread_pool(app: FastAPI) -> None:
    routes = list(iter_api_routes(app))
    assert len(routes) > 50
    sync_endpoints = [r.path for r in routes if not _is_async(r.dependant.call)]
    sync_dependencies = set().union(*(_sync_calls(r.dependant) for r in routes))
    assert (sync_endpoints, sorted(sync_dependencies)) == ([], [])


def test_the_check_sees_a_plain_def_dependency(app: FastAPI) -> None:
    from fastapi import APIRouter, Depends

    def plain() -> int:
        return 1

    router = APIRouter()

    @router.get("/probe-sync-dependency")
    async def probe(value: int = Depends(plain)) -> int:
        return value

    route = next(r for r in router.routes if isinstance(r, APIRoute))
    assert _sync_calls(route.dependant) == {f"{__name__}.test_the_check_sees_a_plain_def_dependency.<locals>.plain"}
