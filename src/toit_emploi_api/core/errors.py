"""Typed domain errors carrying their HTTP status, rendered as RFC 9457 problem+json by one set of handlers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("toit_emploi_api.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:toit-emploi:problem:"


def problem_type(slug: str) -> str:
    return PROBLEM_BASE + slug


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `members.0.birth_date`.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details. Extension members (e.g. `errors`, `unmet`) may be present."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:toit-emploi:problem:not-found"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal server error"

    def __init__(
        self,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: Sequence[FieldError] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if slug is not None:
            self.slug = slug
        if title is not None:
            self.title = title
        self.errors = list(errors) if errors else None
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


class BadRequestError(ProblemError):
    status, slug, title = 400, "bad-request", "Bad request"


class UnauthorizedError(ProblemError):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str = "A valid bearer token is required.", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class ForbiddenError(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFoundError(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class ConflictError(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailedError(ProblemError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLargeError(ProblemError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class ValidationProblemError(ProblemError):
    status, slug, title = 422, "validation-error", "Invalid request"


class PreconditionRequiredError(ProblemError):
    status, slug, title = 428, "precondition-required", "Precondition required"


class TooManyRequestsError(ProblemError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: Sequence[FieldError] | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors is not None:
        body["errors"] = [e.model_dump() for e in errors]
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))


def _field_path(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def validation_field_errors(raw: Sequence[Any]) -> list[FieldError]:
    out: list[FieldError] = []
    for err in raw:
        msg = str(err.get("msg", "invalid value"))
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        out.append(FieldError(field=_field_path(err.get("loc", ())), message=msg))
    return out


def _instance(request: Request) -> str:
    return request.url.path


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.slug,
        exc.title,
        exc.detail,
        instance=_instance(request),
        errors=exc.errors,
        extra=exc.extra,
        headers=exc.headers,
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_field_errors(exc.errors())
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return problem_response(
        422, "validation-error", "Invalid request", detail, instance=_instance(request), errors=errors
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 403: "forbidden"}.get(
        status, phrase.lower().replace(" ", "-")
    )
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    if status == 400 and detail == "There was an error parsing the body":
        return problem_response(
            422, "validation-error", "Invalid request", "The request body could not be parsed.",
            instance=_instance(request),
        )  # fmt: skip
    return problem_response(
        status, slug, phrase, detail, instance=_instance(request), headers=getattr(exc, "headers", None)
    )


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    # Reached only when a service did not translate a constraint violation itself; never leak SQL.
    constraint = getattr(getattr(exc, "orig", None), "constraint_name", None)
    logger.warning("unhandled integrity error", extra={"constraint": constraint})
    return problem_response(
        409,
        "conflict",
        "Conflict",
        "The request conflicts with the current state of the data.",
        instance=_instance(request),
    )


def _sqlstate(exc: BaseException) -> str:
    """The PostgreSQL SQLSTATE behind a SQLAlchemy error (asyncpg keeps it on the driver exception)."""
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return ""


async def _on_dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    """Safety net for database refusals a service did not translate. Class 22 (data exception: too long, out of
    range, NUL) is the client's value: 422. Class 23 (integrity): 409. Anything else stays a real 500."""
    state = _sqlstate(exc)
    if state.startswith("22") or isinstance(exc, DataError):
        logger.warning("database rejected a value", extra={"sqlstate": state})
        return problem_response(
            422, "validation-error", "Invalid request", "A value was rejected as invalid.", instance=_instance(request)
        )
    if state.startswith("23"):
        return await _on_integrity(request, exc)
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(DBAPIError, _on_dbapi_error)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for a route's own error statuses (content is filled in as problem+json)."""
    return {status: {"description": HTTPStatus(status).phrase} for status in statuses}
