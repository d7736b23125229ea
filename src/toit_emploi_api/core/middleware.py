"""Pure ASGI middleware: request id + access log, body size cap, NUL bytes in URLs."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toit_emploi_api.core import problems
from toit_emploi_api.core.errors import PROBLEM_JSON, database_unavailable_response, is_database_unavailable
from toit_emploi_api.core.problems import ProblemType
from toit_emploi_api.core.request_context import _request_id
from toit_emploi_api.core.request_rules import path_methods

access_log = logging.getLogger("toit_emploi_api.access")
error_log = logging.getLogger("toit_emploi_api.errors")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


async def _send_problem(send: Send, problem: ProblemType, detail: str, path: str) -> None:
    status = problem.status
    body = json.dumps(
        {"type": problem.uri, "title": problem.title, "status": status, "detail": detail, "instance": path}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _HttpMiddleware:
    """A pure ASGI middleware that acts on HTTP requests only: lifespan and websocket scopes pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request (and pass it on to `self.app`)."""
        raise NotImplementedError


class RequestContextMiddleware(_HttpMiddleware):
    """Assigns a request id (or keeps a well-formed incoming X-Request-ID), echoes it, logs one access line.

    The access line holds method, path, status and duration; never the query string, which may carry names.
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if is_database_unavailable(exc):
                # A lost connection surfacing outside the routes' handlers (e.g. while committing): still a 503.
                error_log.warning("database unavailable", extra={"error_class": type(exc).__name__})
                if not response_started:
                    await database_unavailable_response(scope["path"])(scope, receive, send_with_id)
                return
            # The last line of defence: log with the request id (no request data), answer a bare 500 problem.
            error_log.exception("unhandled error", extra={"error_class": type(exc).__name__})
            if not response_started:
                await _send_problem(
                    send_with_id,
                    problems.INTERNAL_ERROR,
                    f"An unexpected error occurred. Quote request id {request_id} to the support team.",
                    scope["path"],
                )
        finally:
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status_holder["status"],
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_holder["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            _request_id.reset(token)


class UrlSafetyMiddleware(_HttpMiddleware):
    """A NUL byte in the path or query string is a 422, before it can reach PostgreSQL."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        if b"\x00" in unquote_to_bytes(raw_path) or b"\x00" in unquote_to_bytes(query.replace(b"+", b" ")):
            await _send_problem(send, problems.VALIDATION_ERROR, "URL must not contain NUL characters.", scope["path"])
            return
        await self.app(scope, receive, send)


class BodySizeLimitMiddleware(_HttpMiddleware):
    """Caps request bodies (413 problem+json), by Content-Length up front and by counting streamed bytes."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        super().__init__(app)
        self.limit_for = limit_for

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope["path"])
        headers: Mapping[bytes, bytes] = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        detail = f"The request body exceeds the limit of {limit} bytes."
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await _send_problem(send, problems.PAYLOAD_TOO_LARGE, detail, scope["path"])
                return
        # Read the body here (the app would read it whole anyway), so an oversized stream is refused before
        # the app sees it; then replay it.
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                if message["type"] == "http.disconnect":
                    return
                continue
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await _send_problem(send, problems.PAYLOAD_TOO_LARGE, detail, scope["path"])
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# --- HTTP conformance -------------------------------------------------------------------------------------------
NO_STORE = "no-store"
API_PREFIX = "/api/"


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): `W/"3"` matches `"3"`; `*` matches any current representation."""
    candidates = {c.strip().removeprefix("W/") for c in if_none_match.split(",")}
    return "*" in candidates or etag.removeprefix("W/") in candidates


class HttpConformanceMiddleware(_HttpMiddleware):
    """What HTTP asks of every answer, for every route whoever wrote it:

    - a **405** lists in `Allow` every method the path supports (Starlette lists only the first route's);
    - a `GET` whose `If-None-Match` matches the answer's `ETag` is a **304** without body (conditional GET);
    - every answer under `/api/` carries `Cache-Control: no-store` unless the route set its own (the answers carry
      personal data, tokens or data scoped to the caller: no shared or browser cache may keep them).
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_headers: Mapping[bytes, bytes] = dict(scope.get("headers") or [])
        if_none_match = request_headers.get(b"if-none-match", b"").decode("latin-1").strip()
        conditional = scope["method"] in ("GET", "HEAD") and bool(if_none_match)
        api = scope["path"].startswith(API_PREFIX)
        not_modified = False

        async def send_conformant(message: Message) -> None:
            nonlocal not_modified
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", [])]
                names = {k.lower() for k, _ in headers}
                if status == 405:
                    allow = ", ".join(path_methods(scope["app"], scope)).encode()
                    headers = [(k, v) for k, v in headers if k.lower() != b"allow"] + [(b"allow", allow)]
                if api and b"cache-control" not in names:
                    headers.append((b"cache-control", NO_STORE.encode()))
                if conditional and status == 200:
                    etag = next((v.decode("latin-1") for k, v in headers if k.lower() == b"etag"), None)
                    if etag and _etag_matches(if_none_match, etag):
                        not_modified = True
                        kept = {b"etag", b"cache-control", b"vary", b"x-request-id", b"content-location"}
                        headers = [(k, v) for k, v in headers if k.lower() in kept]
                        await send({"type": "http.response.start", "status": 304, "headers": headers})
                        return
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and not_modified:
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app(scope, receive, send_conformant)
