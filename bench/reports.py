"""Benchmark of the reports (`make bench`; not part of the test suite).

Builds, by bulk SQL (INSERT … SELECT over generate_series), 100,000 households with about 350,000 members and
600,000 stage-history items (application steps and moves along twelve realistic paths: declined applications,
withdrawals from every stage, steps back relay_stay → matching, completions), with their lease-signed allocations,
spread over 2015–2026. Then it times, in process (``create_app`` + httpx ``ASGITransport``: server-side time, no
network), for the funder role: the programme report and the funnel, ungrouped and grouped by year of retention. Each
is run 7 times after a warm-up; the median and the worst are printed. The target is 100 ms each. Those four read
the aggregated summary; two more cases, with a period not starting on 1 January, time the per-household path.

Database: ``DATABASE_URL`` if set (its data is added to), otherwise the embedded PostgreSQL under ``.data/bench-pg``
with a fresh ``toit_emploi_bench_reports`` database, migrated to head.

    .venv/bin/python bench/reports.py [--households 100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import prepare_database  # noqa: E402 - bench/common.py

from toit_emploi_api.auth.tokens import issue_access_token  # noqa: E402
from toit_emploi_api.core.settings import Settings  # noqa: E402
from toit_emploi_api.main import create_app  # noqa: E402
from toit_emploi_api.vocab.roles import Role  # noqa: E402

# (weight per 100 households, the path's items: an application step or the stage moved to). Weighted average: 6.
PATHS: list[tuple[int, list[str]]] = [
    (2, []),
    (8, ["submitted", "presented", "withdrawn"]),
    (5, ["submitted", "presented", "matching"]),
    (7, ["submitted", "presented", "matching", "withdrawn"]),
    (4, ["submitted", "presented", "matching", "relay_stay"]),
    (8, ["submitted", "presented", "matching", "relay_stay", "lease"]),
    (8, ["submitted", "presented", "matching", "relay_stay", "lease", "follow_up"]),
    (20, ["submitted", "presented", "matching", "relay_stay", "lease", "follow_up", "completed"]),
    (
        18,
        [
            "submitted",
            "presented",
            "matching",
            "relay_stay",
            "matching",
            "relay_stay",
            "lease",
            "follow_up",
            "completed",
        ],
    ),
    (6, ["submitted", "presented", "matching", "relay_stay", "matching", "withdrawn"]),
    (7, ["submitted", "presented", "matching", "relay_stay", "lease", "withdrawn"]),
    (7, ["submitted", "presented", "matching", "relay_stay", "lease", "follow_up", "withdrawn"]),
]
REASONS = ["household_declined", "employer_declined", "relay_stay_inconclusive", "lost_contact", "returned_to_paris"]


def _path_rows() -> str:
    """One VALUES row per (slot 0..99, position, kind, from, to): each household takes the path of its slot."""
    rows: list[str] = []
    slot = 0
    for weight, items in PATHS:
        for _ in range(weight):
            current = "diagnostic"
            for position, item in enumerate(items, start=1):
                if item in ("submitted", "presented"):
                    kind, target = f"application_{item}", "diagnostic"
                else:
                    kind, target = "move", item
                rows.append(f"({slot}, {position}, '{kind}', '{current}', '{target}')")
                if kind == "move":
                    current = target
            slot += 1
    assert slot == 100
    return ",\n".join(rows)


async def build(session_maker: object, households: int) -> tuple[uuid.UUID, uuid.UUID]:
    """The data set; returns (funder user id, funder organisation id)."""
    maker = session_maker
    funder_org, funder, landlord = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with maker() as s:  # type: ignore[operator]
        await s.execute(
            text(
                "INSERT INTO organisations (id, name, kind, active, version) "
                "SELECT gen_random_uuid(), 'Partenaire ' || g, 'referral_partner', true, 1 FROM generate_series(1, 6) g"
            )
        )
        await s.execute(
            text(
                "INSERT INTO organisations (id, name, kind, active, version) VALUES "
                "(:f, 'FNAVDL bench', 'funder', true, 1), (:l, 'Polygone bench', 'landlord', true, 1)"
            ),
            {"f": funder_org, "l": landlord},
        )
        await s.execute(
            text(
                "INSERT INTO users (id, email, full_name, role, organisation_id, password_hash, active, version)"
                " VALUES (:i, :e, 'Bench funder', 'funder', :o, 'x', true, 1)"
            ),
            {"i": funder, "e": f"funder.{funder.hex[:8]}@example.org", "o": funder_org},
        )
        # Households: created over 2015–2025, referred by the six partners.
        await s.execute(
            text(
                """
                INSERT INTO households (id, reference, referring_organisation_id, created_by_organisation_id,
                    housing_situation, created_at, updated_at, version)
                SELECT gen_random_uuid(), 'TE-B-' || g, o.id, o.id, 'hotel_115',
                    timestamptz '2015-01-05 09:00+00' + make_interval(days => (g * 37) % 4000, hours => g % 9), now(), 1
                FROM generate_series(1, :n) g
                JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM organisations
                      WHERE kind = 'referral_partner') o ON o.i = g % 6
                """
            ),
            {"n": households},
        )
        # Members: one or two adults and zero to three children per household.
        await s.execute(
            text(
                """
                INSERT INTO household_members (id, household_id, first_name, last_name, first_name_folded,
                    last_name_folded, birth_date, role, version)
                SELECT gen_random_uuid(), h.id, 'Prenom', 'Nom', 'prenom', 'nom',
                    CASE WHEN k <= 1 + n % 2 THEN date '1975-01-01' + ((n * 13 + k * 101) % 7000)::int
                         ELSE date '2008-01-01' + ((n * 17 + k * 59) % 5000)::int END,
                    (CASE WHEN k = 1 THEN 'head' WHEN k = 2 AND n % 2 = 1 THEN 'partner' ELSE 'child' END)::member_role,
                    1
                FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM households) h
                CROSS JOIN LATERAL generate_series(1, 1 + h.n % 2 + (h.n % 7) % 4) k
                """
            )
        )
        # The stage history: each household follows the path of its slot, one item about every month.
        await s.execute(
            text(
                f"""
                WITH paths(slot, position, kind, from_stage, to_stage) AS (VALUES {_path_rows()}),
                numbered AS (SELECT id, created_at, row_number() OVER (ORDER BY id) AS n FROM households)
                INSERT INTO stage_transitions (id, household_id, kind, from_stage, to_stage, at, actor_kind, reason)
                SELECT gen_random_uuid(), h.id, p.kind::stage_history_kind, p.from_stage::stage, p.to_stage::stage,
                    h.created_at + make_interval(days => p.position * 30 + ((h.n * 7 + p.position * 13) % 25)::int),
                    'system',
                    CASE WHEN p.to_stage = 'withdrawn' AND p.from_stage = 'diagnostic' THEN 'application_declined'
                         WHEN p.to_stage = 'withdrawn' THEN (ARRAY{REASONS!r})[1 + h.n % {len(REASONS)}]
                    END
                FROM numbered h JOIN paths p ON p.slot = h.n % 100
                """
            )
        )
        # Each household's stage and application status, from its history.
        await s.execute(
            text(
                """
                UPDATE households h SET stage = last.to_stage, stage_entered_at = last.at,
                    application_status = CASE WHEN last.presented THEN 'presented'
                        WHEN last.submitted THEN 'submitted' ELSE 'draft' END::application_status,
                    withdrawal_reason = last.reason
                FROM (
                    SELECT DISTINCT ON (household_id) household_id, to_stage, at, reason,
                        bool_or(kind = 'application_presented') OVER (PARTITION BY household_id) AS presented,
                        bool_or(kind = 'application_submitted') OVER (PARTITION BY household_id) AS submitted
                    FROM stage_transitions ORDER BY household_id, at DESC
                ) last
                WHERE last.household_id = h.id
                """
            )
        )
        # A signed lease for every household that reached follow_up, on a unit of its own.
        await s.execute(
            text(
                """
                WITH leased AS (
                    SELECT t.household_id, t.at, gen_random_uuid() AS unit_id, row_number() OVER () AS n
                    FROM stage_transitions t WHERE t.kind = 'move' AND t.to_stage = 'follow_up'
                ),
                units AS (
                    INSERT INTO housing_units (id, landlord_organisation_id, landlord_reference, postcode,
                        commune_insee, rooms, rent, status, version)
                    SELECT unit_id, :landlord, 'B-' || n, '15000', '15014', 4, 420, 'let', 1 FROM leased
                )
                INSERT INTO housing_allocations (id, household_id, unit_id, status, lease_signed_date, move_in_date,
                    version)
                SELECT gen_random_uuid(), household_id, unit_id, 'ended', (at - interval '3 days')::date,
                    (at - interval '2 days')::date, 1
                FROM leased
                """
            ),
            {"landlord": landlord},
        )
        await s.commit()
    return funder, funder_org


async def compact(engine: AsyncEngine) -> None:
    """The build refreshed each household's summary five times (once per bulk statement): compact the summary as a
    freshly imported database would be after autovacuum, and gather the planner's statistics."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("report_households", "report_stage_passes", "report_household_counts", "report_day_counts"):
            await autocommit.execute(text(f"VACUUM FULL ANALYZE {table}"))
        await autocommit.execute(text("ANALYZE"))


async def main(args: argparse.Namespace, url: str) -> None:
    settings = Settings(environment="test", DATABASE_URL=url, jwt_secret="bench-" + "x" * 40, log_level="WARNING")
    app = create_app(settings)
    started = time.perf_counter()
    funder, funder_org = await build(app.state.sessionmaker, args.households)
    await compact(app.state.engine)
    async with app.state.sessionmaker() as s:
        counts = (
            await s.execute(
                text(
                    "SELECT (SELECT count(*) FROM households), (SELECT count(*) FROM stage_transitions),"
                    " (SELECT count(*) FROM household_members), (SELECT count(*) FROM report_household_counts),"
                    " (SELECT count(*) FROM report_day_counts)"
                )
            )
        ).one()
    print(
        f"built {counts[0]:,} households, {counts[1]:,} stage-history items, {counts[2]:,} members "
        f"in {time.perf_counter() - started:.1f} s; aggregated summary: {counts[3]:,} + {counts[4]:,} rows"
    )
    token, _ = issue_access_token(
        settings, subject_kind="user", subject_id=funder, role=Role.FUNDER.value, organisation_id=funder_org
    )
    headers = {"Authorization": f"Bearer {token}"}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"PostgreSQL: {url.rsplit('@', 1)[-1].split('?')[0]}   CPUs: {os.cpu_count()}   load average: {load}")
    cases = [
        ("programme", "/api/v1/reports/programme", {}),
        ("programme by year", "/api/v1/reports/programme", {"group_by": "retention_year"}),
        ("funnel", "/api/v1/reports/funnel", {}),
        ("funnel by year", "/api/v1/reports/funnel", {"group_by": "retention_year"}),
        # A period not on 1 January: read per household (informative; the target is for the four above).
        ("programme 2018-03-01+", "/api/v1/reports/programme", {"retained_since": "2018-03-01"}),
        ("funnel 2018-03-01+", "/api/v1/reports/funnel", {"retained_since": "2018-03-01"}),
    ]
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench", timeout=120) as client:
        for name, path, params in cases:
            times = []
            for run in range(args.runs + 1):
                t0 = time.perf_counter()
                r = await client.get(path, params=params, headers=headers)
                elapsed = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    raise SystemExit(f"{name}: {r.status_code} {r.text[:300]}")
                if run:  # the first run warms the pool and the caches
                    times.append(elapsed)
            verdict = "ok" if statistics.median(times) <= 100 else "OVER 100 ms"
            print(f"{name:<22} median {statistics.median(times):7.1f} ms   worst {max(times):7.1f} ms   {verdict}")
    await app.state.engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args(), prepare_database("toit_emploi_bench_reports")))
