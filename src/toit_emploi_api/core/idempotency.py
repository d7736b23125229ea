"""Idempotency-Key on every POST that creates or changes something: one mechanism, applied declaratively.

A route declares it with one line, the :func:`idempotent` decorator under its ``@router.post(...)``::

    @router.post("/employers", status_code=201, response_model=EmployerOut)
    @idempotent
    async def employers_create(...) -> EmployerOut: ...

The decorator adds the optional ``Idempotency-Key`` header to the route (so the OpenAPI document declares it),
marks the endpoint (``IDEMPOTENT_MARK``: the OpenAPI hook adds the ``Idempotent-Replayed`` response header and the
``idempotency-key-reused`` problem type; ``tests/foundation/test_idempotency_everywhere.py`` fails on a POST route
without it) and, when a key is sent, wraps the endpoint: claim the key, run the endpoint, store its answer.

Rules:

* A key belongs to one caller (principal kind + id, from the authenticated principal); two callers may use the
  same key independently.
* Same caller + key + same request (method, path, query string, canonical JSON body) → the first response is
  replayed (status, body, ``Location`` and ``ETag``) with ``Idempotent-Replayed: true``, and the endpoint does not
  run again. A route may re-render the replay for the caller as of now (``@idempotent(replay=...)``,
  ``POST /households``).
* Same caller + key + another request → 422 ``idempotency-key-reused``.
* The claim and the stored response are written in the request's own transaction: a request that fails
  leaves no key behind, so the client may retry it. Concurrent first uses of one key queue on the table's
  primary key (``INSERT ... ON CONFLICT``) and the row lock; the later ones replay the first response.
  The route's loaders (``LockedHousehold`` ...) run before the claim, so locks are always taken in one order.
* Keys are kept at least ``ttl_hours`` (>= 24); expired rows are purged opportunistically by later claims,
  and an expired key may be used again as a new one.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol, TypeVar, overload

from fastapi import Depends, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, serialize_response
from sqlalchemy import delete, func, null, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import AnswerNow, FieldError, ProblemError
from toit_emploi_api.core.idempotency_models import IDEMPOTENCY_KEY_MAX_LENGTH, IdempotencyKey
from toit_emploi_api.core.problems import IDEMPOTENCY_KEY_IN_PROGRESS, IDEMPOTENCY_KEY_REUSED
from toit_emploi_api.core.routes import POLICY_ATTRIBUTE

__all__ = [
    "IDEMPOTENT_MARK",
    "REPLAYED_HEADER",
    "Claim",
    "IdempotencyKeyHeader",
    "Stored",
    "claim",
    "idempotent",
    "is_idempotent",
    "request_fingerprint",
]

REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENT_MARK = "__toit_idempotent__"
"""Set on an endpoint wrapped by :func:`idempotent`: the OpenAPI hook and the route test look for it."""
_STORED_HEADERS = ("Location", "ETag")
_PURGE_BATCH = 500

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Optional, 1-200 printable ASCII characters (e.g. a UUID). Retrying with the same key and body replays "
            "the first response (header `Idempotent-Replayed: true`) without doing anything again; the same key "
            "with another body is a 422. Keys are kept at least 24 hours per caller."
        ),
    ),
]


class _Caller(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def id(self) -> uuid.UUID: ...


def _canonical_body(raw: bytes) -> str:
    if not raw.strip():
        return ""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return hashlib.sha256(raw).hexdigest()  # CSV and other bodies: their exact bytes
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_fingerprint(method: str, path: str, raw_body: bytes, query: str = "") -> str:
    """sha256 (hex) of the method, the path (with its query string) and the body as canonical JSON (key order and
    spacing ignored; other bodies by their bytes)."""
    target = f"{path}?{query}" if query else path
    material = "\n".join((method.upper(), target, _canonical_body(raw_body)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Stored:
    """The first response to a key: what a replay answers."""

    status: int
    body: Any
    headers: dict[str, str]

    def response(self) -> Response:
        """The first response again, with `Idempotent-Replayed: true`."""
        headers = self.headers | {REPLAYED_HEADER: "true"}
        if self.body is None:
            return Response(status_code=self.status, headers=headers)
        return JSONResponse(content=self.body, status_code=self.status, headers=headers)


@dataclass
class Claim:
    """The outcome of :func:`claim`: either the stored first response, or the right to execute and then `store`."""

    principal_kind: str
    principal_id: uuid.UUID
    key: str
    stored: Stored | None = None
    session: AsyncSession | None = None
    request: Request | None = None

    async def store(
        self, session: AsyncSession | None, *, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        """Record the response of the first execution (JSON-compatible body), in the request's transaction."""
        session = session or self.session
        assert session is not None
        await session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.principal_kind == self.principal_kind,
                IdempotencyKey.principal_id == self.principal_id,
                IdempotencyKey.key == self.key,
            )
            .values(response_status=status, response_body=body, response_headers=headers or {})
        )


async def _purge_expired(session: AsyncSession, cutoff: datetime) -> None:
    # SKIP LOCKED: never wait for (nor fight over) rows another transaction is using.
    expired = (
        select(IdempotencyKey.principal_kind, IdempotencyKey.principal_id, IdempotencyKey.key)
        .where(IdempotencyKey.created_at < cutoff)
        .limit(_PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        delete(IdempotencyKey).where(
            tuple_(IdempotencyKey.principal_kind, IdempotencyKey.principal_id, IdempotencyKey.key).in_(expired)
        )
    )


async def claim(
    session: AsyncSession,
    principal: _Caller,
    key: str,
    request: Request,
    *,
    ttl_hours: int,
) -> Claim:
    """Claim ``key`` for this caller and request, or find the response to replay (``Claim.stored``).

    Raises a 422 ``idempotency-key-reused`` when the key was used by this caller for another request.
    """
    raw_body = await request.body()
    fingerprint = request_fingerprint(request.method, request.url.path, raw_body, request.url.query)
    cutoff = datetime.now(UTC) - timedelta(hours=ttl_hours)
    await _purge_expired(session, cutoff)

    stmt = insert(IdempotencyKey).values(
        principal_kind=principal.kind, principal_id=principal.id, key=key, request_fingerprint=fingerprint
    )
    # A new key is inserted; an expired one is taken over; a live one is left alone (but locked by PostgreSQL).
    # A concurrent first use waits here until the other transaction commits or rolls back.
    upsert = stmt.on_conflict_do_update(
        constraint="pk_idempotency_keys",
        set_={
            "request_fingerprint": stmt.excluded.request_fingerprint,
            "response_status": null(),
            "response_body": null(),
            "response_headers": null(),
            "created_at": func.now(),
        },
        where=IdempotencyKey.created_at < cutoff,
    ).returning(IdempotencyKey.key)
    result = Claim(principal_kind=principal.kind, principal_id=principal.id, key=key, session=session)
    if (await session.execute(upsert)).first() is not None:
        return result

    row = (
        await session.execute(
            select(IdempotencyKey)
            .where(
                IdempotencyKey.principal_kind == principal.kind,
                IdempotencyKey.principal_id == principal.id,
                IdempotencyKey.key == key,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if row.request_fingerprint != fingerprint:
        raise ProblemError(
            IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key was already used for a different request; use a new key for a new request.",
            errors=[FieldError(field="Idempotency-Key", message="already used with a different request")],
        )
    if row.response_status is None:  # pragma: no cover - the first use commits its response with its claim
        raise ProblemError(
            IDEMPOTENCY_KEY_IN_PROGRESS,
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        )
    result.stored = Stored(row.response_status, row.response_body, dict(row.response_headers or {}))
    return result


# --- the declarative wrapper -------------------------------------------------------------------------------------
Replay = Callable[[AsyncSession, Any, Stored], Awaitable[Response]]
"""A route's own replay: (session, principal, the stored first response) → the answer (e.g. the object as the
caller may see it now, recorded as a read). It should keep the first status and add `Idempotent-Replayed`."""

_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])
_CLAIM, _RESPONSE = "idempotency_claim", "idempotency_response"


def _param_of(signature: inspect.Signature, kind: type) -> str | None:
    """The name of the endpoint's own `Response` parameter: FastAPI fills only one."""
    for name, parameter in signature.parameters.items():
        if isinstance(parameter.annotation, type) and issubclass(parameter.annotation, kind):
            return name
    return None


def _after_policy(signature: inspect.Signature, name: str) -> int:
    """Where the claim goes: right after the route's policy (the authenticated caller is known), before any loader
    (a retried cancel must replay, not find that the allocation it cancelled is gone). The policy must be a
    parameter (`principal: WriterDep`), not in `dependencies=[...]`: keys belong to a caller."""
    for index, parameter in enumerate(signature.parameters.values()):
        for meta in getattr(parameter.annotation, "__metadata__", ()):
            if getattr(getattr(meta, "dependency", None), POLICY_ATTRIBUTE, None) is not None:
                return index + 1
    raise TypeError(f"{name}: @idempotent needs the route's policy (authorize(...)) as a parameter")


def is_idempotent(endpoint: object) -> bool:
    """True when the endpoint was declared with :func:`idempotent`."""
    return bool(getattr(endpoint, IDEMPOTENT_MARK, False))


def original_endpoint(endpoint: Any) -> Any:
    """The route's own function behind the wrapper of :func:`idempotent` (for tools that read its source)."""
    return getattr(endpoint, "__toit_endpoint__", endpoint)


def _claim_dependency(replay: Replay | None) -> Callable[..., Awaitable[Claim | None]]:
    async def claim_key(request: Request, session: SessionDep, key: IdempotencyKeyHeader = None) -> Claim | None:
        if key is None:
            return None
        principal = getattr(request.state, "principal", None)
        if principal is None:  # pragma: no cover - a programming error, caught by the tests of every POST
            raise RuntimeError("@idempotent: the route's policy must authenticate the caller (authorize(...))")
        ttl_hours: int = request.app.state.settings.idempotency_ttl_hours
        claimed = await claim(session, principal, key, request, ttl_hours=ttl_hours)
        if claimed.stored is None:
            claimed.request = request
            return claimed
        answer = claimed.stored.response() if replay is None else await replay(session, principal, claimed.stored)
        raise AnswerNow(answer)  # the endpoint and its loaders do not run; the session keeps what replay recorded

    return claim_key


async def _first_response(request: Request, sub_response: Response, result: Any) -> Stored:
    """The status, JSON body and stored headers the route is about to answer with (as FastAPI serialises it)."""
    if isinstance(result, Response):
        status, headers = result.status_code, result.headers
        raw = bytes(result.body) if hasattr(result, "body") else b""
        body = json.loads(raw) if raw and "json" in (result.media_type or "") else None
    else:
        route = request.scope.get("route")
        status = sub_response.status_code or (route.status_code if isinstance(route, APIRoute) else None) or 200
        headers = sub_response.headers
        if isinstance(route, APIRoute):
            body = await serialize_response(
                field=route.response_field,
                response_content=result,
                by_alias=route.response_model_by_alias,
                exclude_unset=route.response_model_exclude_unset,
                exclude_defaults=route.response_model_exclude_defaults,
                exclude_none=route.response_model_exclude_none,
            )
        else:  # pragma: no cover - every API route is an APIRoute
            body = jsonable_encoder(result)
    kept = {name: headers[name] for name in _STORED_HEADERS if name in headers}
    return Stored(status, body, kept)


@overload
def idempotent(endpoint: _F, /) -> _F: ...
@overload
def idempotent(*, replay: Replay | None = None) -> Callable[[_F], _F]: ...
def idempotent(endpoint: _F | None = None, /, *, replay: Replay | None = None) -> _F | Callable[[_F], _F]:
    """Declare a POST route idempotent (see the module's docstring). Put it under ``@router.post(...)``."""

    def decorate(fn: _F) -> _F:
        signature = inspect.signature(fn, eval_str=True)
        clash = {_CLAIM, _RESPONSE} & set(signature.parameters)
        if clash:  # pragma: no cover - a programming error
            raise TypeError(f"{fn.__name__}: parameter names reserved by @idempotent: {sorted(clash)}")
        own_response = _param_of(signature, Response)
        keyword = inspect.Parameter.KEYWORD_ONLY
        positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params = list(signature.parameters.values())
        at = _after_policy(signature, fn.__name__)
        kind: inspect._ParameterKind = positional
        if any(p.default is not inspect.Parameter.empty or p.kind is not positional for p in params[:at]):
            at, kind = len(params), keyword  # pragma: no cover - policies come first, without defaults
        annotation = Annotated[Claim | None, Depends(_claim_dependency(replay))]
        params.insert(at, inspect.Parameter(_CLAIM, kind, annotation=annotation))
        if own_response is None:
            params.append(inspect.Parameter(_RESPONSE, keyword, annotation=Response))

        @functools.wraps(fn)
        async def wrapper(**values: Any) -> Any:
            claimed: Claim | None = values.pop(_CLAIM)
            sub_response: Response = values[own_response] if own_response else values.pop(_RESPONSE)
            result = await fn(**values)
            if claimed is not None and claimed.request is not None:
                first = await _first_response(claimed.request, sub_response, result)
                await claimed.store(claimed.session, status=first.status, body=first.body, headers=first.headers)
            return result

        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        del wrapper.__wrapped__  # FastAPI must read the signature above, not the endpoint's own
        setattr(wrapper, IDEMPOTENT_MARK, True)
        wrapper.__toit_endpoint__ = fn  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    if endpoint is not None:
        return decorate(endpoint)
    return decorate
