"""OpenAPI post-processing: problem+json for every error status, security per route, stable output."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from toit_emploi_api.auth.policy import route_policy
from toit_emploi_api.core.errors import PROBLEM_JSON, FieldError, Problem
from toit_emploi_api.core.routes import dependency_calls, iter_api_routes

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PHRASES = {
    400: "Bad request",
    401: "Not authenticated (no, invalid or expired token)",
    403: "Authenticated, but the role does not allow this operation",
    404: "Not found (or belongs to another organisation)",
    409: "Conflict with the current state",
    412: "If-Match does not match the current ETag",
    413: "Request body too large",
    422: "Validation error (see `errors`)",
    428: "If-Match header required",
    429: "Too many requests",
    500: "Unexpected error (quote the X-Request-ID)",
    503: "Service unavailable",
}


def _route_index(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    index: dict[tuple[str, str], APIRoute] = {}
    for route in iter_api_routes(app):
        for method in route.methods or ():
            index[(route.path, method.lower())] = route
    return index


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components["Problem"].pop("$defs", None)
    components["FieldError"] = FieldError.model_json_schema()
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    routes = _route_index(app)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            route = routes.get((path, method))
            policy = route_policy(dependency_calls(route)) if route else None
            responses: dict[str, Any] = operation.setdefault("responses", {})
            statuses = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
            statuses |= {422, 500}
            if policy != "public":
                statuses |= {401, 403}
                roles = sorted(str(r) for r in policy) if isinstance(policy, frozenset) else []
                operation["x-roles"] = roles
            else:
                operation["security"] = []
            if method in ("post", "put", "patch"):
                statuses.add(413)
            for status in sorted(statuses):
                entry = responses.setdefault(str(status), {})
                entry["description"] = entry.get("description") or _PHRASES.get(status, "Error")
                if entry["description"] in ("Validation Error", "Unprocessable Entity"):
                    entry["description"] = _PHRASES[422]
                entry["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
    return schema


def install(app: FastAPI) -> None:
    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
