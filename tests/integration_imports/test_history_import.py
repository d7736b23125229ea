"""POST /api/v1/history/import: the programme's past households, checked with live work's rules as of each date."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import UnitStatus

URL = "/api/v1/history/import"
NDJSON = {"Content-Type": "application/x-ndjson"}


def d(value: date) -> str:
    return value.isoformat()


def household(key: str, opened: date, **extra: Any) -> dict[str, Any]:
    """A household opened on `opened`: two adults (one with a ROME code) and a child, consent on opening."""
    body: dict[str, Any] = {
        "key": key,
        "created_on": d(opened),
        "housing_situation": "hotel_115",
        "consent_date": d(opened),
        "consent_scope": "programme",
        "members": [
            {"key": "a", "first_name": "Awa", "last_name": f"Famille{key}", "birth_date": "1984-02-01",
             "role": "head", "rome_codes": ["K1304"]},
            {"key": "b", "first_name": "Moussa", "last_name": f"Famille{key}", "birth_date": "1982-05-12",
             "role": "partner"},
            {"key": "c", "first_name": "Lina", "last_name": f"Famille{key}", "birth_date": d(opened - timedelta(2000)),
             "role": "child"},
        ],
    }  # fmt: skip
    body.update(extra)
    return body


def full_path(
    key: str, opened: date, relay: uuid.UUID, unit: uuid.UUID, opening: uuid.UUID, *, end: str = "completed"
) -> dict[str, Any]:
    """Opened → matching (+30 d) → relay stay (+60 d, 4 days) → lease (+64) → follow-up (+120) → completed (+400)."""
    o = opened
    moves = [
        {"to": "matching", "on": d(o + timedelta(30))},
        {"to": "relay_stay", "on": d(o + timedelta(60))},
        {"to": "lease", "on": d(o + timedelta(64))},
        {"to": "follow_up", "on": d(o + timedelta(120))},
    ]
    if end == "completed":
        moves.append({"to": "completed", "on": d(o + timedelta(400))})
    body = household(
        key,
        o,
        moves=moves,
        placements=[
            {"member": "a", "job_opening_id": str(opening), "proposed_on": d(o + timedelta(35)),
             "interview_on": d(o + timedelta(45)), "offered_on": d(o + timedelta(63)), "status": "hired",
             "closed_on": d(o + timedelta(64)), "contract_type": "cdi", "start_date": d(o + timedelta(110))},
        ],
        relay_stays=[
            {"unit_id": str(relay), "start_date": d(o + timedelta(60)), "end_date": d(o + timedelta(63)),
             "family_agrees": True, "employer_agrees": True},
        ],
        allocation={"unit_id": str(unit), "reserved_on": d(o + timedelta(64)),
                    "lease_signed_date": d(o + timedelta(90)), "move_in_date": d(o + timedelta(100))},
        follow_up_entries=[{"entry_date": d(o + timedelta(150)), "domain": "schooling", "note": "École inscrite."}],
    )  # fmt: skip
    if end == "completed":
        body["closure"] = {"date": d(o + timedelta(400)), "note": "Entered droit commun."}
    return body


def withdrawn(key: str, opened: date, after: int, *, retained: bool = True) -> dict[str, Any]:
    moves = [{"to": "matching", "on": d(opened + timedelta(20))}] if retained else []
    reason = "returned_to_paris" if retained else "application_declined"
    moves.append({"to": "withdrawn", "on": d(opened + timedelta(after)), "reason": reason, "note": "Left."})
    return household(key, opened, moves=moves)


def lines(*households: dict[str, Any]) -> bytes:
    return ("\n".join(json.dumps(h, ensure_ascii=False) for h in households) + "\n").encode()


async def post(client: AsyncClient, admin: Actor, body: bytes, **params: str) -> Response:
    return await client.post(URL, content=body, headers=admin.headers | NDJSON, params=params)


async def scalar(db: AsyncSession, sql: str) -> Any:
    await db.rollback()
    return (await db.execute(text(sql))).scalar_one()


async def places(arrange: Factory) -> tuple[uuid.UUID, list[uuid.UUID], uuid.UUID]:
    relay = await arrange.unit(relay=True)
    units = [await arrange.unit(rooms=4) for _ in range(3)]
    return relay, units, await arrange.opening(positions=20)


async def test_a_2015_2019_history_gives_the_programmes_figures(
    client: AsyncClient, admin: Actor, arrange: Factory, db: AsyncSession
) -> None:
    relay, units, opening = await places(arrange)
    history = [
        full_path("2015-01", date(2015, 2, 2), relay, units[0], opening),
        full_path("2016-01", date(2016, 3, 1), relay, units[0], opening),
        full_path("2017-01", date(2017, 5, 2), relay, units[1], opening, end="follow_up"),
        withdrawn("2015-02", date(2015, 6, 1), 90),  # retained, then left during matching
        withdrawn("2018-01", date(2018, 1, 8), 40, retained=False),  # declined at diagnostic
        household("2019-01", date(2019, 9, 2), moves=[{"to": "matching", "on": "2019-10-01"}]),  # still in matching
        household("2019-02", date(2019, 11, 4)),  # application received, still in diagnostic
    ]
    dry = await post(client, admin, lines(*history), dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["id"] is None
    assert await scalar(db, "SELECT count(*) FROM households") == 0

    r = await post(client, admin, lines(*history))
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["stages"] == {"completed": 2, "follow_up": 1, "withdrawn": 2, "matching": 1, "diagnostic": 1}
    assert [h["reference"][:7] for h in report["households"]] == ["TE-2015", "TE-2016", "TE-2017", "TE-2015",
                                                                   "TE-2018", "TE-2019", "TE-2019"]  # fmt: skip
    import_id = report["id"]
    # The funders' table (docs/domain.md): retained = ever moved diagnostic → matching.
    retained = await scalar(
        db, "SELECT count(DISTINCT household_id) FROM stage_transitions WHERE to_stage = 'matching'"
    )
    stage_of: dict[str, str] = dict((await db.execute(text("SELECT reference, stage::text FROM households"))).all())
    assert retained == 5
    assert Counter(stage_of.values()) == Counter(report["stages"])
    installed = await scalar(
        db,
        "SELECT count(*) FROM households h WHERE stage IN ('lease', 'follow_up', 'completed') AND EXISTS"
        " (SELECT 1 FROM stage_transitions t WHERE t.household_id = h.id AND t.to_stage = 'matching')",
    )
    assert installed == 3
    # Every imported fact carries the import's id; dates are the real ones.
    for table in ("households", "household_members", "stage_transitions", "placements", "relay_stays",
                  "housing_allocations", "follow_up_entries"):  # fmt: skip
        assert await scalar(db, f"SELECT count(*) FROM {table} WHERE import_id IS DISTINCT FROM '{import_id}'") == 0
    last_contact = await scalar(db, "SELECT last_contact_date FROM households WHERE reference LIKE 'TE-2015-%' LIMIT 1")
    assert last_contact in (date(2016, 3, 8), date(2015, 8, 30))  # the last fact of each 2015 file
    first_move = await scalar(db, "SELECT min(at)::date FROM stage_transitions")
    assert first_move == date(2015, 3, 4)
    active = await scalar(db, "SELECT count(*) FROM housing_allocations WHERE status = 'lease_signed'")
    assert active == 1  # the household still in follow-up; the completed ones' leases are ended
    got = await client.get(f"/api/v1/history/imports/{import_id}", headers=admin.headers)
    assert got.status_code == 200
    assert got.json()["counts"]["households"] == 7


async def test_order_violations_and_guards_as_of_each_date(client: AsyncClient, admin: Actor, arrange: Factory) -> None:
    relay, units, opening = await places(arrange)
    skip = household("skip", date(2015, 1, 5), moves=[{"to": "relay_stay", "on": "2015-02-01"}])
    backwards = household(
        "backwards", date(2015, 1, 5),
        moves=[{"to": "matching", "on": "2015-03-01"}, {"to": "withdrawn", "on": "2015-02-01",
               "reason": "lost_contact", "note": "No news."}],
    )  # fmt: skip
    late_consent = household("consent", date(2015, 1, 5), consent_date="2015-04-01",
                             moves=[{"to": "matching", "on": "2015-02-01"}])  # fmt: skip
    stay_too_late = full_path("stay", date(2016, 1, 4), relay, units[0], opening)
    stay_too_late["moves"][1]["on"] = "2016-02-13"  # relay_stay before the employer agreed to meet (interview +45)
    resp = await post(client, admin, lines(skip, backwards, late_consent, stay_too_late))
    assert resp.status_code == 422, resp.text
    problems = {(e["key"], e["field"]): e["message"] for e in resp.json()["row_errors"]}
    assert "transition_not_allowed" in problems[("skip", "moves.0.to")]
    assert ("backwards", "moves.1.on") in problems
    assert "consent_missing" in problems[("consent", "moves.0.to")]
    assert "no_placement_with_employer_meeting" in problems[("stay", "moves.1.to")]
    assert {e["line"] for e in resp.json()["row_errors"]} == {1, 2, 3, 4}


async def test_bad_lines_are_all_reported(
    client: AsyncClient, admin: Actor, arrange: Factory, db: AsyncSession
) -> None:
    relay, units, opening = await places(arrange)
    long_stay = full_path("long", date(2016, 1, 4), relay, units[0], opening)
    long_stay["relay_stays"][0]["end_date"] = "2016-03-10"  # 6 days
    overlap = full_path("overlap", date(2016, 1, 4), relay, units[1], opening)  # same apartment, same dates
    body = (
        b'{"key": "broken",\n'  # not JSON
        + lines(
            household("old", date(2013, 12, 31)),  # before the programme
            household("extra", date(2015, 1, 5), favourite_colour="blue"),
            long_stay,
            overlap,
        )
    )
    r = await post(client, admin, body)
    assert r.status_code == 422, r.text
    found = {(e["line"], e["field"]) for e in r.json()["row_errors"]}
    assert (1, "line") in found or any(line == 1 for line, _ in found)
    assert (2, "created_on") in found
    assert (3, "favourite_colour") in found
    assert (4, "relay_stays.0.end_date") in found
    assert (5, "relay_stays.0") in found  # overlaps household "long" of the file
    assert await scalar(db, "SELECT count(*) FROM households") == 0


async def test_encodings(client: AsyncClient, admin: Actor) -> None:
    one = household("é", date(2015, 1, 5))
    latin = json.dumps(one, ensure_ascii=False).encode("cp1252")
    r = await client.post(URL, content=latin, headers=admin.headers | {"Content-Type": "application/x-ndjson"})
    assert r.status_code == 422
    assert r.json()["type"] == "urn:toit-emploi:problem:import-unreadable"
    declared = admin.headers | {"Content-Type": "application/x-ndjson; charset=windows-1252"}
    r = await client.post(URL, content=latin, headers=declared, params={"dry_run": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["households"][0]["key"] == "é"
    assert (
        await client.post(URL, content=b"<a/>", headers=admin.headers | {"Content-Type": "application/xml"})
    ).status_code == 415


async def test_rollback_while_nothing_was_added(
    client: AsyncClient, admin: Actor, arrange: Factory, db: AsyncSession
) -> None:
    relay, units, opening = await places(arrange)
    r = await post(client, admin, lines(full_path("a", date(2015, 2, 2), relay, units[0], opening, end="follow_up")))
    assert r.status_code == 201, r.text
    import_id, household_id = r.json()["id"], r.json()["households"][0]["id"]
    url = f"/api/v1/history/imports/{import_id}"
    # Something added on top: a live follow-up entry. The rollback is refused.
    manager = await arrange.user(Role.SERVICE_MANAGER)
    entry = {"entry_date": date.today().isoformat(), "domain": "benefits", "note": "CAF."}
    added = await client.post(
        f"/api/v1/households/{household_id}/follow-up-entries", json=entry, headers=manager.headers
    )
    assert added.status_code == 201, added.text
    tag = (await client.get(url, headers=admin.headers)).headers["ETag"]
    refused = await client.post(f"{url}/rollback", headers=admin.headers | {"If-Match": tag})
    assert refused.status_code == 409
    assert refused.json()["household_ids"] == [household_id]
    await db.execute(text("DELETE FROM follow_up_entries WHERE import_id IS NULL"))
    await db.commit()
    done = await client.post(f"{url}/rollback", headers=admin.headers | {"If-Match": tag})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "rolled_back"
    assert await scalar(db, "SELECT count(*) FROM households") == 0
    assert await scalar(db, "SELECT count(*) FROM relay_stays") == 0
    again = await client.post(f"{url}/rollback", headers=admin.headers | {"If-Match": done.headers["ETag"]})
    assert again.status_code == 409


async def test_admins_only(client: AsyncClient, actors: Factory) -> None:
    manager = await actors.user(Role.SERVICE_MANAGER)
    r = await client.post(URL, content=lines(household("x", date(2015, 1, 5))), headers=manager.headers | NDJSON)
    assert r.status_code == 403


CSV_HEADER = (
    "cle_foyer;fait;date;situation_logement;date_consentement;portee_consentement;cle_membre;prenom;nom;"
    "date_naissance;role;codes_rome;vers;motif;note"
)


async def test_a_csv_history_one_line_per_fact(client: AsyncClient, admin: Actor, db: AsyncSession) -> None:
    csv = (
        CSV_HEADER + "\n"
        "H1;foyer;2016-03-02;hotel_115;2016-03-02;programme;;;;;;;;;\n"
        "H1;membre;;;;;a;Awa;Traoré;1984-02-01;head;K1304;;;\n"
        "H1;etape;2016-04-11;;;;;;;;;;matching;;\n"
        "H1;etape;2016-06-01;;;;;;;;;;withdrawn;returned_to_paris;Repartie à Paris.\n"
        "H2;foyer;2017-01-09;street;;;;;;;;;;;\n"
        "H2;etape;2017-02-01;;;;;;;;;;withdrawn;application_declined;Dossier non retenu.\n"
    )
    headers = admin.headers | {"Content-Type": "text/csv; charset=windows-1252"}
    r = await client.post(URL, content=csv.encode("cp1252"), headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["stages"] == {"withdrawn": 2}
    reasons = (await db.execute(text("SELECT withdrawal_reason FROM households ORDER BY reference"))).scalars().all()
    assert reasons == ["returned_to_paris", "application_declined"]
    # Each problem is reported on the line of its fact.
    bad = (
        CSV_HEADER + "\n"
        "H3;foyer;2016-03-02;hotel_115;;;;;;;;;;;\n"
        "H3;membre;;;;;a;Awa;Traoré;1984-02-31;head;K1304;;;\n"
        "H3;etape;2016-04-11;;;;;;;;;;matching;;\n"
        "H3;sejour;2016-04-12;;;;;;;;;;;;\n"
        "H4;foyer;2016-03-02;hotel_115;;;;;;;;;;;\n"
        "H4;membre;;;;;a;Awa;Ali;1984-02-01;head;K1304;;;\n"
        "H4;etape;2016-04-11;;;;;;;;;;matching;;\n"
    )
    r = await client.post(URL, content=bad.encode(), headers=admin.headers | {"Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    found = {(e["line"], e["field"]) for e in r.json()["row_errors"]}
    assert found == {(3, "members.0.birth_date"), (5, "fait"), (8, "moves.0.to")}


async def test_current_leases_let_their_unit_and_hires_count_on_their_openings(
    client: AsyncClient, admin: Actor, arrange: Factory, db: AsyncSession
) -> None:
    relay, units, _ = await places(arrange)
    opening = await arrange.opening(positions=2)
    ended = full_path("ended", date(2015, 2, 2), relay, units[0], opening)  # completed: its lease is over
    current = full_path("current", date(2016, 3, 1), relay, units[1], opening, end="follow_up")  # still in its home
    r = await post(client, admin, lines(ended, current))
    assert r.status_code == 201, r.text

    async def unit_status(unit: uuid.UUID) -> str:
        return str(await scalar(db, f"SELECT status::text FROM housing_units WHERE id = '{unit}'"))

    async def opening_state() -> tuple[int, str]:
        await db.rollback()
        row = (
            await db.execute(text(f"SELECT hires_count, status::text FROM job_openings WHERE id = '{opening}'"))
        ).one()
        return int(row[0]), str(row[1])

    assert await unit_status(units[0]) == "vacant"  # a past lease is not a current allocation
    assert await unit_status(units[1]) == "let"
    assert await opening_state() == (2, "filled")  # both past hires took a position: the last one fills it
    unit = await client.get(
        f"/api/v1/housing-units/{units[1]}", headers=(await arrange.user(Role.SERVICE_MANAGER)).headers
    )
    assert unit.status_code == 200
    assert unit.json()["status"] == "let"

    # The same unit again, or one more hire: row problems, nothing written (the dry run says so first).
    again = full_path("again", date(2017, 3, 1), relay, units[1], opening, end="follow_up")
    dry = await post(client, admin, lines(again), dry_run="true")
    assert dry.status_code == 422, dry.text
    problems = {(e["key"], e["field"]): e["message"] for e in dry.json()["row_errors"]}
    assert "active allocation" in problems[("again", "allocation.unit_id")]
    assert "more hires than the job opening's positions" in problems[("again", "placements.0.job_opening_id")]

    # The rollback gives the unit back and takes the hires back.
    import_id = r.json()["id"]
    url = f"/api/v1/history/imports/{import_id}"
    tag = (await client.get(url, headers=admin.headers)).headers["ETag"]
    done = await client.post(f"{url}/rollback", headers=admin.headers | {"If-Match": tag})
    assert done.status_code == 200, done.text
    assert await unit_status(units[1]) == "vacant"
    assert await opening_state() == (0, "open")


async def test_units_and_openings_in_conflict_are_row_problems(
    client: AsyncClient, admin: Actor, arrange: Factory, db: AsyncSession
) -> None:
    relay, units, opening = await places(arrange)
    let_unit = await arrange.unit(rooms=4, status=UnitStatus.LET)
    small_opening = await arrange.opening(positions=1)
    on_let = full_path("on-let", date(2015, 2, 2), relay, let_unit, opening, end="follow_up")
    first = full_path("first", date(2016, 3, 1), relay, units[0], opening, end="follow_up")
    second = full_path("second", date(2017, 3, 1), relay, units[0], opening, end="follow_up")  # same home, still in it
    ended_there = full_path("ended-there", date(2018, 3, 1), relay, units[0], opening)  # a past lease there: fine
    hired_a = full_path("hired-a", date(2015, 6, 1), relay, units[1], small_opening)
    hired_b = full_path("hired-b", date(2016, 6, 1), relay, units[2], small_opening)  # one position only
    never_leased = household(
        "never-leased", date(2019, 1, 7), moves=[{"to": "matching", "on": "2019-02-01"}],
        allocation={"unit_id": str(units[2]), "reserved_on": "2019-02-02", "lease_signed_date": "2019-03-01",
                    "move_in_date": "2019-03-02"},
    )  # fmt: skip
    early = full_path("early", date(2019, 3, 4), relay, units[2], opening)
    early["allocation"]["reserved_on"] = "2019-03-20"  # before the relay stay (+60)
    body = lines(on_let, first, second, ended_there, hired_a, hired_b, never_leased, early)
    r = await post(client, admin, body, dry_run="true")
    assert r.status_code == 422, r.text
    problems = {(e["key"], e["field"]): e["message"] for e in r.json()["row_errors"]}
    assert "the unit is let" in problems[("on-let", "allocation.unit_id")]
    assert "household first of the file" in problems[("second", "allocation.unit_id")]
    assert "more hires" in problems[("hired-b", "placements.0.job_opening_id")]
    assert "reached lease" in problems[("never-leased", "allocation")]
    assert "during relay_stay or lease" in problems[("early", "allocation.reserved_on")]
    assert {key for key, _ in problems} == {"on-let", "second", "hired-b", "never-leased", "early"}
    assert await scalar(db, "SELECT count(*) FROM households") == 0
    assert await scalar(db, f"SELECT hires_count FROM job_openings WHERE id = '{small_opening}'") == 0


async def test_rules_of_live_work_against_what_is_recorded(
    client: AsyncClient, admin: Actor, arrange: Factory, db: AsyncSession
) -> None:
    """A relay stay overlapping one already recorded, a unit with a live allocation, follow-up entries outside
    follow-up, a closure not on the move to completed, a relay apartment as a home, an unknown opening."""
    relay, units, opening = await places(arrange)
    done = await post(client, admin, lines(full_path("first", date(2016, 1, 4), relay, units[0], opening)))
    assert done.status_code == 201, done.text
    live = await arrange.household(stage=Stage.LEASE)
    await arrange.allocation(live.id, units[1])
    overlap = full_path("overlap", date(2016, 1, 6), relay, units[2], opening)  # stay 2016-03-06..09: overlaps
    taken = full_path("taken", date(2017, 1, 4), relay, units[1], opening, end="follow_up")
    entry = full_path("entry", date(2018, 1, 4), relay, units[2], opening)
    entry["follow_up_entries"][0]["entry_date"] = "2018-02-01"  # still in matching then
    closure = full_path("closure", date(2018, 6, 4), relay, units[2], opening)
    closure["closure"]["date"] = "2019-06-01"
    relay_home = full_path("relay-home", date(2019, 1, 7), relay, relay, opening)
    unknown = full_path("unknown", date(2019, 6, 3), relay, units[2], uuid.uuid4())
    r = await post(client, admin, lines(overlap, taken, entry, closure, relay_home, unknown))
    assert r.status_code == 422, r.text
    problems = {(e["key"], e["field"]): e["message"] for e in r.json()["row_errors"]}
    assert "a stay already recorded" in problems[("overlap", "relay_stays.0")]
    assert "active allocation" in problems[("taken", "allocation.unit_id")]
    assert "during follow_up" in problems[("entry", "follow_up_entries.0.entry_date")]
    assert "move to completed" in problems[("closure", "closure.date")]
    assert "relay apartment" in problems[("relay-home", "allocation.unit_id")]
    assert "unknown job opening" in problems[("unknown", "placements.0.job_opening_id")]
    assert await scalar(db, "SELECT count(*) FROM households WHERE import_id IS NOT NULL") == 1


async def test_facts_dated_when_live_work_records_them(
    client: AsyncClient, admin: Actor, arrange: Factory, db: AsyncSession
) -> None:
    """Placements while in matching, relay_stay or lease; relay stays booked in matching or relay_stay and their
    outcome in relay_stay; a home big enough unless an override reason; one open placement per adult and opening."""
    relay, units, opening = await places(arrange)
    small = await arrange.unit(rooms=2)  # one bedroom; a family with a child needs two
    late_placement = full_path("late-placement", date(2015, 1, 5), relay, units[0], opening)
    late_placement["placements"].append(
        {"member": "b", "job_opening_id": str(opening), "proposed_on": "2015-06-01", "status": "proposed"}
    )  # in follow_up then
    early_placement = withdrawn("early-placement", date(2015, 3, 2), 90)
    early_placement["placements"] = [
        {"member": "a", "job_opening_id": str(opening), "proposed_on": "2015-03-10", "status": "proposed"}
    ]  # still in diagnostic
    cut_short = full_path("cut-short", date(2016, 1, 4), relay, units[0], opening)
    cut_short["moves"] = [
        *cut_short["moves"][:2],
        {"to": "withdrawn", "on": "2016-03-05", "reason": "household_declined", "note": "Partis pendant le séjour."},
    ]  # the stay runs 2016-03-04 to 03-07: a withdrawal on 03-05 cancels it (live), it cannot have an outcome
    for key in ("allocation", "follow_up_entries", "closure"):
        cut_short.pop(key)
    placement = cut_short["placements"][0]
    for key in ("offered_on", "closed_on", "contract_type", "start_date"):
        placement.pop(key)
    placement["status"] = "interview"
    too_small = full_path("too-small", date(2017, 1, 2), relay, small, opening)
    twice = withdrawn("twice", date(2018, 1, 8), 90)
    twice["placements"] = [
        {"member": "a", "job_opening_id": str(opening), "proposed_on": "2018-02-10", "status": "proposed"},
        {"member": "a", "job_opening_id": str(opening), "proposed_on": "2018-02-12", "status": "interview",
         "interview_on": "2018-02-20"},
    ]  # fmt: skip
    r = await post(client, admin, lines(late_placement, early_placement, cut_short, too_small, twice))
    assert r.status_code == 422, r.text
    problems = {(e["key"], e["field"]): e["message"] for e in r.json()["row_errors"]}
    assert "while in matching/relay_stay/lease" in problems[("late-placement", "placements.1.proposed_on")]
    assert ("early-placement", "placements.0.proposed_on") in problems
    assert "recorded while in relay_stay" in problems[("cut-short", "relay_stays.0.end_date")]
    assert "needs 2: give an override_reason" in problems[("too-small", "allocation.unit_id")]
    assert "already has an open placement" in problems[("twice", "placements.1")]
    assert len(problems) == 5

    # With its override reason the small home is accepted; a withdrawal cancels the open placements, as live.
    too_small["allocation"]["override_reason"] = "Seul logement disponible près de l'emploi."
    twice["placements"].pop()
    ok = await post(client, admin, lines(too_small, twice))
    assert ok.status_code == 201, ok.text
    rows = (await db.execute(text("SELECT status::text, reason FROM placements ORDER BY created_at"))).all()
    assert [tuple(row) for row in rows] == [("hired", None), ("cancelled", "household_withdrawn")]
    assert await scalar(db, "SELECT override_reason FROM housing_allocations") == (
        "Seul logement disponible près de l'emploi."
    )


async def test_the_applications_steps_inside_diagnostic(client: AsyncClient, admin: Actor, db: AsyncSession) -> None:
    opened = date(2016, 3, 1)
    retained = household("retained", opened, submitted_on="2016-03-10", presented_on="2016-03-20",
                         moves=[{"to": "matching", "on": "2016-04-01"}])  # fmt: skip
    old = household("old", opened, moves=[{"to": "matching", "on": "2016-04-01"}])  # steps not in the file
    waiting = household("waiting", opened, submitted_on="2016-03-10")
    late = household("late", opened, submitted_on="2016-03-10", presented_on="2016-04-05",
                      moves=[{"to": "matching", "on": "2016-04-01"}])  # fmt: skip
    unsent = household("unsent", opened, presented_on="2016-03-20")
    early = household("early", opened, submitted_on="2016-02-20")
    r = await post(client, admin, lines(retained, old, waiting, late, unsent, early))
    assert r.status_code == 422, r.text
    problems = {(e["key"], e["field"]) for e in r.json()["row_errors"]}
    assert problems == {("late", "presented_on"), ("unsent", "presented_on"), ("early", "submitted_on")}
    r = await post(client, admin, lines(retained, old, waiting))
    assert r.status_code == 201, r.text
    assert r.json()["counts"]["stage_transitions"] == 2 + 2 + 1
    rows = await db.execute(
        text(
            "SELECT h.application_status::text, t.kind::text, t.at::date FROM households h"
            " JOIN stage_transitions t ON t.household_id = h.id ORDER BY h.reference, t.at"
        )
    )
    assert [tuple(row) for row in rows] == [
        ("presented", "application_submitted", date(2016, 3, 10)),
        ("presented", "application_presented", date(2016, 3, 20)),
        ("presented", "move", date(2016, 4, 1)),
        ("presented", "move", date(2016, 4, 1)),  # retained: presented by definition
        ("submitted", "application_submitted", date(2016, 3, 10)),
    ]


async def test_an_import_and_a_live_reservation_of_one_unit_at_once(
    client: AsyncClient, admin: Actor, arrange: Factory, db: AsyncSession
) -> None:
    """The import locks the units it names, as a live reservation does: whichever comes second sees the unit taken
    (a row problem for the import, 409 for the reservation), never a 500 nor two holds."""
    relay, _, opening = await places(arrange)
    manager = await arrange.user(Role.SERVICE_MANAGER)
    for round_ in range(4):
        unit = await arrange.unit(rooms=4)
        live = await arrange.household(stage=Stage.RELAY_STAY)
        past = full_path(f"r{round_}", date(2015 + round_, 2, 2), relay, unit, opening, end="follow_up")
        imported, reserved = await asyncio.gather(
            post(client, admin, lines(past)),
            client.post(f"/api/v1/households/{live.id}/allocation", json={"unit_id": str(unit)},
                        headers=manager.headers),
        )  # fmt: skip
        outcome = (imported.status_code, reserved.status_code)
        assert outcome in {(201, 409), (422, 201)}, (imported.text, reserved.text)
        status = await scalar(db, f"SELECT status::text FROM housing_units WHERE id = '{unit}'")
        assert status == ("let" if outcome[0] == 201 else "reserved")
        holds = f"SELECT count(*) FROM housing_allocations WHERE unit_id = '{unit}' AND status <> 'ended'"
        assert await scalar(db, holds) == 1
