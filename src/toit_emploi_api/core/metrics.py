"""Prometheus metrics: requests by route template and status, their latency, and the database pool's usage.

- Labels use the route's *template* (`/api/v1/households/{household_id}`), never the concrete path (ids would make
  one series per household and could carry personal data); unmatched paths are `<unmatched>`.
- Each app has its own registry (tests create several apps in one process).
- Several workers: by default the numbers are per process (a scrape through a load balancer sees one worker).
  With `PROMETHEUS_MULTIPROC_DIR` set to an empty directory before the workers start, prometheus-client's
  multiprocess mode sums the workers' counters and histograms, and the pool gauges are summed over live workers
  (see docs/operations.md).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Scope

UNMATCHED = "<unmatched>"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The app's metrics and their registry."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # observe()'s labelled series
        self.multiprocess = multiprocess_dir() is not None
        # In multiprocess mode the values live in files (the registry only serves to render them).
        self.registry = CollectorRegistry(auto_describe=True)
        registry = None if self.multiprocess else self.registry
        self.requests = Counter(
            "toit_emploi_http_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "toit_emploi_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status.",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=registry,
        )
        mode: dict[str, Any] = {"multiprocess_mode": "livesum"} if self.multiprocess else {}
        self.pool_size = Gauge(
            "toit_emploi_db_pool_size", "Connections the pool keeps open (its size).", registry=registry, **mode
        )
        self.pool_checked_out = Gauge(
            "toit_emploi_db_pool_checked_out", "Connections in use by requests now.", registry=registry, **mode
        )
        self.pool_idle = Gauge(
            "toit_emploi_db_pool_idle", "Open connections waiting in the pool.", registry=registry, **mode
        )
        self.pool_overflow = Gauge(
            "toit_emploi_db_pool_overflow",
            "Connections open beyond the pool's size (negative: not all of its size is open yet).",
            registry=registry,
            **mode,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # once per (method, route template, status): a bounded set
            labels = (method, route, str(status))
            children = self._children[key] = (self.requests.labels(*labels), self.latency.labels(*labels))
        children[0].inc()
        children[1].observe(seconds)

    def update_pool(self) -> None:
        pool: Any = self.engine.sync_engine.pool
        for gauge, reading in (
            (self.pool_size, "size"),
            (self.pool_checked_out, "checkedout"),
            (self.pool_idle, "checkedin"),
            (self.pool_overflow, "overflow"),
        ):
            read = getattr(pool, reading, None)
            if callable(read):
                gauge.set(read())

    def render(self) -> tuple[bytes, str]:
        """The exposition text (Prometheus format) and its content type."""
        self.update_pool()
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
