"""Benchmark of Polygone's vacancy sync (`make bench`; not part of the test suite).

How it runs: the app is used IN PROCESS (``create_app`` + httpx ``ASGITransport``), so the times printed are
server-side: from the request entering the ASGI app to the response leaving it (JSON parsing, validation, SQL,
commit, serialisation), without any network. The ``Server-Timing`` header of each answer splits out ``parse``
(body decoding and row validation) and ``sql`` (advisory lock + upsert + snapshot update); the app also logs both.

Database: ``DATABASE_URL`` if set (a PostgreSQL URL; the database ``toit_emploi_bench`` is NOT created: the URL's
database is used and its ``housing_units``/``organisations`` rows for the bench landlords are added), otherwise the
embedded PostgreSQL under ``.data/bench-pg`` with a fresh ``toit_emploi_bench`` database, migrated to head.

Scenarios (realistic Cantal units: communes, rooms, areas, rents, DPE, years):
* 2,000 units, one landlord, ``snapshot`` mode, one request (Polygone's real size), JSON; then the same as CSV;
* 100,000 units, one landlord, ``delta`` mode, in 5 requests of 20,000 (a snapshot is one request, so a stock
  larger than 20,000 units is pushed in delta batches).
For each: a first sync (all created), an identical re-sync (must write 0 rows), and a sync where 5% of the units
changed (rent). "rows written" is measured by PostgreSQL itself: the delta of ``n_tup_ins + n_tup_upd`` of
``housing_units`` in ``pg_stat_user_tables`` around the scenario (every inserted or updated row version counts, the
sync's bookkeeping updates included; nothing else writes that table during the bench).

Besides wall time, each large run prints its **CPU time**: this process's (the app, or the baseline's encoding and
driver) plus the PostgreSQL server's (every process of the server, read from /proc: the server must run on this
machine). On a shared, loaded machine wall time mostly measures the queue for the CPU; the CPU ratio is the steadier
figure (on a quiet 2-core machine the request and its backend run one after the other, so wall ≈ CPU).

    .venv/bin/python bench/sync.py [--small 2000] [--large 100000] [--batch 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import prepare_database  # noqa: E402 - bench/common.py

from toit_emploi_api.auth.tokens import issue_access_token  # noqa: E402
from toit_emploi_api.core.settings import Settings  # noqa: E402
from toit_emploi_api.housing.sync_input import COLUMNS, CSV_HEADERS  # noqa: E402
from toit_emploi_api.housing.sync_repository import _ARRAY_TYPES as ARRAY_TYPES  # noqa: E402
from toit_emploi_api.housing.sync_repository import _TEMP_TYPES as TEMP_TYPES  # noqa: E402
from toit_emploi_api.main import create_app  # noqa: E402
from toit_emploi_api.vocab.roles import Role  # noqa: E402

SYNC = "/api/v1/housing-units/sync"
# (INSEE code, postcode, weight): Aurillac and communes around it, Saint-Flour, Mauriac.
COMMUNES = [
    ("15014", "15000", 60),
    ("15012", "15130", 8),
    ("15187", "15100", 12),
    ("15120", "15200", 6),
    ("15267", "15130", 5),
    ("15025", "15130", 4),
    ("15138", "15000", 5),
]
STREETS = [
    ("RUE", "des Carmes"),
    ("AV", "de la République"),
    ("BD", "du Pont Rouge"),
    ("RUE", "Victor Hugo"),
    ("IMP", "des Tilleuls"),
    ("RTE", "de Vic"),
    ("PL", "du Square"),
    ("RUE", "de Belbex"),
]


def make_units(count: int, seed: int, prefix: str) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    codes = [c for c, _, w in COMMUNES for _ in range(w)]
    post = {c: p for c, p, _ in COMMUNES}
    today = date(2026, 11, 23)
    units = []
    for i in range(count):
        rooms = rng.choices([1, 2, 3, 4, 5, 6], weights=[10, 25, 32, 22, 8, 3])[0]
        area = round(14 + rooms * rng.uniform(14, 20), 2)
        commune = rng.choice(codes)
        street_type, street_name = rng.choice(STREETS)
        available = today + timedelta(days=rng.randint(-30, 120)) if rng.random() < 0.8 else None
        units.append(
            {
                "landlord_reference": f"{prefix}-{i:06d}",
                "commune_insee": commune,
                "postcode": post[commune],
                "street_number": str(rng.randint(1, 120)),
                "street_type": street_type,
                "street_name": street_name,
                "floor": rng.randint(0, 8),
                "rooms": rooms,
                "living_area_m2": f"{area:.2f}",
                "rent": f"{area * rng.uniform(5.4, 7.2):.2f}",
                "charges": f"{rng.uniform(30, 140):.2f}",
                "dpe_class": rng.choice("ABCDDDEEEFG"),
                "construction_year": rng.randint(1950, 2022),
                "available_from": available.isoformat() if available else None,
                "is_relay": rng.random() < 0.005,
            }
        )
    return units


def changed(units: list[dict[str, Any]], share: float, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for u in units:
        if rng.random() < share:
            u = {**u, "rent": f"{float(u['rent']) + rng.randint(1, 30):.2f}"}
        out.append(u)
    return out


def as_csv(units: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADERS[:15])
    keys = [
        "landlord_reference",
        "commune_insee",
        "postcode",
        "street_number",
        "street_type",
        "street_name",
        "floor",
        "rooms",
        "living_area_m2",
        "rent",
        "charges",
        "dpe_class",
        "construction_year",
        "available_from",
        "is_relay",
    ]
    for u in units:
        writer.writerow(["" if u[k] is None else (int(u[k]) if isinstance(u[k], bool) else u[k]) for k in keys])
    return buf.getvalue().encode()


def _process_cpu(pid: str, children: bool = False) -> float:
    """utime + stime (and the waited-for children's, for the postmaster) of one process, in ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return float(ticks + (int(fields[13]) + int(fields[14]) if children else 0))


def server_cpu(postmaster: int | None) -> float:
    """CPU seconds used so far by the PostgreSQL server: the postmaster, its live children, and the exited ones
    (counted in the postmaster's children's time). 0 when the server is not on this machine."""
    if postmaster is None:
        return 0.0
    ticks = _process_cpu(str(postmaster), children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                    ticks += _process_cpu(entry.name)
            except (OSError, ValueError, IndexError):
                continue  # exited meanwhile
    return ticks / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, client: AsyncClient, app: Any, settings: Settings) -> None:
        self.client = client
        self.app = app
        self.settings = settings
        self.postmaster: int | None = None

    async def find_server(self) -> None:
        """The postmaster's pid, when the server's data directory is readable here (else CPU is this process's)."""
        async with self.app.state.sessionmaker() as s:
            data_dir = (await s.execute(text("SELECT current_setting('data_directory')"))).scalar_one()
        try:
            self.postmaster = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
            server_cpu(self.postmaster)
        except (OSError, ValueError, IndexError):
            self.postmaster = None

    def cpu(self) -> float:
        """CPU seconds of this process and of the PostgreSQL server so far."""
        return time.process_time() + server_cpu(self.postmaster)

    async def landlord(self, name: str) -> tuple[uuid.UUID, dict[str, str]]:
        org, user = uuid.uuid4(), uuid.uuid4()
        async with self.app.state.sessionmaker() as s:
            await s.execute(
                text(
                    "INSERT INTO organisations (id, name, kind, active, version) VALUES (:i, :n, 'landlord', true, 1)"
                ),
                {"i": org, "n": f"{name} {org.hex[:6]}"},
            )
            await s.execute(
                text(
                    "INSERT INTO users (id, email, full_name, role, organisation_id, password_hash, active, version)"
                    " VALUES (:i, :e, 'Bench landlord', 'landlord', :o, 'x', true, 1)"
                ),
                {"i": user, "e": f"bench.{user.hex[:8]}@example.org", "o": org},
            )
            await s.commit()
        token, _ = issue_access_token(
            self.settings, subject_kind="user", subject_id=user, role=Role.LANDLORD.value, organisation_id=org
        )
        return org, {"Authorization": f"Bearer {token}"}

    async def tuples_written(self) -> int:
        """Rows inserted + updated in housing_units so far (pg_stat_user_tables), after the stats are flushed."""
        async with self.app.state.sessionmaker() as s:
            await s.execute(text("SELECT pg_stat_force_next_flush()"))
            await s.commit()
        async with self.app.state.sessionmaker() as s:
            await s.execute(text("SELECT pg_stat_clear_snapshot()"))
            return int(
                (
                    await s.execute(
                        text("SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE relname = 'housing_units'")
                    )
                ).scalar_one()
            )

    async def post(
        self, headers: dict[str, str], body: bytes, content_type: str, mode: str
    ) -> tuple[float, dict[str, Any], dict[str, float]]:
        started = time.perf_counter()
        r = await self.client.post(
            SYNC, content=body, headers={**headers, "Content-Type": content_type}, params={"mode": mode}
        )
        elapsed = (time.perf_counter() - started) * 1000
        if r.status_code != 200:
            raise SystemExit(f"sync failed: {r.status_code} {r.text[:500]}")
        timing = {}
        for part in r.headers.get("server-timing", "").split(","):
            name, _, dur = part.strip().partition(";dur=")
            if dur:
                timing[name] = float(dur)
        return elapsed, r.json(), timing

    async def bare(self, units: list[dict[str, Any]], batch: int) -> dict[str, float]:
        """The baseline: the same rows, already parsed, ``COPY``-ed into a temporary table and upserted with one
        ``INSERT … ON CONFLICT DO UPDATE … WHERE (facts) IS DISTINCT FROM`` per batch, on the same server (no HTTP,
        no validation, no lock, no conflicts); ms per variant (first, identical, 5% changed)."""
        org, _ = await self.landlord("Bare baseline")
        columns = list(COLUMNS)
        facts = [c for c in columns if c != "landlord_reference"]
        types = {c: TEMP_TYPES[c] for c in columns}
        cast = {c: "numeric" if ARRAY_TYPES[c] == "numeric" else types[c] for c in columns} | {"dpe_class": "dpe_class"}
        values = ", ".join(f"CAST(t.{c} AS {cast[c]})" for c in columns)
        upsert = (
            f"INSERT INTO housing_units AS u (id, landlord_organisation_id, {', '.join(columns)}, status, version,"
            f" last_synced_at, created_at, updated_at) SELECT gen_random_uuid(), '{org}', {values}, 'vacant', 1,"
            f" now(), now(), now() FROM bare_incoming AS t ON CONFLICT (landlord_organisation_id, landlord_reference)"
            f" DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in facts)}, version = u.version + 1,"
            f" updated_at = now() WHERE ({', '.join(f'u.{c}' for c in facts)}) IS DISTINCT FROM"
            f" ({', '.join(f'EXCLUDED.{c}' for c in facts)})"
        )
        create = (
            "CREATE TEMPORARY TABLE bare_incoming ("
            + ", ".join(f"{c} {types[c]}" for c in columns)
            + ") ON COMMIT DROP"
        )
        out = {}
        for name, payload in (
            ("first sync", units),
            ("identical re-sync", units),
            ("5% changed", changed(units, 0.05, 7)),
        ):
            total = cpu = 0.0
            for start in range(0, len(payload), batch):
                chunk = payload[start : start + batch]
                rows = [
                    tuple(
                        (str(u.get(c)) if u.get(c) is not None else None)
                        if ARRAY_TYPES[c] == "numeric"
                        else (date.fromisoformat(u[c]) if c == "available_from" and u.get(c) else u.get(c))
                        for c in columns
                    )
                    for u in chunk
                ]
                rows = [
                    tuple(
                        False if (v is None and c in ("is_relay", "step_free_access")) else v
                        for c, v in zip(columns, r, strict=True)
                    )
                    for r in rows
                ]
                cpu_started, started = self.cpu(), time.perf_counter()
                async with self.app.state.engine.connect() as conn:
                    raw = (await conn.get_raw_connection()).driver_connection
                    async with raw.transaction():
                        await raw.execute(create)
                        await raw.copy_records_to_table("bare_incoming", records=rows, columns=columns)
                        await raw.execute("ANALYZE bare_incoming")
                        await raw.execute(upsert)
                total += (time.perf_counter() - started) * 1000
                cpu += (self.cpu() - cpu_started) * 1000
            out[name] = total
            out[f"{name} (CPU)"] = cpu
        return out

    async def run(self, label: str, units: list[dict[str, Any]], batch: int, mode: str, fmt: str) -> dict[str, float]:
        _org, headers = await self.landlord(label)
        print(f"\n## {label}: {len(units):,} units, {mode}, {fmt}, {(len(units) + batch - 1) // batch} request(s)")
        variants = [("first sync", units), ("identical re-sync", units), ("5% changed", changed(units, 0.05, 7))]
        times = {}
        for name, payload in variants:
            since = await self.tuples_written()
            total = parse = sql = cpu = 0.0
            counts = {"created": 0, "updated": 0, "unchanged": 0, "conflicts": 0}
            for start in range(0, len(payload), batch):
                chunk = payload[start : start + batch]
                if fmt == "json":
                    body, ctype = json.dumps({"mode": mode, "units": chunk}).encode(), "application/json"
                else:
                    body, ctype = as_csv(chunk), "text/csv"
                cpu_started = self.cpu()
                elapsed, report, timing = await self.post(headers, body, ctype, mode)
                cpu += (self.cpu() - cpu_started) * 1000
                total += elapsed
                parse += timing.get("parse", 0)
                sql += timing.get("sql", 0)
                for key in ("created", "updated", "unchanged"):
                    counts[key] += report[key]
                counts["conflicts"] += len(report["conflicts"])
            await asyncio.sleep(0.6)  # backends report their counters at most every 0.5 s when idle
            written = await self.tuples_written() - since
            print(
                f"{name:<18} {total:9.1f} ms   (parse {parse:7.1f} ms, sql {sql:7.1f} ms, CPU {cpu:7.1f} ms)   "
                f"created {counts['created']:>6}  updated {counts['updated']:>6}  unchanged {counts['unchanged']:>6}"
                f"   rows written {written}"
            )
            times[name] = total
            times[f"{name} (CPU)"] = cpu
        return times


async def main(args: argparse.Namespace, url: str) -> None:
    settings = Settings(environment="test", DATABASE_URL=url, jwt_secret="bench-" + "x" * 40, log_level="WARNING")
    app = create_app(settings)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench", timeout=120) as client:
        bench = Bench(client, app, settings)
        await bench.find_server()
        # Warm up the connection pool and the prepared statements, as on a running server.
        _, warm_headers = await bench.landlord("warm-up")
        for _ in range(3):
            await bench.post(
                warm_headers, json.dumps({"units": make_units(50, 1, "W")}).encode(), "application/json", "snapshot"
            )
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"PostgreSQL: {url.rsplit('@', 1)[-1].split('?')[0]}   CPUs: {os.cpu_count()}   load average: {load}")
        if bench.postmaster is None:
            print("(the server's processes are not readable here: CPU figures are this process's only)")
        await bench.run("Polygone", make_units(args.small, 1, "POL"), args.batch, "snapshot", "json")
        await bench.run("Polygone CSV", make_units(args.small, 2, "PCSV"), args.batch, "snapshot", "csv")
        # Interleaved rounds (app then baseline, the order alternating): ratios of medians, side by side.
        app_runs: list[dict[str, float]] = []
        bare_runs: list[dict[str, float]] = []
        for round_no in range(args.rounds):
            large = make_units(args.large, 3, f"BIG{round_no}")
            bare_units = make_units(args.large, 3, f"BARE{round_no}")
            if round_no % 2 == 0:
                app_runs.append(await bench.run("Large landlord", large, args.batch, "delta", "json"))
                bare_runs.append(await bench.bare(bare_units, args.batch))
            else:
                bare_runs.append(await bench.bare(bare_units, args.batch))
                app_runs.append(await bench.run("Large landlord", large, args.batch, "delta", "json"))
            print("bare: " + ", ".join(f"{k} {v:.1f} ms" for k, v in bare_runs[-1].items()))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"\n## ratio to a bare COPY + upsert of the same {args.large:,} rows (same server, same batches), "
            f"medians of {args.rounds} interleaved round(s), load average now {load}"
        )
        for name in bare_runs[0]:
            app_ms = statistics.median(r[name] for r in app_runs)
            bare_ms = statistics.median(r[name] for r in bare_runs)
            ratios = ", ".join(f"{a[name] / b[name]:.2f}" for a, b in zip(app_runs, bare_runs, strict=True))
            print(
                f"{name:<24} app {app_ms:9.1f} ms   bare {bare_ms:9.1f} ms   ratio {app_ms / bare_ms:5.2f}"
                f"   (per round: {ratios})"
            )
    await app.state.engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=2_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved app/baseline rounds of the large sync")
    asyncio.run(main(parser.parse_args(), prepare_database("toit_emploi_bench")))
