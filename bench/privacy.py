"""Benchmark of the retention run (`make bench-privacy`; not part of the test suite): anonymising 10,000 due
households must take at most 10 seconds.

Database: ``DATABASE_URL`` if set (its households are left as they are and the bench's are added), otherwise the
embedded PostgreSQL under ``.data/bench-pg`` with a fresh ``toit_emploi_bench`` database, migrated to head.

Data: N withdrawn or completed households whose last contact is 3 years old, each with 4 members (2 adults with
ROME codes, 2 children), 2 stage moves with notes, 2 follow-up entries, 3 audit events, and one stored
Idempotency-Key answer; plus N/10 active files as old (never anonymised automatically) and N/10 recent ones. They
are inserted with set-based SQL (`generate_series`), then the run is timed as the daily job calls it
(`privacy.retention.run`, batches of `TOIT_EMPLOI_RETENTION_BATCH_SIZE` households, each batch one transaction of
a fixed list of set-based statements). The dry run that lists them is timed too, and the result is checked
(every due household anonymised, no other).

Besides wall time the run prints its CPU time: this process's, and the PostgreSQL server's (the postmaster, its
live children and its exited ones, read from /proc: the server must run on this machine, as the embedded one
does). On a shared, loaded machine wall time mostly measures the queue for the CPU; CPU time is the work. With
``--profile`` it also prints, per statement of the batches, the wall time and the CPU time of the backend that ran it.

    .venv/bin/python bench/privacy.py [--households 10000] [--batch 1000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import prepare_database  # noqa: E402 - bench/common.py

from toit_emploi_api.core.database import make_engine, make_sessionmaker  # noqa: E402
from toit_emploi_api.core.settings import Settings  # noqa: E402
from toit_emploi_api.privacy import retention  # noqa: E402

LIMIT_SECONDS = 10.0

SEED = [
    """INSERT INTO organisations (id, name, kind, active, version)
       VALUES (gen_random_uuid(), 'Bench partner ' || gen_random_uuid(), 'referral_partner', true, 1)
       RETURNING id""",
]

HOUSEHOLDS = """
INSERT INTO households (id, reference, referring_organisation_id, created_by_organisation_id, housing_situation,
                        needs_constraints, consent_date, consent_scope, stage, last_contact_date, manager_notes,
                        closure_note, withdrawal_reason, version, created_at)
SELECT gen_random_uuid(), 'BENCH-' || CAST(:tag AS text) || '-' || g, CAST(:org AS uuid), CAST(:org AS uuid),
       'hotel_115',
       'Besoin ' || g, current_date - 1200, 'programme', CAST(:stage AS stage), :last_contact, 'Notes ' || g,
       CASE WHEN CAST(:stage AS text) = 'completed' THEN 'Droit commun ' || g END,
       CASE WHEN CAST(:stage AS text) = 'withdrawn' THEN 'household_declined' END, 1, now() - interval '4 years'
  FROM generate_series(1, CAST(:n AS int)) AS g
"""

CHILDREN = [
    """INSERT INTO household_members (id, household_id, first_name, last_name, first_name_folded, last_name_folded,
                                      birth_date, role, rome_codes, qualifications, version)
       SELECT gen_random_uuid(), h.id, 'Prénom' || r, 'Nom' || h.reference, 'prenom' || r, 'nom' || lower(h.reference),
              DATE '1980-01-01' + (r * 400 + abs(hashtext(h.reference)) % 3000),
              (ARRAY['head', 'partner'])[r]::member_role, ARRAY['F1703'], 'CAP maçon', 1
         FROM households h CROSS JOIN generate_series(1, 2) AS r WHERE h.reference LIKE 'BENCH-' || :tag || '-%'""",
    """INSERT INTO household_members (id, household_id, first_name, last_name, first_name_folded, last_name_folded,
                                      birth_date, role, version)
       SELECT gen_random_uuid(), h.id, 'Enfant' || r, 'Nom' || h.reference, 'enfant' || r, 'nom' || lower(h.reference),
              DATE '2008-01-01' + (r * 700 + abs(hashtext(h.reference)) % 365), 'child', 1
         FROM households h CROSS JOIN generate_series(1, 2) AS r WHERE h.reference LIKE 'BENCH-' || :tag || '-%'""",
    """INSERT INTO stage_transitions (id, household_id, from_stage, to_stage, at, actor_kind, reason, note)
       SELECT gen_random_uuid(), h.id, 'diagnostic', 'matching', now() - interval '3 years 2 months', 'system', NULL,
              'Retenu ' || h.reference
         FROM households h WHERE h.reference LIKE 'BENCH-' || :tag || '-%'""",
    """INSERT INTO stage_transitions (id, household_id, from_stage, to_stage, at, actor_kind, reason, note)
       SELECT gen_random_uuid(), h.id, 'matching', h.stage, now() - interval '3 years', 'system',
              h.withdrawal_reason, 'Parti ' || h.reference
         FROM households h WHERE h.reference LIKE 'BENCH-' || :tag || '-%'""",
    """INSERT INTO follow_up_entries (id, household_id, entry_date, domain, note, author_kind)
       SELECT gen_random_uuid(), h.id, current_date - 1100 - r, 'employment', 'Suivi ' || h.reference, 'system'
         FROM households h CROSS JOIN generate_series(1, 2) AS r WHERE h.reference LIKE 'BENCH-' || :tag || '-%'""",
    """INSERT INTO audit_events (id, at, actor_kind, action, entity_type, entity_id, household_id, details)
       SELECT gen_random_uuid(), now() - interval '3 years', 'system', 'household.read', 'household', h.id, h.id,
              jsonb_build_object('reference', h.reference)
         FROM households h CROSS JOIN generate_series(1, 3) AS r WHERE h.reference LIKE 'BENCH-' || :tag || '-%'""",
    """INSERT INTO idempotency_keys (principal_kind, principal_id, key, request_fingerprint, response_status,
                                     response_body)
       SELECT 'user', gen_random_uuid(), 'k', repeat('0', 64), 201,
              jsonb_build_object('id', h.id::text, 'reference', h.reference)
         FROM households h WHERE h.reference LIKE 'BENCH-' || :tag || '-%'""",
]


def _ticks(pid: int | str, children: bool = False) -> int:
    """utime + stime of one process (and, for the postmaster, of its exited children), in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)


def server_cpu(postmaster: int | None) -> float:
    """CPU seconds used so far by every process of the PostgreSQL server; 0 when it is not on this machine."""
    if postmaster is None:
        return 0.0
    ticks = _ticks(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    ticks += _ticks(entry.name)
            except (OSError, ValueError, IndexError):
                continue  # exited meanwhile
    return ticks / os.sysconf("SC_CLK_TCK")


def profile_statements(engine: Any) -> dict[str, list[float]]:
    """Per statement (its first words): [count, wall seconds, backend CPU seconds], filled as statements run."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    tick = os.sysconf("SC_CLK_TCK")

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        pid = conn.connection.driver_connection.get_server_pid()
        conn.info["bench"] = (pid, time.perf_counter(), _ticks(pid))

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        pid, started, ticks = conn.info.pop("bench")
        entry = totals[" ".join(statement.split())[:70]]
        entry[0] += 1
        entry[1] += time.perf_counter() - started
        entry[2] += (_ticks(pid) - ticks) / tick

    return totals


async def main(args: argparse.Namespace, url: str) -> int:
    settings = Settings(
        environment="test",
        DATABASE_URL=url,
        jwt_secret="bench-" + "x" * 40,
        log_level="WARNING",
        retention_batch_size=args.batch,
    )
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    async with maker() as session:
        data_dir = (await session.execute(text("SELECT current_setting('data_directory')"))).scalar_one()
    try:
        postmaster: int | None = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
        server_cpu(postmaster)
    except (OSError, ValueError, IndexError):
        postmaster = None  # the server is elsewhere: CPU is this process's only
    run_tag = str(int(time.time()) % 100_000)
    n = args.households
    started = time.perf_counter()
    async with maker() as session:
        org = (await session.execute(text(SEED[0]))).scalar_one()
        groups = [
            ("W" + run_tag, "withdrawn", n // 2, "3 years"),
            ("C" + run_tag, "completed", n - n // 2, "3 years"),
            ("A" + run_tag, "follow_up", n // 10, "3 years"),
            ("R" + run_tag, "withdrawn", n // 10, "6 months"),
        ]
        for tag, stage, count, age in groups:
            await session.execute(
                text(HOUSEHOLDS.replace(":last_contact", f"(current_date - interval '{age}')::date")),
                {"tag": tag, "org": org, "stage": stage, "n": count},
            )
            for statement in CHILDREN:
                await session.execute(text(statement), {"tag": tag})
        await session.commit()
        await session.execute(text("ANALYZE"))
    print(f"Inserted {n} due households (+{n // 5} not due) in {time.perf_counter() - started:.1f} s")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"PostgreSQL: {url.rsplit('@', 1)[-1].split('?')[0]}   CPUs: {os.cpu_count()}   load average: {load}")

    started = time.perf_counter()
    dry = await retention.run(maker, settings, dry_run=True)
    print(f"Dry run: {dry.count} households would be anonymised, listed in {time.perf_counter() - started:.2f} s")

    totals = profile_statements(engine) if args.profile else {}
    started, cpu, server = time.perf_counter(), time.process_time(), server_cpu(postmaster)
    result = await retention.run(maker, settings)
    elapsed = time.perf_counter() - started
    cpu, server = time.process_time() - cpu, server_cpu(postmaster) - server
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Run: {result.count} households anonymised in {elapsed:.2f} s wall (batches of {args.batch});"
        f" CPU {cpu + server:.2f} s = this process {cpu:.2f} s + PostgreSQL {server:.2f} s"
        f"{'' if postmaster else ' (server not on this machine: not counted)'}; load average now {load}"
    )
    for statement, (count, wall, backend) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
        print(f"  {wall:6.2f} s wall {backend:6.2f} s backend CPU  {int(count):5d}x  {statement}")

    async with maker() as session:
        left = (
            await session.execute(
                text(
                    "SELECT count(*) FILTER (WHERE anonymised_at IS NULL AND stage IN ('withdrawn', 'completed')"
                    " AND last_contact_date < current_date - interval '2 years'),"
                    " count(*) FILTER (WHERE anonymised_at IS NOT NULL AND (stage = 'follow_up'"
                    " OR last_contact_date > current_date - interval '2 years'))"
                    " FROM households WHERE reference LIKE 'BENCH-%' || :tag || '-%'"
                ),
                {"tag": run_tag},
            )
        ).one()
    await engine.dispose()
    ok = result.count >= n and left == (0, 0) and elapsed <= LIMIT_SECONDS
    print(f"{'OK' if ok else 'FAILED'}: limit {LIMIT_SECONDS:.0f} s; due left {left[0]}, wrongly anonymised {left[1]}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--profile", action="store_true", help="time each statement of the run")
    raise SystemExit(asyncio.run(main(parser.parse_args(), prepare_database("toit_emploi_bench"))))
