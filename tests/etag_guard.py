"""The test client's check of the `answers_etag` mark: every answer that carries an ETag (a 2xx, or the 304 of a
conditional GET) must come from a route marked `answers_etag`, the mark the OpenAPI document reads to publish the
ETag header, `If-None-Match` and the 304. Every test that calls the API through the `client` fixture checks it."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toit_emploi_api.core.resources import is_etag_marked


class UnmarkedETagError(AssertionError):
    """A route answered an ETag without the `answers_etag` mark: the OpenAPI document does not say it does."""


class ETagMarkGuard:
    """An ASGI wrapper around the app that raises `UnmarkedETagError` when an unmarked route answers an ETag."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        unmarked: list[str] = []

        async def checked(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                has_etag = any(name.lower() == b"etag" for name, _ in message.get("headers", []))
                route: Any = scope.get("route")
                answered = has_etag and (200 <= status < 300 or status == 304) and route is not None
                if answered and not is_etag_marked(getattr(route, "endpoint", None)):
                    unmarked.append(f"{scope['method']} {getattr(route, 'path', scope['path'])} answered {status}")
            await send(message)

        # Raised once the answer is sent: an exception inside `send` would be caught by the app's own middlewares.
        await self.app(scope, receive, checked)
        if unmarked:
            raise UnmarkedETagError(
                f"{unmarked[0]} with an ETag but its route is not marked @answers_etag (core.resources): the OpenAPI "
                "document would not publish its ETag, If-None-Match and 304."
            )
