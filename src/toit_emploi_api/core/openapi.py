"""OpenAPI post-processing: the document says what the server does, for every route whoever wrote it.

Rules applied to every operation (a route gets them by being mounted):

- every error status is problem+json with its declared problem types (`x-problem-types`); 401/403 where a policy
  applies, 412/428 with the If-Match dependency (and the header required), 413 on bodies, 415 on JSON bodies, 422
  wherever a parameter, a body or the unknown-query-parameter rule applies (not on the liveness probes), 500;
- response headers: `X-Request-ID` on every answer, `Cache-Control` under `/api/`, `ETag` on the 2xx of a handler
  marked `answers_etag`, `Location` on a 201, `Idempotent-Replayed` where the
  operation takes `Idempotency-Key`, `WWW-Authenticate` on a 401, `Retry-After` on a 429 or 503;
- conditional GET: a GET that answers an `ETag` takes `If-None-Match` and documents its 304;
- every enum carries `x-enum-descriptions` (French labels, parallel to `enum`) when a labeller is installed;
- `info.contact`, `info.license` and `servers`.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from toit_emploi_api.core import problems
from toit_emploi_api.core.database import USES_DATABASE, get_session
from toit_emploi_api.core.errors import PROBLEM_JSON, PROBLEM_TYPES_KEY, FieldError, Problem
from toit_emploi_api.core.idempotency import is_idempotent
from toit_emploi_api.core.request_rules import has_json_body, is_lenient, uuid_path_params
from toit_emploi_api.core.resources import IF_MATCH_MARK, is_etag_marked
from toit_emploi_api.core.routes import dependency_calls, iter_api_routes, route_policy

SECURITY_SCHEME = "OAuth2"  # the bearer scheme's name in components.securitySchemes (auth.policy)

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PHRASES = {
    400: "Bad request",
    401: "Not authenticated (no, invalid or expired token)",
    403: "Authenticated, but the role does not allow this operation",
    404: "Not found (or belongs to another organisation)",
    409: "Conflict with the current state",
    412: "If-Match does not match the current ETag",
    413: "Request body too large",
    415: "The body must be JSON (Content-Type: application/json)",
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


class EnumLabels(Protocol):
    """French labels of enum values (`vocab.labels`), given to `install` by the composition root."""

    def label(self, vocabulary: str, value: str) -> str | None: ...

    def vocabulary_for(self, values: list[str]) -> str | None: ...


CONTACT = {"name": "Aurore, direction des systèmes d'information", "url": "https://aurore.asso.fr"}
LICENSE = {"name": "MIT", "identifier": "MIT"}
SERVERS = [{"url": "http://localhost:8000", "description": "A local instance (`make run`); use your deployment's URL."}]

_STRING = {"type": "string"}
_HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request id (yours if well-formed, else the server's); quote it to the support team.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
    },
    "Cache-Control": {
        "description": "`no-store` unless stated otherwise: answers carry personal data or data scoped to you.",
        "schema": _STRING,
    },
    "ETag": {
        "description": 'The version of the resource (`"3"`): send it in If-Match to change it.',
        "schema": _STRING,
    },
    "Location": {"description": "The URL of the created resource.", "schema": _STRING},
    "Idempotent-Replayed": {
        "description": "`true` when this answer replays the first response to the same Idempotency-Key.",
        "schema": {"type": "string", "pattern": "^true$"},
    },
    "WWW-Authenticate": {"description": "The authentication scheme to use.", "schema": _STRING},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "string"}},
}
_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": 'The ETag of your copy (`"3"`; `W/"3"`, lists and `*` accepted): 304 without body when it is '
    "still current.",
    "schema": {"type": "string", "maxLength": 200},
}
# Whether each header is always there when documented; the components under `components.headers` say so.
_ALWAYS = {"X-Request-ID": True, "Cache-Control": True, "ETag": True, "Location": True}


def _header(name: str, *, required: bool) -> dict[str, Any]:
    if _ALWAYS.get(name, False) == required:
        return {"$ref": f"#/components/headers/{name}"}
    return {**_HEADERS[name], "required": required}


def _document_headers(path: str, method: str, operation: dict[str, Any], route: APIRoute | None) -> None:
    api = path.startswith("/api/")
    etag = route is not None and is_etag_marked(route.endpoint)
    params = {(p.get("in"), p.get("name")) for p in operation.get("parameters", [])}
    idempotent = ("header", "Idempotency-Key") in params
    responses: dict[str, Any] = operation["responses"]
    if method == "get" and etag:
        operation.setdefault("parameters", []).append(dict(_IF_NONE_MATCH))
        responses["304"] = {"description": "Not modified: your copy (If-None-Match) is current; no body."}
    for status, entry in responses.items():
        code = int(status) if status.isdigit() else 0
        headers: dict[str, Any] = entry.setdefault("headers", {})
        # The last-resort 500 is answered outside the conformance middleware: its Cache-Control is not promised.
        headers["X-Request-ID"] = _header("X-Request-ID", required=True)
        if api:
            headers["Cache-Control"] = _header("Cache-Control", required=code != 500)
        if etag and (200 <= code < 300 or code == 304):
            headers["ETag"] = _header("ETag", required=True)
        if code == 201:
            headers["Location"] = _header("Location", required=True)
        if idempotent and 200 <= code < 300:
            headers["Idempotent-Replayed"] = _header("Idempotent-Replayed", required=False)
        if code == 401:
            headers["WWW-Authenticate"] = _header("WWW-Authenticate", required=False)
        if code in (429, 503):
            headers["Retry-After"] = _header("Retry-After", required=False)


def _label_enums(node: Any, labels: EnumLabels, name: str | None = None) -> None:
    """`x-enum-descriptions` on every enum: by its component name, else by its set of values."""
    if isinstance(node, dict):
        values = node.get("enum")
        if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
            vocabulary = name or labels.vocabulary_for(values)
            if vocabulary is None and any(v.startswith("-") for v in values):
                vocabulary = "Sort"
            if vocabulary is not None:
                found = [labels.label(vocabulary, v) for v in values]
                if all(found):
                    node["x-enum-descriptions"] = found
        for value in node.values():
            _label_enums(value, labels)
    elif isinstance(node, list):
        for item in node:
            _label_enums(item, labels)


_LEAKED = ("ge", "le", "gt", "lt", "max_digits", "decimal_places")
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _number(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _decimal_schema(node: dict[str, Any]) -> None:
    """A decimal as JSON Schema: pydantic leaks `ge`/`max_digits`/… next to `anyOf: [number, string]` when a
    validator wraps the type. Publish them as bounds of the number and a pattern of the string; an amount
    (`x-amount`) takes a whole number or a string, never a binary float."""
    leaked = {key: node.pop(key) for key in _LEAKED if key in node}
    amount = bool(node.pop("x-amount", False))
    branches = node.get("anyOf")
    if not isinstance(branches, list):
        return
    kinds = [str(b.get("type")) for b in branches if isinstance(b, dict)]
    if sorted(kinds) != ["number", "string"]:
        return
    number = next(b for b in branches if b.get("type") == "number")
    string = next(b for b in branches if b.get("type") == "string")
    for key, target in _BOUNDS.items():
        if key in leaked:
            number[target] = _number(leaked[key])
    if amount:
        number["type"] = "integer"
    places = leaked.get("decimal_places")
    digits = leaked.get("max_digits")
    negative = "-?" if number.get("minimum", number.get("exclusiveMinimum", -1)) < 0 else ""
    whole = f"{{1,{digits - (places or 0)}}}" if digits else "+"
    fraction = f"(\\.[0-9]{{1,{places}}})?" if places else ("" if places == 0 else "(\\.[0-9]+)?")
    if places and not amount:
        number["multipleOf"] = _number(f"1e-{places}")
    string.setdefault("pattern", f"^{negative}[0-9]{whole}{fraction}$")


def _json_schema_decimals(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("format") in ("date", "date-time"):
            # JSON Schema has no bounds for dates: pydantic leaks `ge`/`le`; publish them as extensions.
            for key, target in (("ge", "x-minimum"), ("le", "x-maximum"), ("gt", "x-exclusive-minimum")):
                if key in node:
                    node[target] = node.pop(key)
        if "anyOf" in node or "x-amount" in node:
            _decimal_schema(node)
        for value in node.values():
            _json_schema_decimals(value)
    elif isinstance(node, list):
        for item in node:
            _json_schema_decimals(item)


def _readable_name(name: str) -> str:
    """`Page_EmployerOut_` → `EmployerOutPage`, `CursorPage_Union_A__B__` → `AOrBCursorPage`, `Body_auth_issue_token` →
    `AuthIssueTokenBody`; other names unchanged."""
    match = re.fullmatch(r"([A-Za-z]*Page)_(?:Union_)?(.+?)_+", name)
    if match:
        return "Or".join(part for part in match[2].split("__") if part) + match[1]
    if name.startswith("Body_"):
        return "".join(word.capitalize() for word in name.removeprefix("Body_").split("_")) + "Body"
    return name


def _rename_components(schema: dict[str, Any]) -> None:
    components: dict[str, Any] = schema["components"]["schemas"]
    renames = {old: _readable_name(old) for old in components if _readable_name(old) != old}
    if not renames:
        return
    for old, new in renames.items():
        components[new] = components.pop(old)
        components[new]["title"] = new
    refs = {f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in renames.items()}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref in refs:
                node["$ref"] = refs[ref]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    schema["components"]["schemas"] = dict(sorted(components.items()))


def build_openapi(app: FastAPI, labels: EnumLabels | None = None) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        contact=CONTACT,
        license_info=LICENSE,
        servers=SERVERS,
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
            has_input = bool(operation.get("parameters")) or "requestBody" in operation
            if has_input or route is None or not is_lenient(route):
                statuses.add(422)
            else:
                responses.pop("422", None)
            statuses.add(500)
            types: dict[int, list[str]] = {
                422: [problems.VALIDATION_ERROR.slug],
                500: [problems.INTERNAL_ERROR.slug],
                413: [problems.PAYLOAD_TOO_LARGE.slug],
                415: [problems.UNSUPPORTED_MEDIA_TYPE.slug],
            }
            if route is not None and has_json_body(route):
                statuses.add(415)
            if route is not None and uuid_path_params(route.dependant):
                statuses.add(404)
                types[404] = [problems.NOT_FOUND.slug]
            if any(getattr(call, IF_MATCH_MARK, False) for call in calls):
                _require_if_match(operation)
                statuses |= {412, 428}
                types[412] = [problems.PRECONDITION_FAILED.slug]
                types[428] = [problems.PRECONDITION_REQUIRED.slug]
            if route is not None and is_idempotent(route.endpoint):
                statuses |= {409}
                types[422].append(problems.IDEMPOTENCY_KEY_REUSED.slug)
                types[409] = [problems.IDEMPOTENCY_KEY_IN_PROGRESS.slug]
            if get_session in calls or any(getattr(call, USES_DATABASE, False) for call in calls):
                # Every route that uses the database may find it unavailable for a moment, or have its transaction
                # cancelled by PostgreSQL to break a deadlock with another request (core.errors).
                statuses.add(503)
                types[503] = [problems.DATABASE_UNAVAILABLE.slug, problems.TRANSACTION_CONFLICT.slug]
                responses.setdefault("503", {})["headers"] = {"Retry-After": _RETRY_AFTER}
            if policy != "public":
                statuses |= {401, 403}
                types[401] = [problems.UNAUTHORIZED.slug]
                types[403] = [problems.FORBIDDEN.slug]
                roles = sorted(str(r) for r in policy) if isinstance(policy, frozenset) else []
                operation["x-roles"] = roles
                # A route whose policy reads the bearer header itself (`authorize_token`) has no security
                # dependency for FastAPI to publish: the same OAuth2 requirement as every other route.
                operation.setdefault("security", [{SECURITY_SCHEME: []}])
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
            _document_headers(path, method, operation, route)
    schema["components"][PROBLEM_TYPES_KEY] = [
        {"type": p.uri, "title": p.title, "status": p.status} for p in problems.registered()
    ]
    _rename_components(schema)
    _json_schema_decimals(schema)
    schema["components"]["headers"] = {
        name: {**header, "required": _ALWAYS.get(name, False)} for name, header in _HEADERS.items()
    }
    if labels is not None:
        for name, component in components.items():
            _label_enums(component, labels, name if "enum" in component else None)
        _label_enums(schema["paths"], labels)
    return schema


def _require_if_match(operation: dict[str, Any]) -> None:
    """The server answers 428 without If-Match: the document says the header is required."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name") == "If-Match":
            parameter["required"] = True


def install(app: FastAPI, labels: EnumLabels | None = None) -> None:
    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, labels)
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
