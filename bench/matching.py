"""Benchmark of the matching read model (`make bench`; not part of the test suite).

Seeds, by bulk SQL (INSERT … SELECT over generate_series, seeded random()), 2,000 open job openings (27 ROME codes,
300 employers), 5,000 vacant units and 1,000 households in matching (two adults with one or two ROME codes each, 0-3
children, 70% with a driving licence), placed in the communes of the Cantal weighted by population (Aurillac and
its area get the most). Then prints the server-side latency (the app in process through httpx's ASGITransport, as
`bench/sync.py` does) of:

* `GET /households/{id}/suggestions` for one household (median and worst of the runs, with the total found), with
  the default `units_per_opening` (1 unit per adult and opening) and, for information, with 3 and with
  `include_related`;
* `GET /job-openings/{id}/candidates` for one opening;
* `GET /housing-units/{id}/candidates` for one unit (for information);
* and, as a baseline of what the app itself costs (token, session, JSON), `GET /communes/15014`.

The questions are asked in turn, one request each per round (interleaved), so that a burst of load on a shared
machine weighs on every figure alike; the load average is printed before and after. The target is 50 ms or less
for the suggestions (default settings) and the candidates of an opening, on the 2-core machine. Database:
``DATABASE_URL`` if set, otherwise the embedded PostgreSQL under ``.data/bench-pg`` with a fresh
``toit_emploi_bench_matching`` database.

    .venv/bin/python bench/matching.py [--runs 30] [--check]

`--check` first compares, on the seeded data, every proposal of the statement with the same statement without any
pruning (no frontier, no floor: every triple that passes the rules is scored), for six households (1, 2, 3 and 10
units per opening, with and without `include_related`), three openings and two units; it fails on any difference.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import prepare_database  # noqa: E402 - bench/common.py

from toit_emploi_api.auth.tokens import issue_access_token  # noqa: E402
from toit_emploi_api.core.clock import today  # noqa: E402
from toit_emploi_api.core.resources import PageParams  # noqa: E402
from toit_emploi_api.core.settings import Settings  # noqa: E402
from toit_emploi_api.main import create_app  # noqa: E402
from toit_emploi_api.matching import repository  # noqa: E402
from toit_emploi_api.reference.codes import ROME_CODES  # noqa: E402
from toit_emploi_api.vocab.roles import Role  # noqa: E402

TARGET_MS = 50.0

# One statement each; :codes is the weighted list of communes (by population), :rome the ROME codes.
SEED = [
    "SELECT setseed(0.42)",
    """INSERT INTO organisations (id, name, kind, active, version) VALUES
       (:partner, 'Bench partner', 'referral_partner', true, 1), (:landlord, 'Bench landlord', 'landlord', true, 1),
       (:operator, 'Bench operator', 'operator', true, 1)""",
    """INSERT INTO users (id, email, full_name, role, organisation_id, password_hash, active, version)
       VALUES (:manager, 'bench.manager@example.org', 'Bench manager', 'service_manager', :operator, 'x', true, 1)""",
    """INSERT INTO employers (siret, legal_name, commune_insee, version)
       SELECT '9' || lpad(i::text, 13, '0'), 'Employeur ' || i,
              (CAST(:codes AS text[]))[1 + floor(random() * cardinality(CAST(:codes AS text[])))::int], 1
       FROM generate_series(1, 300) AS i""",
    """INSERT INTO job_openings (employer_id, rome_code, title, contract_type, open_positions, start_date, version)
       SELECT e.ids[1 + floor(random() * cardinality(e.ids))::int],
              (CAST(:rome AS text[]))[1 + floor(random() * cardinality(CAST(:rome AS text[])))::int],
              'Poste ' || i, 'cdi', 1 + floor(random() * 3)::int,
              CASE WHEN random() < 0.2 THEN NULL ELSE CURRENT_DATE + floor(random() * 60)::int END, 1
       FROM generate_series(1, 2000) AS i, (SELECT array_agg(id) AS ids FROM employers) AS e""",
    """INSERT INTO housing_units (landlord_organisation_id, landlord_reference, postcode, commune_insee, rooms, rent,
                                 charges, available_from, status, is_relay, version)
       SELECT :landlord, 'BENCH-' || i, '15000',
              (CAST(:codes AS text[]))[1 + floor(random() * cardinality(CAST(:codes AS text[])))::int],
              1 + floor(random() * 6)::int, 250 + floor(random() * 550)::int, 40 + floor(random() * 80)::int,
              CASE WHEN random() < 0.5 THEN NULL ELSE CURRENT_DATE + floor(random() * 90)::int END,
              'vacant', false, 1
       FROM generate_series(1, 5000) AS i""",
    """INSERT INTO households (reference, referring_organisation_id, created_by_organisation_id, housing_situation,
                              stage, consent_date, version)
       SELECT 'BENCH-' || lpad(i::text, 5, '0'), :partner, :partner, 'hotel_115', 'matching', CURRENT_DATE - 30, 1
       FROM generate_series(1, 1000) AS i""",
    """INSERT INTO household_members (household_id, first_name, last_name, first_name_folded, last_name_folded,
                                     birth_date, role, rome_codes, years_of_experience, driving_licence, version)
       SELECT h.id, 'Prenom', 'Nom', 'prenom', 'nom', DATE '1985-03-14', r.role::member_role,
              CASE WHEN random() < 0.5
                   THEN ARRAY[(CAST(:rome AS text[]))[1 + floor(random() * 27)::int]]
                   ELSE ARRAY[(CAST(:rome AS text[]))[1 + floor(random() * 27)::int],
                              (CAST(:rome AS text[]))[1 + floor(random() * 27)::int]] END,
              floor(random() * 12)::int, random() < 0.7, 1
       FROM households h, (VALUES ('head'), ('partner')) AS r(role)
       WHERE h.reference LIKE 'BENCH-%'""",
    """INSERT INTO household_members (household_id, first_name, last_name, first_name_folded, last_name_folded,
                                     birth_date, role, schooling_level, version)
       SELECT h.id, 'Enfant', 'Nom', 'enfant', 'nom', CURRENT_DATE - 3000, 'child', 'elementaire', 1
       FROM households h, generate_series(1, 3) AS c
       WHERE h.reference LIKE 'BENCH-%' AND c <= (abs(hashtext(h.reference)) % 4)""",
    "ANALYZE",
]


def weighted_cantal_communes() -> list[str]:
    """INSEE codes of the Cantal, each repeated by population / 500 (at least once)."""
    from toit_emploi_api.reference.communes import load_communes

    codes: list[str] = []
    for commune in load_communes():
        if commune.department == "15":
            codes.extend([commune.insee_code] * max(1, commune.population // 500))
    return codes


async def ask(client: AsyncClient, url: str, headers: dict[str, str]) -> tuple[float, int]:
    """One request: its latency in ms and the total it found."""
    start = time.perf_counter()
    r = await client.get(url, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    assert r.status_code == 200, r.text
    return elapsed, int(r.json().get("total", 1))


COMPARED = ("member_id", "opening_id", "unit_id", "score", "km10", "c_commute", "c_rent", "c_wait", "c_size")


async def check(app: Any) -> bool:
    """Pruned and exhaustive statements give the same proposals, in the same order (see the module's docstring)."""
    everything = PageParams(limit=1_000_000, offset=0)
    async with app.state.sessionmaker() as session:
        households = (
            await session.execute(text("SELECT id FROM households WHERE reference LIKE 'BENCH-%' ORDER BY id LIMIT 6"))
        ).scalars()
        openings = (await session.execute(text("SELECT id, rome_code FROM job_openings ORDER BY id LIMIT 3"))).all()
        units = (await session.execute(text("SELECT id FROM housing_units ORDER BY id LIMIT 2"))).scalars()
        queries: list[repository.Query] = []
        common: dict[str, Any] = {"today": today(), "max_wait_days": 60}
        for n, household in enumerate(households):
            for k in (1, 2, 3, 10):
                queries.append(
                    repository.Query(
                        "household",
                        related=n % 2 == 1,
                        max_commute_km=None if n < 4 else 12,
                        household_id=household,
                        units_per_opening=k,
                        **common,
                    )
                )
        for opening, rome_code in openings:
            queries.append(
                repository.Query(
                    "opening", related=False, max_commute_km=None, opening_id=opening, rome_code=rome_code, **common
                )
            )
        for unit in units:
            queries.append(repository.Query("unit", related=False, max_commute_km=None, unit_id=unit, **common))
        ok = True
        for query in queries:
            pruned = await repository.proposals(session, query, everything)
            exhaustive = await repository.proposals(session, replace(query, prune=False), everything)
            same = [[r[c] for c in COMPARED] for r in pruned.rows] == [
                [r[c] for c in COMPARED] for r in exhaustive.rows
            ]
            ok = ok and same and pruned.total == exhaustive.total
            print(
                f"check {query.mode:<9} k={query.units_per_opening:<2} related={query.related!s:<5} "
                f"{pruned.total:>6} proposals  {'same' if same else 'DIFFERENT'}"
            )
    return ok


def report(label: str, times: list[float], total: int, target: float | None) -> bool:
    median, worst = statistics.median(times), max(times)
    verdict = "" if target is None else ("  OK" if median <= target else f"  OVER {target:.0f} ms")
    print(f"{label:<40} median {median:6.1f} ms   worst {worst:6.1f} ms   proposals {total:>7}{verdict}")
    return target is None or median <= target


async def main(args: argparse.Namespace, url: str) -> int:
    # As a worker runs (its lifespan: the startup objects frozen out of the garbage collector's walks), without the
    # background loops, which would query beside the measured requests.
    settings = Settings(
        environment="test",
        DATABASE_URL=url,
        jwt_secret="bench-" + "x" * 40,
        log_level="WARNING",
        worker_in_serve=False,
        retention_scheduler=False,
    )
    app = create_app(settings)
    ids = {"partner": uuid.uuid4(), "landlord": uuid.uuid4(), "operator": uuid.uuid4(), "manager": uuid.uuid4()}
    params: dict[str, Any] = {**ids, "codes": weighted_cantal_communes(), "rome": sorted(ROME_CODES)}
    started = time.perf_counter()
    async with app.state.sessionmaker() as session:
        for statement in SEED:
            await session.execute(text(statement), params)
        await session.commit()
    async with app.state.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
    async with app.state.sessionmaker() as session:
        counts = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM job_openings WHERE status = 'open'),"
                    " (SELECT count(*) FROM housing_units WHERE status = 'vacant'),"
                    " (SELECT count(*) FROM households WHERE stage = 'matching')"
                )
            )
        ).one()
        # A typical household (two adults with codes, two children) and an opening in Aurillac.
        household = (
            await session.execute(
                text(
                    "SELECT h.id FROM households h JOIN household_members m ON m.household_id = h.id"
                    " WHERE h.reference LIKE 'BENCH-%' GROUP BY h.id"
                    " HAVING count(*) FILTER (WHERE m.role = 'child') = 2 ORDER BY h.reference LIMIT 1"
                )
            )
        ).scalar_one()
        opening = (
            await session.execute(
                text(
                    "SELECT o.id FROM job_openings o JOIN employers e ON e.id = o.employer_id"
                    " WHERE e.commune_insee = '15014' ORDER BY o.id LIMIT 1"
                )
            )
        ).scalar_one()
        unit = (
            await session.execute(
                text("SELECT id FROM housing_units WHERE commune_insee = '15014' AND rooms = 4 ORDER BY id LIMIT 1")
            )
        ).scalar_one()
    seeded = time.perf_counter() - started
    token, _ = issue_access_token(
        settings,
        subject_kind="user",
        subject_id=ids["manager"],
        role=Role.SERVICE_MANAGER.value,
        organisation_id=ids["operator"],
    )
    headers = {"Authorization": f"Bearer {token}"}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"PostgreSQL: {url.rsplit('@', 1)[-1].split('?')[0]}   CPUs: {os.cpu_count()}   load average: {load}")
    print(f"seeded in {seeded:.1f} s: {counts[0]} open openings, {counts[1]} vacant units, {counts[2]} households")
    ok = True
    if args.check and not await check(app):
        print("check FAILED: the pruned statement differs from the exhaustive one")
        ok = False
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://bench", timeout=60) as client,
    ):
        questions = [
            ("baseline: GET /communes/15014 (app only)", "/api/v1/communes/15014", None),
            ("suggestions for one household", f"/api/v1/households/{household}/suggestions", TARGET_MS),
            (
                "suggestions, units_per_opening=3",
                f"/api/v1/households/{household}/suggestions?units_per_opening=3",
                None,
            ),
            (
                "suggestions, include_related",
                f"/api/v1/households/{household}/suggestions?include_related=true",
                None,
            ),
            ("candidates for one opening", f"/api/v1/job-openings/{opening}/candidates", TARGET_MS),
            ("candidates for one unit", f"/api/v1/housing-units/{unit}/candidates", None),
        ]
        for _ in range(3):  # warm-up: pool, prepared statements
            for _, url_, _ in questions:
                await ask(client, url_, headers)
        times: dict[str, list[float]] = {label: [] for label, _, _ in questions}
        totals: dict[str, int] = {}
        for _ in range(args.runs):  # interleaved: one request of each question per round
            for label, url_, _ in questions:
                elapsed, totals[label] = await ask(client, url_, headers)
                times[label].append(elapsed)
        for label, _, target in questions:
            ok = report(label, times[label], totals[label], target) and ok
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average after: {load}")
    await app.state.engine.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--check", action="store_true", help="compare with the exhaustive statement first")
    sys.exit(asyncio.run(main(parser.parse_args(), prepare_database("toit_emploi_bench_matching"))))
