"""Typed domain errors carrying their HTTP status, rendered as RFC 9457 problem+json by one set of handlers."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from toit_emploi_api.core import problems
from toit_emploi_api.core.problems import ProblemType

logger = logging.getLogger("toit_emploi_api.errors")

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `members.0.birth_date`.")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details. Extension members (e.g. `errors`, `unmet`) may be present."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        examples=["urn:toit-emploi:problem:not-found"],
        description="A declared problem type (`urn:toit-emploi:problem:<slug>`); see `x-problem-types`.",
    )
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """A typed error: its declared problem type gives the status and title; `detail` says what happened."""

    def __init__(
        self,
        problem: ProblemType,
        detail: str,
        *,
        errors: Sequence[FieldError] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return self.problem.status


class _FoundationError(ProblemError):
    """A ProblemError bound to one of the foundation's types: ``NotFoundError("No household with this id.")``."""

    problem_type: ClassVar[ProblemType]

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(self.problem_type, detail, errors=errors, extra=extra, headers=headers)


class ForbiddenError(_FoundationError):
    problem_type = problems.FORBIDDEN


class NotFoundError(_FoundationError):
    problem_type = problems.NOT_FOUND


class PreconditionFailedError(_FoundationError):
    problem_type = problems.PRECONDITION_FAILED


class ValidationProblemError(_FoundationError):
    problem_type = problems.VALIDATION_ERROR


class PreconditionRequiredError(_FoundationError):
    problem_type = problems.PRECONDITION_REQUIRED


class UnauthorizedError(ProblemError):
    def __init__(self, detail: str = "A valid bearer token is required.", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(problems.UNAUTHORIZED, detail, **kw)


def problem_response(
    problem: ProblemType,
    detail: str,
    *,
    status: int | None = None,
    instance: str | None = None,
    errors: Sequence[FieldError] | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json answer; `status` overrides the type's own only for HTTP_ERROR (any other status)."""
    title = problem.title
    if status is not None and status != problem.status:
        title = _phrase(status)
    status = status if status is not None else problem.status
    body: dict[str, Any] = {
        "type": problem.uri,
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


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


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
        exc.problem,
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
    return problem_response(problems.VALIDATION_ERROR, detail, instance=_instance(request), errors=errors)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    phrase = _phrase(status)
    problem = problems.BY_HTTP_STATUS.get(status, problems.HTTP_ERROR)
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    if status == 400 and detail == "There was an error parsing the body":
        return problem_response(
            problems.VALIDATION_ERROR, "The request body could not be parsed.", instance=_instance(request)
        )
    return problem_response(
        problem, detail, status=status, instance=_instance(request), headers=getattr(exc, "headers", None)
    )


async def _on_integrity(request: Request, exc: Exception) -> JSONResponse:
    # Reached only when a service did not translate a constraint violation itself; never leak SQL.
    constraint = constraint_name(exc) if isinstance(exc, IntegrityError) else None
    logger.warning("unhandled integrity error", extra={"constraint": constraint})
    return problem_response(
        problems.CONFLICT,
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
            problems.VALIDATION_ERROR, "A value was rejected as invalid.", instance=_instance(request)
        )
    if state.startswith("23"):
        return await _on_integrity(request, exc)
    raise exc


def constraint_name(exc: IntegrityError) -> str | None:
    """The name of the violated constraint or index (asyncpg reports it on the original error)."""
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        name = getattr(candidate, "constraint_name", None)
        if isinstance(name, str):
            return name
    return None


class AnswerNow(Exception):
    """Raised by a dependency that already has the answer (an idempotent replay, `core.idempotency`): the request's
    session commits what was recorded on the way (a read in the audit trail), and `response` is sent as is."""

    def __init__(self, response: Response) -> None:
        super().__init__("answered by a dependency")
        self.response = response


async def _on_answer(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, AnswerNow)
    return exc.response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AnswerNow, _on_answer)
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(IntegrityError, _on_integrity)
    app.add_exception_handler(DBAPIError, _on_dbapi_error)


PROBLEM_TYPES_KEY = "x-problem-types"


def problem_responses(*types: ProblemType) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem types a route raises itself, grouped by status.

    The authentication, role, validation and body-size types every route may answer with are added by the OpenAPI
    hook; a route names the others (404, 409 with its slugs, 412/428 through the If-Match dependency, …)."""
    out: dict[int | str, dict[str, Any]] = {}
    for declared in types:
        entry = out.setdefault(declared.status, {"description": _phrase(declared.status), PROBLEM_TYPES_KEY: []})
        if declared.slug not in entry[PROBLEM_TYPES_KEY]:
            entry[PROBLEM_TYPES_KEY].append(declared.slug)
    return out
