"""Typed domain errors carrying their HTTP status, rendered as RFC 9457 problem+json by one set of handlers."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
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


# --- the database is unavailable: 503 `database-unavailable` with Retry-After ------------------------------------
RETRY_AFTER_SECONDS = 5
"""What a client is told to wait before retrying when the database is unavailable (a restart takes seconds)."""

# SQLSTATE class 08 (connection exception), 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now,
# 53300 too many connections: the server is going away or not accepting us yet, not the request's fault.
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03", "53300")
_CLOSED_MESSAGES = ("connection is closed", "connection was closed", "underlying connection is closed")
# asyncpg: "cannot switch to state 12; another operation (2) is in progress" (the number is the protocol state).
_LEFT_MID_OPERATION = re.compile(r"another operation( \(\d+\))? is in progress")


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, the driver errors SQLAlchemy wraps (`orig`) and their causes/contexts, each once."""
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack and len(seen) < 20:
        current = stack.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        orig = getattr(current, "orig", None)
        stack.extend([orig if isinstance(orig, BaseException) else None, current.__cause__, current.__context__])
    return seen


_DRIVER_PATHS = ("/sqlalchemy/", "/asyncpg/")


def _raised_by_database_code(error: BaseException) -> bool:
    """Whether the error went through SQLAlchemy's or asyncpg's code (a socket error while connecting or talking
    to PostgreSQL), rather than, say, a file the application could not read."""
    tb = error.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if any(part in filename for part in _DRIVER_PATHS):
            return True
        tb = tb.tb_next
    return False


def is_database_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database cannot be reached right now (connection refused or lost, server
    shutting down or starting, pool exhausted), as opposed to a refusal of this request's SQL or data."""
    for error in _chain(exc):
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, PoolTimeoutError):
            return True
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(code, str) and (code.startswith("08") or code in _UNAVAILABLE_STATES):
            return True
        name = type(error).__name__
        if name in ("ConnectionDoesNotExistError", "ConnectionFailureError", "ClientCannotConnectError"):
            return True
        if name == "InterfaceError" and any(m in str(error) for m in _CLOSED_MESSAGES):
            return True
        # A pooled connection left mid-operation by an interrupted request (seen while the server restarts): this
        # request's statement was not sent; the connection is thrown away and a retry gets a sound one.
        if name == "InternalClientError" and _LEFT_MID_OPERATION.search(str(error)):
            return True
        # Refused, reset, a missing socket, a connect timeout (TimeoutError is an OSError), raised by the driver.
        if isinstance(error, OSError) and _raised_by_database_code(error):
            return True
    return False


# SQLSTATE 40P01 deadlock detected, 40001 serialization failure: PostgreSQL rolled this transaction back because
# of another one; the request did nothing and is safe to send again.
_TRANSIENT_CONFLICT_STATES = ("40P01", "40001")
TRANSACTION_RETRY_AFTER_SECONDS = 1


def is_transient_conflict(exc: BaseException) -> bool:
    """True when PostgreSQL cancelled the transaction to break a deadlock or a serialization conflict."""
    for error in _chain(exc):
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if code in _TRANSIENT_CONFLICT_STATES:
            return True
    return False


def _transaction_conflict_response(request: Request) -> JSONResponse:
    return problem_response(
        problems.TRANSACTION_CONFLICT,
        "Another request changed the same records at the same moment; nothing was changed. Send the request again.",
        instance=_instance(request),
        headers={"Retry-After": str(TRANSACTION_RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
    )


def database_unavailable_response(instance: str | None) -> JSONResponse:
    return problem_response(
        problems.DATABASE_UNAVAILABLE,
        f"The database is unavailable for a moment; nothing was changed. Retry after {RETRY_AFTER_SECONDS} seconds.",
        instance=instance,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
    )


async def _on_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Database errors that are not the request's fault. Anything else not handled stays a real 500."""
    if is_transient_conflict(exc):
        return _transaction_conflict_response(request)
    if is_database_unavailable(exc):
        logger.warning("database unavailable", extra={"error_class": type(exc).__name__})
        return database_unavailable_response(_instance(request))
    raise exc


def _sqlstate(exc: BaseException) -> str:
    """The PostgreSQL SQLSTATE behind a SQLAlchemy error (asyncpg keeps it on the driver exception)."""
    orig = getattr(exc, "orig", None)
    for candidate in (exc, orig, getattr(orig, "__cause__", None)):  # `exc` itself: the driver's own error
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return ""


async def _on_dbapi_error(request: Request, exc: Exception) -> JSONResponse:
    """Safety net for database refusals a service did not translate, wrapped by SQLAlchemy or the driver's own.
    Class 22 (data exception: too long, out of range, NUL) is the client's value: 422. Class 23 (integrity): 409.
    A deadlock: 503 `transaction-conflict`. A lost or refused connection: 503. Anything else stays a real 500."""
    if is_database_unavailable(exc):
        return await _on_unavailable(request, exc)
    if is_transient_conflict(exc):
        logger.warning("transaction cancelled by a concurrent one", extra={"sqlstate": _sqlstate(exc)})
        return _transaction_conflict_response(request)
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
    # Unwrapped driver and socket errors (raised while connecting) and the pool's checkout timeout.
    app.add_exception_handler(PoolTimeoutError, _on_unavailable)
    app.add_exception_handler(OSError, _on_unavailable)
    try:
        import asyncpg  # type: ignore[import-untyped]

        # The driver's own refusals (the session-less reads of core.database.Database): the same rules as above.
        app.add_exception_handler(asyncpg.PostgresError, _on_dbapi_error)
        app.add_exception_handler(asyncpg.InterfaceError, _on_unavailable)
        app.add_exception_handler(asyncpg.exceptions._base.InternalClientError, _on_unavailable)
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        pass


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
