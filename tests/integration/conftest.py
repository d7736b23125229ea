"""Webhook tests: a real HTTP receiver on 127.0.0.1 (a thread of this process), the worker's loops run in the
test's event loop (or as a separate process), and the e2e helpers (`api`, `world`) to walk a household."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import Api, Caller, World, api, world  # noqa: F401 - the e2e fixtures, reused here
from toit_emploi_api import worker
from toit_emploi_api.core.settings import Settings

V1 = "/api/v1"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int | None = None  # None: the receiver did not answer (timeout)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A webhook receiver: records every request; answers from `script` (then 200). Script items: an HTTP status,
    "timeout" (answers after `slow_seconds`, too late), or "hang" (answers 200 once `release` is set)."""

    url: str
    script: list[int | str] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    slow_seconds: float = 3.0  # beyond the tests' 2 s webhook timeout (worker_settings)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every request body, each verified by the standardwebhooks library (raises on a bad signature)."""
        hook = Webhook(secret)
        return [dict(hook.verify(r.body, r.headers)) for r in self.requests]

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in arrival order."""
        return [r for r in self.requests if r.answered is not None and 200 <= r.answered < 300]

    def ids(self) -> list[str]:
        return [r.webhook_id for r in self.delivered()]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            record = Received({k.lower(): v for k, v in self.headers.items()}, body)
            with receiver.lock:
                action: int | str = receiver.script.pop(0) if receiver.script else 200
                receiver.requests.append(record)
            receiver.arrived.set()
            late = action in ("timeout", "hang")  # answered too late, or to a worker that died: not counted
            if action == "timeout":
                time.sleep(receiver.slow_seconds)
            elif action == "hang":
                receiver.release.wait(30)
            status = action if isinstance(action, int) else 200
            if not late:
                record.answered = status
            with contextlib.suppress(OSError):  # the worker gave up (timeout) or died
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

    return Handler


@contextlib.contextmanager
def serve_receiver(path: str = "/hooks", tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (`tls`: over HTTPS, at https://localhost:<port>)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Receiver(url="")))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme, host = ("https", "localhost") if tls else ("http", "127.0.0.1")
    receiver = Receiver(url=f"{scheme}://{host}:{server.server_address[1]}{path}")
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[Callable[[], Receiver]]:
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(serve_receiver())


@pytest.fixture
def receiver(receiver_factory: Callable[[], Receiver]) -> Receiver:
    return receiver_factory()


@pytest.fixture
def worker_settings(settings: Settings) -> Settings:
    """Fast retries and a short timeout, so that the tests wait for seconds, not hours. The timeout leaves room
    for the test process itself: the receiver is a thread of it, and a garbage collection or a busy machine can
    keep it from answering for a few hundred milliseconds (a 0.5 s timeout made the walk count an extra timeout)."""
    return settings.model_copy(
        update={
            "webhook_timeout_seconds": 2.0,
            "webhook_retry_base_seconds": 0.05,
            "webhook_retry_max_seconds": 0.2,
            "webhook_poll_seconds": 0.05,
        }
    )


class Worker:
    """The worker's loops as tasks of the test's event loop."""

    def __init__(self, maker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.maker, self.settings = maker, settings

    @contextlib.asynccontextmanager
    async def running(self, settings: Settings | None = None) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(settings or self.settings, stop, sessionmaker=self.maker))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)


@pytest.fixture
def background(sessionmaker: async_sessionmaker[AsyncSession], worker_settings: Settings) -> Worker:
    return Worker(sessionmaker, worker_settings)


async def eventually(check: Callable[[], bool], within: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def subscribe(
    client: AsyncClient, admin: Caller, organisation_id: str, url: str, event_types: list[str]
) -> dict[str, Any]:
    r = await client.post(
        f"{V1}/webhook-subscriptions",
        json={"organisation_id": organisation_id, "url": url, "event_types": event_types},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


__all__ = ["Api", "Caller", "Receiver", "Worker", "World", "eventually", "subscribe"]
