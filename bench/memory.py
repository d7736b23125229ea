"""Memory of one API process (`make bench`; not part of the suite): RSS after each step of a worker's life.

A fresh child process (nothing imported before it measures) prints its RSS (`VmRSS` of `/proc/self/status`):
after Python itself, after `import toit_emploi_api.main`, after `create_app()`, after the lifespan's startup (the
background worker's loops, `gc.freeze`), then after ``--requests`` in-process requests of each kind — GET by id,
the list (`limit=50`) and the name search — through httpx's ASGI transport against the database of
`bench/api.py` (the embedded PostgreSQL under `.data/bench-pg`, seeded there once, or `DATABASE_URL`).
The target is 100 MB per worker after the load (issue 15); `bench/api.py` prints the RSS of a real uvicorn worker.

    .venv/bin/python bench/memory.py [--requests 2000]

Environment given to the child as it is: try e.g. ``MALLOC_ARENA_MAX=2 .venv/bin/python bench/memory.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(url: str, token: str, ids: list[str], requests: int) -> None:
    steps = [("python", rss_mb())]
    import toit_emploi_api.main as main

    steps.append(("import toit_emploi_api.main", rss_mb()))
    app = main.create_app()
    steps.append(("create_app()", rss_mb()))

    async def run() -> None:
        import httpx

        async with app.router.lifespan_context(app):
            steps.append(("lifespan startup", rss_mb()))
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
                rng = random.Random(1)
                kinds: dict[str, Callable[[], str]] = {
                    "GET by id": lambda: f"/api/v1/households/{rng.choice(ids)}",
                    "list limit=50": lambda: "/api/v1/households?limit=50",
                    "search q=": lambda: f"/api/v1/households?limit=50&q={rng.choice(['sakmab', 'zyxwq'])}",
                }
                for name, path in kinds.items():
                    for _ in range(requests):
                        (await client.get(path())).raise_for_status()
                    steps.append((f"+ {requests} x {name}", rss_mb()))

    asyncio.run(run())
    print(json.dumps(steps))


def main(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT))
    from api import SECRET, manager_token, prepare_database, seed
    from toit_emploi_api.core.settings import Settings

    url = prepare_database("toit_emploi_bench_api")
    ids = asyncio.run(seed(url))[:5000]
    settings = Settings(environment="test", DATABASE_URL=url, jwt_secret=SECRET)
    token = manager_token(settings)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TOIT_EMPLOI_JWT_SECRET": SECRET,
        "TOIT_EMPLOI_ENVIRONMENT": "test",
        "PYTHONPATH": str(ROOT / "src"),
    }
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--requests", str(args.requests)],
        input=json.dumps({"url": url, "token": token, "ids": ids}),
        capture_output=True,
        check=True,
        text=True,
        env=env,
    )
    arena = os.environ.get("MALLOC_ARENA_MAX", "unset")
    print(f"RSS of one API process, in process (httpx ASGI transport), MALLOC_ARENA_MAX={arena}:")
    previous = 0.0
    for step, mb in json.loads(out.stdout.splitlines()[-1]):
        print(f"  {step:<36} {mb:6.1f} MB  ({mb - previous:+5.1f})")
        previous = mb


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests of each kind")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.child:
        given = json.loads(sys.stdin.read())
        child(given["url"], given["token"], given["ids"], parsed.requests)
    else:
        main(parsed)
