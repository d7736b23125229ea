"""Benchmark of the households read paths against a raw-asyncpg baseline (`make bench`; not part of the suite).

* Database: ``DATABASE_URL`` if set (its households are NOT dropped: bench rows are added once, references
  ``TB-…``), otherwise the embedded PostgreSQL under ``.data/bench-pg`` with a database ``toit_emploi_bench_api``,
  migrated to head, seeded by bulk SQL with 100,000 households and 250,000 members (``VACUUM ANALYZE`` after). That
  database is kept between runs (the seed costs about a minute); each run empties its ``audit_events`` first.
* Two servers, one uvicorn worker each, pinned to CPU 0: the app (``create_app``) and ``bench/baseline.py``
  (Starlette + asyncpg, the same statements, the same JWT checks). The load sends one token, as a client does for
  its token's lifetime: the app verifies it once per process (``auth.tokens.VerifiedTokens``), the baseline on every
  request; ``TOIT_EMPLOI_VERIFIED_TOKENS_KEPT=0`` makes the app verify every request too.
* The load generator is this file again (``--loadgen``), in its own process pinned to CPU 1: an asyncio HTTP/1.1
  keep-alive client (no wrk needed), ``--connections`` connections, random household ids.
* Interleaved rounds: for each round and scenario, app then baseline (the order alternates every round); medians
  over the rounds of req/s, p50 and p99, and the ratios app / baseline.
* Then: single-client latency of the name search (a match and no match), the plans of filtered counts (no
  sequential scan), and the RSS of each server after the load.

    .venv/bin/python bench/api.py [--rounds 5] [--duration 8] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from toit_emploi_api.core import embedded, migrations  # noqa: E402

SECRET = "bench-" + "y" * 40
HOUSEHOLDS = 100_000
APP_PORT, BASE_PORT = 18_431, 18_432
FIRST_NAMES = [
    "adama", "aicha", "amadou", "amina", "benoit", "fatou", "ibrahim", "karim", "leila", "mamadou", "mariam",
    "moussa", "nadia", "omar", "rachid", "samba", "sophie", "yacine", "youssef", "zeynab",
]  # fmt: skip
SYLLABLES = [
    "bar", "ben", "cam", "dia", "dou", "fal", "gan", "kei", "kon", "lam", "mab", "men", "nda", "ndi", "ouz", "pal",
    "rab", "sak", "sar", "sis", "tal", "tou", "tra", "val", "wad", "yat", "zer", "bou", "cis", "dem", "kan", "lou",
    "mar", "nia", "sow", "tam", "dra", "fof", "gue", "hai", "jal", "kou", "mir", "sem", "vou",
]  # fmt: skip
MATCH = "sakmab"  # one last name (SYLLABLES[13 % 45] + SYLLABLES[...]): about 50 households
NO_MATCH = "zyxwq"

SEED_SQL = [
    """INSERT INTO organisations (id, name, kind, active, version)
       SELECT md5('org' || n)::uuid, 'Bench partner ' || n, CASE WHEN n = 0 THEN 'operator' ELSE 'referral_partner'
              END::organisation_kind, true, 1
       FROM generate_series(0, 20) AS n""",
    """INSERT INTO users (id, email, full_name, role, organisation_id, password_hash, active, version)
       VALUES (md5('manager')::uuid, 'bench.manager@example.org', 'Bench manager', 'service_manager',
               md5('org0')::uuid, 'x', true, 1)""",
    f"""INSERT INTO households (id, reference, referring_organisation_id, created_by_organisation_id,
              housing_situation, stage, stage_entered_at, version, created_at, updated_at, needs_constraints)
       SELECT md5('h' || i)::uuid, 'TB-' || lpad(i::text, 8, '0'), md5('org' || (1 + i % 20))::uuid,
              md5('org' || (1 + i % 20))::uuid, 'shelter', (ARRAY['diagnostic', 'matching', 'relay_stay', 'lease',
              'follow_up'])[1 + i % 5]::stage, now() - make_interval(mins => i), 1, now() - make_interval(mins => i),
              now() - make_interval(mins => i), 'Ground floor preferred.'
       FROM generate_series(1, {HOUSEHOLDS}) AS i""",
    # 2 or 3 members per household (250,000): a head, a partner or a child, a child; one last name per household.
    f"""INSERT INTO household_members (id, household_id, first_name, last_name, first_name_folded,
              last_name_folded, birth_date, role, rome_codes, schooling_level, version, created_at, updated_at)
       SELECT md5('m' || i || '-' || k)::uuid, md5('h' || i)::uuid, initcap(f), initcap(l), f, l,
              CASE WHEN r = 'child' THEN date '2015-01-01' ELSE date '1985-01-01' END + (i % 3000),
              r::member_role, CASE WHEN r = 'child' THEN '{{}}'::varchar[] ELSE ARRAY['F1703', 'K1304']::varchar[] END,
              CASE WHEN r = 'child' THEN 'elementaire'::schooling_level END, 1, now(), now()
       FROM generate_series(1, {HOUSEHOLDS}) AS i
       CROSS JOIN LATERAL generate_series(1, 2 + i % 2) AS k
       CROSS JOIN LATERAL (SELECT
           (ARRAY[{", ".join(f"'{n}'" for n in FIRST_NAMES)}])[1 + (i * 7 + k) % {len(FIRST_NAMES)}] AS f,
           (ARRAY[{", ".join(f"'{s}'" for s in SYLLABLES)}])[1 + i % {len(SYLLABLES)}]
           || (ARRAY[{", ".join(f"'{s}'" for s in SYLLABLES)}])[1 + (i / {len(SYLLABLES)}) % {len(SYLLABLES)}] AS l,
           CASE WHEN k = 1 THEN 'head' WHEN k = 2 AND i % 3 = 0 THEN 'partner' ELSE 'child' END AS r
       ) AS x""",
]


# ------------------------------------------------------------------------------------------------ load generator
async def _one_connection(
    port: int, paths: list[str], token: str, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random()
    while time.perf_counter() < deadline:
        path = rng.choice(paths)
        request = f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(int(head[9:12]))
    writer.close()


async def _load(port: int, paths: list[str], token: str, duration: float, connections: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(_one_connection(port, paths, token, deadline, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def loadgen(args: argparse.Namespace) -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {args.cpu})
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    paths = Path(args.paths).read_text().split()
    print(json.dumps(asyncio.run(_load(args.port, paths, args.token, args.duration, args.connections))))


# -------------------------------------------------------------------------------------------------------- setup
def prepare_database(name: str) -> str:
    """`DATABASE_URL`, or database `name` on the embedded server under `.data/bench-pg`, KEPT between runs (its
    seed is reused: rebuilding it costs about a minute); migrated to head."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        url = embedded.ensure_database(embedded.start(ROOT / ".data" / "bench-pg"), name)
    migrations.upgrade(url)
    return url


async def seed(url: str) -> list[str]:
    """Seed once (bulk SQL); the household ids."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if not await conn.fetchval("SELECT count(*) FROM households WHERE reference LIKE 'TB-%'"):
            started = time.perf_counter()
            async with conn.transaction():
                for sql in SEED_SQL:
                    await conn.execute(sql)
            await conn.execute("VACUUM ANALYZE")
            print(f"seeded {HOUSEHOLDS:,} households in {time.perf_counter() - started:.1f} s")
        elif not os.environ.get("DATABASE_URL"):
            # The bench's own database: the audit rows of earlier runs go, so that every run inserts into the same
            # table (TRUNCATE: the append-only trigger guards UPDATE and DELETE of rows, not this).
            await conn.execute("TRUNCATE audit_events")
        rows = await conn.fetch("SELECT id FROM households WHERE reference LIKE 'TB-%'")
        return [str(r[0]) for r in rows]
    finally:
        await conn.close()


@contextlib.contextmanager
def servers(url: str) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TOIT_EMPLOI_JWT_SECRET": SECRET,
        "BENCH_JWT_SECRET": SECRET,
        "TOIT_EMPLOI_ENVIRONMENT": "test",
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
    }
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--no-access-log", "--log-level", "warning"]
    procs = {
        "app": subprocess.Popen(
            ["taskset", "-c", "0", *uvicorn, "--port", str(APP_PORT), "toit_emploi_api.main:create_app"],
            env=env,
            stderr=subprocess.DEVNULL,
        ),
        "baseline": subprocess.Popen(
            ["taskset", "-c", "0", *uvicorn, "--port", str(BASE_PORT), "bench.baseline:create_app"],
            env=env,
            stderr=subprocess.DEVNULL,
        ),
    }
    try:
        yield procs
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(10)


def wait_ready(port: int, token: str, path: str) -> None:
    import httpx

    for _ in range(100):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}).is_success:
                return
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not answer {path}")


def run_load(port: int, paths: list[str], token: str, duration: float, connections: int) -> dict[str, Any]:
    paths_file = ROOT / ".data" / f"bench-paths-{port}.txt"
    paths_file.write_text("\n".join(paths))
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--loadgen",
            "--port",
            str(port),
            "--paths",
            str(paths_file),
            "--token",
            token,
            "--duration",
            str(duration),
            "--connections",
            str(connections),
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def rss_mb(pid: int) -> float:
    """RSS of the process and its children (uvicorn runs the app in the process it starts)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def plans(url: str) -> list[tuple[str, str, float]]:
    """Filtered lists as the app runs them: (filter, tables read by a sequential scan, execution ms)."""
    import asyncpg

    from toit_emploi_api.core.resources import CursorPageParams
    from toit_emploi_api.households import reads
    from toit_emploi_api.households.schemas import HouseholdFilters, HouseholdSort
    from toit_emploi_api.vocab.roles import Role
    from toit_emploi_api.vocab.stages import Stage

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    cases = {
        "stage=relay_stay": HouseholdFilters(stages=(Stage.RELAY_STAY,)),
        "referring_organisation_id": HouseholdFilters(
            referring_organisation_id=uuid.UUID(hex=hashlib.md5(b"org3").hexdigest())
        ),
        "q (match)": HouseholdFilters(name_tokens=(MATCH,)),
        "q (no match)": HouseholdFilters(name_tokens=(NO_MATCH,)),
        "has_children=true": HouseholdFilters(has_children=True),
        "rome_code": HouseholdFilters(rome_code="G1602"),
    }
    found = []
    try:
        manager = uuid.UUID(await conn.fetchval("SELECT md5('manager')::uuid::text"))
        for name, filters in cases.items():
            sql, params = reads.list_query(
                "user",
                manager,
                frozenset({Role.SERVICE_MANAGER}),
                filters,
                HouseholdSort.CREATED_AT_DESC,
                CursorPageParams(limit=50, offset=0),
                "bench.explain",
                None,
            )
            transaction = conn.transaction()
            await transaction.start()
            try:
                plan = json.loads(await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *params))[0]
            finally:
                await transaction.rollback()  # the statement's audit row goes with it
            scanned = sorted(set(_seq_scans(plan["Plan"])))
            found.append((name, ", ".join(scanned), float(plan["Execution Time"])))
    finally:
        await conn.close()
    return found


def _seq_scans(node: dict[str, Any]) -> Iterator[str]:
    if node.get("Node Type") == "Seq Scan":
        yield str(node.get("Relation Name"))
    for child in node.get("Plans", []):
        yield from _seq_scans(child)


def sessions_opened(url: str) -> int:
    """PostgreSQL's count of sessions ever opened on the bench database (`pg_stat_database.sessions`, PG 14+)."""
    import asyncpg

    async def count() -> int:
        await asyncio.sleep(1.2)  # the servers' backends flush their counters about once a second
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            value = await conn.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            return int(value)
        finally:
            await conn.close()

    return asyncio.run(count())


def search_latency(port: int, token: str, q: str, count: int = 40) -> tuple[float, float]:
    import httpx

    times = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.get("/api/v1/households", params={"q": q, "limit": 50}).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def manager_token(settings: Any) -> str:
    """A service manager's access token for the seeded organisation (bench/api.py, bench/cpu.py, bench/memory.py)."""
    from toit_emploi_api.auth.tokens import issue_access_token

    token, _ = issue_access_token(
        settings,
        subject_kind="user",
        subject_id=uuid.UUID(hex=hashlib.md5(b"manager").hexdigest()),
        role="service_manager",
        organisation_id=uuid.UUID(hex=hashlib.md5(b"org0").hexdigest()),
        lifetime=timedelta(hours=3),
    )
    return token


def scenario_paths(ids: list[str]) -> dict[str, list[str]]:
    """The request paths of the three scenarios (random ids drawn with a fixed seed)."""
    rng = random.Random(1)
    return {
        "GET /households/{id}": [f"/api/v1/households/{i}" for i in rng.sample(ids, 5000)],
        "GET /households?limit=50": ["/api/v1/households?limit=50"],
        "GET /households?q=…": [f"/api/v1/households?limit=50&q={MATCH}", f"/api/v1/households?limit=50&q={NO_MATCH}"],
    }


def main(args: argparse.Namespace) -> None:
    from toit_emploi_api.core.settings import Settings

    url = prepare_database("toit_emploi_bench_api")
    ids = asyncio.run(seed(url))
    settings = Settings(environment="test", DATABASE_URL=url, jwt_secret=SECRET)
    token = manager_token(settings)
    scenarios = scenario_paths(ids)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}   CPUs: {os.cpu_count()}   load average: {load}")
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with servers(url) as procs:
        for port in (APP_PORT, BASE_PORT):
            wait_ready(port, token, scenarios["GET /households/{id}"][0])
            run_load(port, scenarios["GET /households/{id}"], token, 2, args.connections)  # warm-up
        for round_no in range(args.rounds):
            order = [("app", APP_PORT), ("baseline", BASE_PORT)]
            if round_no % 2:
                order.reverse()
            for scenario, paths in scenarios.items():
                for target, port in order:
                    before = sessions_opened(url)
                    result = run_load(port, paths, token, args.duration, args.connections)
                    result["connections_opened"] = sessions_opened(url) - before - 1  # minus the first count's own
                    results.setdefault((scenario, target), []).append(result)
                    print(f"  {scenario:<26} {target:<9} {result['rps']:7.0f} req/s  p50 {result['p50']:6.1f} ms"
                          f"  p99 {result['p99']:6.1f} ms  {result['connections_opened']:3d} conn. opened")  # fmt: skip
                    if result["errors"]:
                        print(f"  {target} {scenario}: {result['errors']} errors (first {result['first_error']})")
            print(f"round {round_no + 1}/{args.rounds} done")
        rss = {name: rss_mb(proc.pid) for name, proc in procs.items()}
        search = {q: search_latency(APP_PORT, token, q) for q in (MATCH, NO_MATCH)}

    print(f"\n{args.rounds} interleaved rounds of {args.duration:g} s, {args.connections} connections, medians")
    print(f"{'scenario':<26}{'app req/s':>10}{'base req/s':>11}{'ratio':>7}{'app p50':>9}{'base p50':>9}"
          f"{'app p99':>9}{'base p99':>9}{'p99 ratio':>10}")  # fmt: skip
    for scenario in scenarios:
        app, base = results[(scenario, "app")], results[(scenario, "baseline")]
        med = {
            k: (statistics.median(r[k] for r in app), statistics.median(r[k] for r in base))
            for k in ("rps", "p50", "p99")
        }
        print(
            f"{scenario:<26}{med['rps'][0]:>10.0f}{med['rps'][1]:>11.0f}{med['rps'][0] / med['rps'][1]:>7.2f}"
            f"{med['p50'][0]:>8.1f}ms{med['p50'][1]:>7.1f}ms{med['p99'][0]:>7.1f}ms{med['p99'][1]:>7.1f}ms"
            f"{med['p99'][0] / med['p99'][1]:>10.2f}"
        )
    print("\nsingle-client search latency (app, 40 requests):")
    for q, (p50, p95) in search.items():
        print(f"  q={q:<10} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   ({'match' if q == MATCH else 'no match'})")
    print("\nfiltered list statements (EXPLAIN ANALYZE; count + page + audit in one):")
    for name, seq_scans, ms in asyncio.run(plans(url)):
        scans = "sequential scan of " + seq_scans if seq_scans else "no sequential scan"
        print(f"  {name:<28} {scans:<40} {ms:6.1f} ms")
    print(f"\nRSS after the load: app {rss['app']:.0f} MB, baseline {rss['baseline']:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, default=1, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    loadgen(parsed) if parsed.loadgen else main(parsed)
