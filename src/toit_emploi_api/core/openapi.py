"""OpenAPI post-processing: problem+json for every error status, security per route, stable output."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from toit_emploi_api.core import problems
from toit_emploi_api.core.database import get_session
from toit_emploi_api.core.errors import PROBLEM_JSON, PROBLEM_TYPES_KEY, FieldError, Problem
from toit_emploi_api.core.resources import IF_MATCH_MARK
from toit_emploi_api.core.routes import dependency_calls, iter_api_routes, route_policy

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

_RETRY_AFTER = {
    "description": "Seconds to wait before retrying (the database is restarting or unreachable).",
    "schema": {"type": "integer", "minimum": 1},
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
            calls = dependency_calls(route) if route else []
            policy = route_policy(calls)
            responses: dict[str, Any] = operation.setdefault("responses", {})
            statuses = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
            statuses |= {422, 500}
            types: dict[int, list[str]] = {
                422: [problems.VALIDATION_ERROR.slug],
                500: [problems.INTERNAL_ERROR.slug],
                413: [problems.PAYLOAD_TOO_LARGE.slug],
            }
            if any(getattr(call, IF_MATCH_MARK, False) for call in calls):
                _require_if_match(operation)
                statuses |= {412, 428}
                types[412] = [problems.PRECONDITION_FAILED.slug]
                types[428] = [problems.PRECONDITION_REQUIRED.slug]
            if get_session in calls:
                # Every route that uses the database may find it unavailable for a moment (core.errors).
                statuses.add(503)
                types[503] = [problems.DATABASE_UNAVAILABLE.slug]
                responses.setdefault("503", {})["headers"] = {"Retry-After": _RETRY_AFTER}
            if policy != "public":
                statuses |= {401, 403}
                types[401] = [problems.UNAUTHORIZED.slug]
                types[403] = [problems.FORBIDDEN.slug]
                roles = sorted(str(r) for r in policy) if isinstance(policy, frozenset) else []
                operation["x-roles"] = roles
            else:
                operation["security"] = []
            if method in ("post", "put", "patch"):
                statuses.add(413)
            for status in sorted(statuses):
                entry = responses.setdefault(str(status), {})
                declared = [*types.get(status, []), *entry.pop(PROBLEM_TYPES_KEY, [])]
                slugs = list(dict.fromkeys(declared))
                phrase = _PHRASES.get(status, "Error")
                entry["description"] = phrase
                if slugs:
                    entry["description"] = f"{phrase}. Problem types: " + ", ".join(f"`{s}`" for s in slugs) + "."
                    entry[PROBLEM_TYPES_KEY] = [problems.PROBLEM_BASE + s for s in slugs]
                entry["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
    schema["components"][PROBLEM_TYPES_KEY] = [
        {"type": p.uri, "title": p.title, "status": p.status} for p in problems.registered()
    ]
    return schema


def _require_if_match(operation: dict[str, Any]) -> None:
    """The server answers 428 without If-Match: the document says the header is required."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name") == "If-Match":
            parameter["required"] = True


def install(app: FastAPI) -> None:
    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
