"""The one pure ASGI middleware of every HTTP request: metrics, request id + access log, HTTP conformance, NUL
bytes in URLs, body size cap (`HttpMiddleware`)."""

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
from toit_emploi_api.core.metrics import Metrics, route_template
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


# --- HTTP conformance -------------------------------------------------------------------------------------------
NO_STORE = "no-store"
API_PREFIX = "/api/"


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): `W/"3"` matches `"3"`; `*` matches any current representation."""
    candidates = {c.strip().removeprefix("W/") for c in if_none_match.split(",")}
    return "*" in candidates or etag.removeprefix("W/") in candidates


class HttpMiddleware:
    """Every HTTP answer's rules, in ONE pure ASGI layer (one call and one `send` wrapper per request, one parse of
    the headers; five layers before, measured in docs/performance.md). From the outside in:

    1. **Metrics** (`core.metrics`): every answer counted with its final status and route template.
    2. **Request id and access line**: a well-formed incoming `X-Request-ID` is kept, else one is made; it is echoed
       on every answer and set for the logs; one access line (method, path, status, duration; never the query
       string, which may carry names). The last line of defence: an error no handler answered is a bare 500 problem
       quoting the request id (a lost database: 503 `database-unavailable`); these two answers skip step 3.
    3. **HTTP conformance**, for every route whoever wrote it:
       - a **405** lists in `Allow` every method the path supports (Starlette lists only the first route's);
       - a `GET` whose `If-None-Match` matches the answer's `ETag` is a **304** without body (conditional GET);
       - a **HEAD** is answered as the GET of the same URL (status and headers, `Content-Length` included, the same
         checks, audit and rate limits), without its body (FastAPI routes answer GET only);
       - every answer under `/api/` carries `Cache-Control: no-store` unless the route set its own (the answers carry
         personal data, tokens or data scoped to the caller: no shared or browser cache may keep them).
    4. **URL safety**: a NUL byte in the path or query string is a 422, before it can reach PostgreSQL.
    5. **Body cap**: 413 problem+json, by `Content-Length` up front and by counting streamed bytes.
    """

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int], metrics: Metrics | None = None) -> None:
        self.app = app
        self.limit_for = limit_for
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers: Mapping[bytes, bytes] = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        id_header = (b"x-request-id", request_id.encode())
        token = _request_id.set(request_id)
        method, path = scope["method"], scope["path"]
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), id_header]}
            await send(message)

        try:
            try:
                await self._conformant(scope, headers, receive, send_with_id)
            except Exception as exc:
                if is_database_unavailable(exc):
                    # A lost connection surfacing outside the routes' handlers (e.g. while committing): still a 503.
                    error_log.warning("database unavailable", extra={"error_class": type(exc).__name__})
                    if not response_started:
                        await database_unavailable_response(path)(scope, receive, send_with_id)
                    return
                # The last line of defence: log with the request id (no request data), answer a bare 500 problem.
                error_log.exception("unhandled error", extra={"error_class": type(exc).__name__})
                if not response_started:
                    await _send_problem(
                        send_with_id,
                        problems.INTERNAL_ERROR,
                        f"An unexpected error occurred. Quote request id {request_id} to the support team.",
                        path,
                    )
            finally:
                access_log.info(
                    "%s %s %s",
                    method,
                    path,
                    status,
                    extra={
                        "method": method,
                        "path": path,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
                _request_id.reset(token)
        except Exception as exc:  # the last-resort answer itself failed (the client gone): counted, not hidden
            status = 503 if is_database_unavailable(exc) else 500
            raise
        finally:
            if self.metrics is not None:
                self.metrics.observe(method, route_template(scope), status, time.perf_counter() - started)
                if self.metrics.multiprocess:
                    self.metrics.update_pool()

    async def _conformant(self, scope: Scope, headers: Mapping[bytes, bytes], receive: Receive, send: Send) -> None:
        """Steps 3 to 5 (see the class)."""
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        if_none_match = headers.get(b"if-none-match", b"").decode("latin-1").strip()
        conditional = scope["method"] == "GET" and bool(if_none_match)
        api = scope["path"].startswith(API_PREFIX)
        not_modified = False

        async def send_conformant(message: Message) -> None:
            nonlocal not_modified
            if message["type"] == "http.response.start":
                status = message["status"]
                answer_headers = list(message.get("headers", []))
                if status == 405:
                    allow = ", ".join(path_methods(scope["app"], scope)).encode()
                    answer_headers = [(k, v) for k, v in answer_headers if k.lower() != b"allow"] + [(b"allow", allow)]
                if api and all(k.lower() != b"cache-control" for k, _ in answer_headers):
                    answer_headers.append((b"cache-control", NO_STORE.encode()))
                if conditional and status == 200:
                    etag = next((v.decode("latin-1") for k, v in answer_headers if k.lower() == b"etag"), None)
                    if etag and _etag_matches(if_none_match, etag):
                        not_modified = True
                        kept = {b"etag", b"cache-control", b"vary", b"x-request-id", b"content-location"}
                        answer_headers = [(k, v) for k, v in answer_headers if k.lower() in kept]
                        await send({"type": "http.response.start", "status": 304, "headers": answer_headers})
                        return
                message = {**message, "headers": answer_headers}
            elif message["type"] == "http.response.body" and (not_modified or head):
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        # URL safety.
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        if b"\x00" in unquote_to_bytes(raw_path) or b"\x00" in unquote_to_bytes(query.replace(b"+", b" ")):
            await _send_problem(
                send_conformant, problems.VALIDATION_ERROR, "URL must not contain NUL characters.", scope["path"]
            )
            return
        # Body cap.
        limit = self.limit_for(scope["path"])
        declared = headers.get(b"content-length")
        detail = f"The request body exceeds the limit of {limit} bytes."
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await _send_problem(send_conformant, problems.PAYLOAD_TOO_LARGE, detail, scope["path"])
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
                await _send_problem(send_conformant, problems.PAYLOAD_TOO_LARGE, detail, scope["path"])
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

        await self.app(scope, replay, send_conformant)
