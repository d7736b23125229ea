"""CPU per request of the households reads, in process: the app and `bench/baseline.py` called as ASGI apps (no
HTTP, no client, no network), the same database as `bench/api.py`; not part of the suite.

`time.process_time()` over `--requests` sequential requests of each app, interleaved rounds (the order alternating),
medians, and the ratio app / baseline: the Python work per request outside PostgreSQL, steady on a loaded machine
(the server's CPU is not counted). `--profile` prints the app's cProfile instead (by own time).

    .venv/bin/python bench/cpu.py [--rounds 5] [--requests 2000] [--scenario by-id|list|search] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from api import SECRET, manager_token, prepare_database, scenario_paths, seed  # noqa: E402 - bench/api.py

ASGIApp = Any


def _scope(path: str, token: str) -> dict[str, Any]:
    raw, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw,
        "raw_path": raw.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }


async def _call(app: ASGIApp, path: str, token: str) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(path, token), receive, send)
    return status


async def _run(app: ASGIApp, paths: list[str], token: str, count: int) -> float:
    """CPU seconds of this process for `count` requests, one after the other."""
    rng = random.Random(7)
    chosen = [rng.choice(paths) for _ in range(count)]
    started = time.process_time()
    for path in chosen:
        status = await _call(app, path, token)
        if status != 200:
            raise SystemExit(f"{path}: {status}")
    return time.process_time() - started


async def measure(args: argparse.Namespace, url: str, ids: list[str]) -> None:
    os.environ.update(DATABASE_URL=url, BENCH_JWT_SECRET=SECRET)
    import baseline

    from toit_emploi_api.core.settings import Settings
    from toit_emploi_api.main import create_app

    settings = Settings(environment="test", DATABASE_URL=url, jwt_secret=SECRET, worker_in_serve=False)
    token = manager_token(settings)
    by_scenario = dict(zip(("by-id", "list", "search"), scenario_paths(ids).values(), strict=True))
    paths = by_scenario[args.scenario]
    app, base = create_app(settings), baseline.create_app()
    async with app.router.lifespan_context(app), base.router.lifespan_context(base):
        for target in (app, base):
            await _run(target, paths, token, 200)  # warm-up: the pools, the prepared statements
        if args.app_only:  # for an outside sampler (py-spy, perf)
            await _run(app, paths, token, args.requests)
            return
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            await _run(app, paths, token, args.requests)
            profile.disable()
            pstats.Stats(profile).sort_stats(args.sort).print_stats(args.lines)
            return
        times: dict[str, list[float]] = {"app": [], "baseline": []}
        for round_no in range(args.rounds):
            order = [("app", app), ("baseline", base)]
            if round_no % 2:
                order.reverse()
            for name, target in order:
                times[name].append(await _run(target, paths, token, args.requests) / args.requests * 1000)
            print(f"  round {round_no + 1}: app {times['app'][-1]:.3f} ms, baseline {times['baseline'][-1]:.3f} ms")
    app_ms, base_ms = statistics.median(times["app"]), statistics.median(times["baseline"])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{args.scenario}: CPU per request, median of {args.rounds} x {args.requests}: app {app_ms:.3f} ms, "
        f"baseline {base_ms:.3f} ms, ratio {app_ms / base_ms:.2f}   (load {load})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--scenario", choices=("by-id", "list", "search"), default="by-id")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--app-only", action="store_true", help="only the app's requests, no profiler")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--lines", type=int, default=45)
    args = parser.parse_args()
    url = prepare_database("toit_emploi_bench_api")
    ids = asyncio.run(seed(url))
    asyncio.run(measure(args, url, ids))


if __name__ == "__main__":
    main()
