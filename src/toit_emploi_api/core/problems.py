"""Declared problem types (RFC 9457 `type`): a slug in kebab-case, a title and a status, in one registry.

Every problem the API answers with has a declared type; the OpenAPI document publishes the registry and names,
for each operation, the types its error responses carry. The foundation's own types are declared here; the
domains' types are declared in `toit_emploi_api.vocab.problems`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROBLEM_BASE = "urn:toit-emploi:problem:"
_SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_REGISTRY: dict[str, ProblemType] = {}


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    title: str
    status: int

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


def problem_type(slug: str, title: str, status: int) -> ProblemType:
    """Declare (and register) a problem type; a slug is declared once, in kebab-case."""
    if not _SLUG.match(slug):
        raise ValueError(f"problem slug {slug!r} is not kebab-case")
    if slug in _REGISTRY:
        raise ValueError(f"problem slug {slug!r} is declared twice")
    if not 400 <= status <= 599:
        raise ValueError(f"problem {slug!r}: status {status} is not an error status")
    declared = ProblemType(slug, title, status)
    _REGISTRY[slug] = declared
    return declared


def registered() -> list[ProblemType]:
    """Every declared problem type, by status then slug."""
    return sorted(_REGISTRY.values(), key=lambda p: (p.status, p.slug))


# --- the foundation's own types --------------------------------------------------------------------------------
BAD_REQUEST = problem_type("bad-request", "Bad request", 400)
UNAUTHORIZED = problem_type("unauthorized", "Authentication required", 401)
FORBIDDEN = problem_type("forbidden", "Forbidden", 403)
NOT_FOUND = problem_type("not-found", "Not found", 404)
METHOD_NOT_ALLOWED = problem_type("method-not-allowed", "Method not allowed", 405)
CONFLICT = problem_type("conflict", "Conflict", 409)
PRECONDITION_FAILED = problem_type("precondition-failed", "Precondition failed", 412)
PAYLOAD_TOO_LARGE = problem_type("payload-too-large", "Payload too large", 413)
UNSUPPORTED_MEDIA_TYPE = problem_type("unsupported-media-type", "Unsupported media type", 415)
VALIDATION_ERROR = problem_type("validation-error", "Invalid request", 422)
PRECONDITION_REQUIRED = problem_type("precondition-required", "Precondition required", 428)
TOO_MANY_REQUESTS = problem_type("too-many-requests", "Too many requests", 429)
INTERNAL_ERROR = problem_type("internal-error", "Internal server error", 500)
NOT_READY = problem_type("not-ready", "Service unavailable", 503)
DATABASE_UNAVAILABLE = problem_type("database-unavailable", "Database unavailable", 503)
"""The database is unreachable for a moment (restart, failover, no free connection): retry after `Retry-After`."""
TRANSACTION_CONFLICT = problem_type("transaction-conflict", "Concurrent transaction conflict", 503)
"""PostgreSQL cancelled this request's transaction to break a deadlock or a serialization conflict with another
request: nothing was changed; the same request sent again after `Retry-After` normally succeeds."""
HTTP_ERROR = problem_type("http-error", "HTTP error", 400)
"""Any other status the HTTP layer itself answers with (the status of the answer tells which)."""

BY_HTTP_STATUS: dict[int, ProblemType] = {
    p.status: p
    for p in (
        BAD_REQUEST,
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        PAYLOAD_TOO_LARGE,
        UNSUPPORTED_MEDIA_TYPE,
        VALIDATION_ERROR,
    )
}
"""The type of a problem raised by the HTTP layer (routing, body parsing) for its status."""

IDEMPOTENCY_KEY_REUSED = problem_type("idempotency-key-reused", "Idempotency-Key reused", 422)
IDEMPOTENCY_KEY_IN_PROGRESS = problem_type("idempotency-key-in-progress", "Idempotency-Key in progress", 409)
