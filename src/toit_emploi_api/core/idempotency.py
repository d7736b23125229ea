"""Idempotency-Key support for POST endpoints, stored in PostgreSQL (reusable by every domain).

Usage in a route (see ``households/router.py``)::

    claim = await idempotency.claim(session, principal, key, request, ttl_hours=settings.idempotency_ttl_hours)
    if claim.replay is not None:
        return claim.replay                      # the first response, with ``Idempotent-Replayed: true``
                                                 # (or re-render claim.stored_body for the current caller)
    ... do the work, build ``body`` ...
    await claim.store(session, status=201, body=body, headers={"Location": ...})

Rules:

* A key belongs to one caller (principal kind + id); two callers may use the same key independently.
* Same caller + key + same request (method, path, canonical JSON body) → the first response is replayed
  (status, body, stored headers) and nothing is executed again.
* Same caller + key + another request → 422 ``idempotency-key-reused``.
* The claim and the stored response are written in the request's own transaction: a request that fails
  leaves no key behind, so the client may retry it. Concurrent first uses of one key queue on the table's
  primary key (``INSERT ... ON CONFLICT``) and the row lock; the later ones replay the first response.
* Keys are kept at least ``ttl_hours`` (>= 24); expired rows are purged opportunistically by later claims,
  and an expired key may be used again as a new one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete, func, null, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.errors import FieldError, ProblemError
from toit_emploi_api.core.idempotency_models import IDEMPOTENCY_KEY_MAX_LENGTH, IdempotencyKey
from toit_emploi_api.core.problems import IDEMPOTENCY_KEY_IN_PROGRESS, IDEMPOTENCY_KEY_REUSED

__all__ = [
    "REPLAYED_HEADER",
    "Claim",
    "IdempotencyKeyHeader",
    "claim",
    "request_fingerprint",
]

REPLAYED_HEADER = "Idempotent-Replayed"
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
        return raw.decode("utf-8", errors="replace")
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_fingerprint(method: str, path: str, raw_body: bytes) -> str:
    """sha256 (hex) of the method, the path and the body as canonical JSON (key order and spacing ignored)."""
    material = "\n".join((method.upper(), path, _canonical_body(raw_body)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass
class Claim:
    """The outcome of :func:`claim`: either a response to replay, or the right to execute and then ``store``."""

    principal_kind: str
    principal_id: uuid.UUID
    key: str
    replay: JSONResponse | None = None
    # The stored first response, for endpoints that re-render it for the current caller instead of replaying
    # `replay` as is (see households/router.py). Set together with `replay`.
    stored_status: int | None = None
    stored_body: Any = None
    stored_headers: dict[str, str] = field(default_factory=dict)

    async def store(
        self, session: AsyncSession, *, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        """Record the response of the first execution (JSON-compatible body), in the request's transaction."""
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
    """Claim ``key`` for this caller and request, or find the response to replay.

    Raises a 422 ``idempotency-key-reused`` when the key was used by this caller for another request.
    """
    raw_body = await request.body()
    fingerprint = request_fingerprint(request.method, request.url.path, raw_body)
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
    result = Claim(principal_kind=principal.kind, principal_id=principal.id, key=key)
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
    result.stored_status = row.response_status
    result.stored_body = row.response_body
    result.stored_headers = dict(row.response_headers or {})
    headers = result.stored_headers | {REPLAYED_HEADER: "true"}
    result.replay = JSONResponse(content=row.response_body, status_code=row.response_status, headers=headers)
    return result
