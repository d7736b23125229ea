"""Rules every route gets, whoever wrote it: one app-wide dependency (`RequestRules`, installed by `main`).

- **Unknown query parameters are a 422** naming them (`errors: [{"field": "query.sort_by", …}]`), exactly like
  unknown body fields: a misspelt filter (`?comune=15014`) must not silently list everything.
- **A path that names no resource is a 404 or a 405, not a 422**: `{household_id}` declared `uuid.UUID` and given
  `possible-duplicates` does not match that route; when another route has this exact path (`GET
  /households/possible-duplicates`) the answer is 405 with the right `Allow`, otherwise 404 `not-found`.
- **A JSON body in another media type is a 415** `unsupported-media-type` (`text/plain`, `application/xml`), not a
  422 about the body's shape.

A route that must accept any query string (the liveness probes) is marked with `lenient_query`. The OpenAPI hook
(`core/openapi.py`) declares the 415 on every operation with a JSON body, and a 422 wherever these rules apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import Match

from toit_emploi_api.core import problems
from toit_emploi_api.core.errors import FieldError, NotFoundError, ProblemError, ValidationProblemError

LENIENT_QUERY_MARK = "__toit_lenient_query__"
F = TypeVar("F", bound=Callable[..., Any])


def lenient_query(endpoint: F) -> F:
    """Mark an endpoint that ignores its query string (liveness probes polled by any tool)."""
    setattr(endpoint, LENIENT_QUERY_MARK, True)
    return endpoint


def is_lenient(route: APIRoute) -> bool:
    return bool(getattr(route.endpoint, LENIENT_QUERY_MARK, False))


def query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter a route declares, its dependencies' included (by alias)."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        names.update(param.alias for param in current.query_params)
        stack.extend(current.dependencies)
    return frozenset(names)


def has_json_body(route: APIRoute) -> bool:
    """The route parses a JSON body (not a form, not a raw body it reads itself)."""
    if route.body_field is None:
        return False
    return not any(type(field.field_info).__name__ in ("Form", "File") for field in route.dependant.body_params)


def is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def uuid_path_params(dependant: Dependant) -> frozenset[str]:
    """The path parameters a route (or one of its dependencies) declares as `uuid.UUID`."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        names.update(p.alias for p in current.path_params if p.field_info.annotation is uuid.UUID)
        stack.extend(current.dependencies)
    return frozenset(names)


def _is_uuid(value: object) -> bool:
    if isinstance(value, uuid.UUID):
        return True
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Rules:
    query: frozenset[str]
    lenient: bool
    json_body: bool
    uuid_params: frozenset[str]


_RULES_ATTRIBUTE = "_toit_request_rules"


def _rules(route: APIRoute) -> _Rules:
    rules: _Rules | None = getattr(route, _RULES_ATTRIBUTE, None)
    if rules is None:
        rules = _Rules(
            query=query_names(route.dependant),
            lenient=is_lenient(route),
            json_body=has_json_body(route),
            uuid_params=uuid_path_params(route.dependant),
        )
        setattr(route, _RULES_ATTRIBUTE, rules)
    return rules


async def request_rules(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    rules = _rules(route)
    if any(not _is_uuid(request.path_params.get(name)) for name in rules.uuid_params):
        _no_such_path(request, route)
    if not rules.lenient:
        unknown = list(dict.fromkeys(name for name in request.query_params if name not in rules.query))
        if unknown:
            raise ValidationProblemError(
                "Unknown query parameter(s): " + ", ".join(unknown[:10]) + ".",
                errors=[FieldError(field=f"query.{name}", message="unknown query parameter") for name in unknown],
            )
    if rules.json_body:
        content_type = request.headers.get("content-type")
        if content_type and not is_json_media_type(content_type):
            raise ProblemError(
                problems.UNSUPPORTED_MEDIA_TYPE,
                "This operation takes a JSON body: send it with Content-Type: application/json.",
            )


def path_methods(app: Any, scope: Mapping[str, Any]) -> list[str]:
    """Every method of the routes whose path matches the request's, a malformed UUID matching none (what `Allow`
    lists on a 405)."""
    from toit_emploi_api.core.routes import iter_api_routes

    methods: set[str] = set()
    for route in iter_api_routes(app):
        match, child = route.matches({**scope, "method": "GET"})
        if match == Match.NONE:
            continue
        params = child.get("path_params", {})
        if all(_is_uuid(params.get(name)) for name in _rules(route).uuid_params):
            methods |= set(route.methods or ())
    if "GET" in methods:
        methods.add("HEAD")  # answered as the GET without its body (`core.middleware.HttpMiddleware`)
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return sorted(methods, key=lambda m: order.index(m) if m in order else len(order))


def _no_such_path(request: Request, route: APIRoute) -> None:
    """The path matched `route` only through a malformed UUID: 405 if another route has this path, else 404."""
    methods = path_methods(request.app, request.scope)
    if methods:
        raise ProblemError(
            problems.METHOD_NOT_ALLOWED,
            f"{request.method} is not allowed here.",
            headers={"Allow": ", ".join(methods)},
        )
    raise NotFoundError("No resource at this URL (malformed id).")


RequestRules = Depends(request_rules)
"""`FastAPI(dependencies=[RequestRules])`: applied to every route of every router."""
