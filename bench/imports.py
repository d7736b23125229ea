"""Benchmark of the households CSV import (`make bench` runs it after the sync's; not part of the test suite).

The app runs IN PROCESS (``create_app`` + httpx ``ASGITransport``): the times are server-side, from the request
entering the app to the answer leaving it (decoding, CSV reading, validation, duplicate search, inserts, commit,
serialisation), without network. ``Server-Timing`` splits ``parse`` (decoding, CSV, validation, in a worker thread)
and ``sql`` (organisations, duplicates, inserts, audit). Target (issue 14): 5,000 households in at most 10 s.

Database: ``DATABASE_URL`` if set, else the embedded PostgreSQL under ``.data/bench-pg`` with a fresh
``toit_emploi_bench`` database, migrated to head.

Scenario: a partner worker imports 5,000 households (1 to 6 members, about 17,000 lines) as a dry run, then for
real, then a second file of 5,000 households into the now fuller table (the duplicate search runs against 5,000
existing households).

    .venv/bin/python bench/imports.py [--households 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import prepare_database  # noqa: E402 - bench/common.py

from toit_emploi_api.auth.tokens import issue_access_token  # noqa: E402
from toit_emploi_api.core.settings import Settings  # noqa: E402
from toit_emploi_api.main import create_app  # noqa: E402
from toit_emploi_api.vocab.roles import Role  # noqa: E402

URL = "/api/v1/households/import"
TARGET_S = 10.0
HEADER = (
    "cle_foyer;situation_logement;date_consentement;portee_consentement;prenom;nom;date_naissance;role;codes_rome;"
    "permis_conduire;niveau_scolaire"
)
FIRST = ["Awa", "Moussa", "Lina", "Éloïse", "Nour", "Jean", "Fatou", "Karim", "Inès", "Yacine", "Mariam", "Ousmane"]
LAST = ["Traoré", "Diallo", "Ménard", "Benali", "Nguyen", "Petit", "Camara", "Haddad", "Sow", "Lefèvre", "Touré"]
ROME = ["F1703", "F1606", "K1304", "G1602", "H2206", "N4105", "K2204", "I1203", "F1602", "K1302"]
SITUATIONS = ["hotel_115", "shelter", "hosted_by_relatives", "street", "other"]


def make_file(households: int, seed: int) -> bytes:
    rng = random.Random(seed)
    today = date(2026, 11, 23)
    lines = [HEADER]
    for n in range(households):
        key = f"S{seed}-{n}"
        last = rng.choice(LAST)
        situation = rng.choice(SITUATIONS)
        consent = (today - timedelta(days=rng.randint(1, 400))).isoformat()
        adults = rng.choice([1, 2, 2, 2])
        for a in range(adults):
            birth = date(rng.randint(1965, 2002), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
            rome = " ".join(rng.sample(ROME, rng.randint(0, 2))) if a else rng.choice(ROME)
            role = "head" if a == 0 else "partner"
            household_cells = f"{situation};{consent};programme" if a == 0 else ";;"
            licence = rng.choice(["oui", "non", ""])
            lines.append(f"{key};{household_cells};{rng.choice(FIRST)};{last};{birth};{role};{rome};{licence};")
        for _ in range(rng.choice([0, 1, 2, 2, 3, 4])):
            birth = (today - timedelta(days=rng.randint(200, 17 * 365))).isoformat()
            lines.append(f"{key};;;;{rng.choice(FIRST)};{last};{birth};child;;;elementaire")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


async def partner(app: object, settings: Settings) -> dict[str, str]:
    org, user = uuid.uuid4(), uuid.uuid4()
    async with app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        await s.execute(
            text(
                "INSERT INTO organisations (id, name, kind, active, version)"
                " VALUES (:i, :n, 'referral_partner', true, 1)"
            ),
            {"i": org, "n": f"Bench partner {org.hex[:6]}"},
        )
        await s.execute(
            text(
                "INSERT INTO users (id, email, full_name, role, organisation_id, password_hash, active, version)"
                " VALUES (:i, :e, 'Bench partner', 'partner_worker', :o, 'x', true, 1)"
            ),
            {"i": user, "e": f"bench.{user.hex[:8]}@example.org", "o": org},
        )
        await s.commit()
    token, _ = issue_access_token(
        settings, subject_kind="user", subject_id=user, role=Role.PARTNER_WORKER.value, organisation_id=org
    )
    return {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}


async def post(client: AsyncClient, headers: dict[str, str], body: bytes, *, dry_run: bool) -> tuple[float, str]:
    started = time.perf_counter()
    r = await client.post(URL, content=body, headers=headers, params={"dry_run": str(dry_run).lower()})
    elapsed = time.perf_counter() - started
    if r.status_code not in (200, 201):
        raise SystemExit(f"import failed: {r.status_code} {r.text[:800]}")
    report = r.json()
    detail = (
        f"{report['households']:,} households, {report['members']:,} members, "
        f"{len(report['possible_duplicates']):,} possible duplicates; {r.headers.get('server-timing', '')}"
    )
    return elapsed, detail


async def main(args: argparse.Namespace, url: str) -> None:
    settings = Settings(environment="test", DATABASE_URL=url, jwt_secret="bench-" + "x" * 40, log_level="WARNING")
    app = create_app(settings)
    worst = 0.0
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://bench", timeout=300) as client:
        headers = await partner(app, settings)
        await post(client, headers, make_file(20, 99), dry_run=False)  # warm up the pool and prepared statements
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"PostgreSQL: {url.rsplit('@', 1)[-1].split('?')[0]}   CPUs: {os.cpu_count()}   load average: {load}")
        first, second = make_file(args.households, 1), make_file(args.households, 2)
        lines = first.count(b"\n") - 1
        print(f"file: {len(first) / 1024:,.0f} KiB, {lines:,} lines")
        for label, body, dry_run in (
            ("dry run", first, True),
            ("import", first, False),
            ("2nd import", second, False),
        ):
            elapsed, detail = await post(client, headers, body, dry_run=dry_run)
            worst = max(worst, elapsed)
            print(f"{label:<11} {elapsed:6.2f} s   {detail}")
    await app.state.engine.dispose()
    verdict = "OK" if worst <= TARGET_S else "TOO SLOW"
    print(f"worst {worst:.2f} s against a target of {TARGET_S:.0f} s: {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--households", type=int, default=5_000)
    asyncio.run(main(parser.parse_args(), prepare_database("toit_emploi_bench")))
