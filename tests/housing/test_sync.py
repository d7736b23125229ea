"""Polygone's vacancy sync: JSON and CSV, snapshot and delta, idempotency, conflicts, errors, isolation."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Actor, Factory
from tests.housing.conftest import (
    CSV_HEADER,
    SYNC_URL,
    UNITS_URL,
    Landlord,
    csv_line,
    snapshot_rows,
    sync_csv,
    sync_json,
    unit,
)
from toit_emploi_api.core import clock
from toit_emploi_api.vocab.roles import OrganisationKind, Role

EXAMPLE_CSV = Path(__file__).parent / "data" / "polygone-sync.csv"


def counts(body: dict[str, Any]) -> tuple[int, int, int, int]:
    return body["created"], body["updated"], body["unchanged"], body["no_longer_vacant"]


# ------------------------------------------------------------------------------------------ JSON / CSV


async def test_json_snapshot_creates_units_with_their_facts(client: AsyncClient, polygone: Landlord) -> None:
    r = await sync_json(client, polygone, [unit("A-1"), unit("A-2", rooms=4, rent="498.10", is_relay=True)])
    assert r.status_code == 200, r.text
    assert counts(r.json()) == (2, 0, 0, 0)
    assert r.json()["conflicts"] == []
    assert r.json()["errors"] == []
    listed = await client.get("/api/v1/housing-units", headers=polygone.headers, params={"sort": "rooms"})
    items = listed.json()["items"]
    assert [(u["landlord_reference"], u["rooms"], u["rent"], u["is_relay"], u["status"]) for u in items] == [
        ("A-1", 3, "412.30", False, "vacant"),
        ("A-2", 4, "498.10", True, "vacant"),
    ]
    assert items[0]["last_synced_at"] is not None
    assert items[0]["landlord_organisation_id"] == str(polygone.organisation_id)


async def test_example_csv_file_syncs(client: AsyncClient, polygone: Landlord) -> None:
    r = await sync_csv(client, polygone, EXAMPLE_CSV.read_text(encoding="utf-8"))
    assert r.status_code == 200, r.text
    assert counts(r.json()) == (5, 0, 0, 0)
    got = await client.get("/api/v1/housing-units", headers=polygone.headers, params={"commune_insee": "15187"})
    unit_ = got.json()["items"][0]
    assert (unit_["landlord_reference"], unit_["elevator"], unit_["step_free_access"], unit_["dpe_class"]) == (
        "STF-0012",
        True,
        True,
        "B",
    )
    # The same file again writes nothing.
    again = await sync_csv(client, polygone, EXAMPLE_CSV.read_text(encoding="utf-8"))
    assert counts(again.json()) == (0, 0, 5, 0)


async def test_csv_semicolons_and_decimal_commas(client: AsyncClient, polygone: Landlord) -> None:
    body = CSV_HEADER.replace(",", ";") + "\nB-1;15014;15000;12;RUE;des Carmes;2;3;64,5;412,3;85;D;1974;;1\n"
    r = await sync_csv(client, polygone, body)
    assert r.status_code == 200, r.text
    item = (await client.get("/api/v1/housing-units", headers=polygone.headers)).json()["items"][0]
    assert (item["rent"], item["living_area_m2"], item["is_relay"], item["available_from"]) == (
        "412.30",
        "64.50",
        True,
        None,
    )


async def test_csv_windows_1252_when_declared(client: AsyncClient, polygone: Landlord) -> None:
    body = CSV_HEADER + "\n" + csv_line("C-1").replace("des Carmes", "de la République") + "\n"
    headers = {**polygone.headers, "Content-Type": "text/csv; charset=windows-1252"}
    r = await client.post(SYNC_URL, content=body.encode("cp1252"), headers=headers)
    assert r.status_code == 200, r.text
    item = (await client.get("/api/v1/housing-units", headers=polygone.headers)).json()["items"][0]
    assert item["street_name"] == "de la République"


async def test_csv_snapshot_and_delta_modes(client: AsyncClient, polygone: Landlord) -> None:
    first = CSV_HEADER + "\n" + "\n".join(csv_line(f"D-{i}") for i in range(3)) + "\n"
    assert counts((await sync_csv(client, polygone, first)).json()) == (3, 0, 0, 0)
    delta = CSV_HEADER + "\n" + csv_line("D-9") + "\n"
    r = await sync_csv(client, polygone, delta, mode="delta")
    assert r.json()["mode"] == "delta"
    assert counts(r.json()) == (1, 0, 0, 0)  # delta: the others stay vacant
    r = await sync_csv(client, polygone, delta)  # snapshot by default: the three others are gone
    assert counts(r.json()) == (0, 0, 1, 3)
    statuses = {
        u["landlord_reference"]: u["status"]
        for u in (await client.get("/api/v1/housing-units", headers=polygone.headers)).json()["items"]
    }
    assert statuses == {"D-0": "unavailable", "D-1": "unavailable", "D-2": "unavailable", "D-9": "vacant"}


async def test_json_delta_updates_only_what_changed(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_json(client, polygone, [unit("E-1"), unit("E-2"), unit("E-3")])
    before = await snapshot_rows(sessionmaker, polygone.organisation_id)
    r = await sync_json(client, polygone, [unit("E-2", rent="420.00")], mode="delta")
    assert counts(r.json()) == (0, 1, 0, 0)
    after = await snapshot_rows(sessionmaker, polygone.organisation_id)
    assert str(after["E-2"]["rent"]) == "420.00"
    assert after["E-2"]["version"] == before["E-2"]["version"] + 1
    assert after["E-2"]["updated_at"] > before["E-2"]["updated_at"]
    assert after["E-2"]["last_synced_at"] > before["E-2"]["last_synced_at"]
    assert after["E-1"] == before["E-1"]
    assert after["E-3"] == before["E-3"]


async def test_snapshot_revives_an_unavailable_unit_it_lists(client: AsyncClient, polygone: Landlord) -> None:
    await sync_json(client, polygone, [unit("F-1"), unit("F-2")])
    await sync_json(client, polygone, [unit("F-1")])  # F-2 absent: unavailable
    r = await sync_json(client, polygone, [unit("F-1"), unit("F-2")])
    assert counts(r.json()) == (0, 1, 1, 0)
    statuses = [
        u["status"] for u in (await client.get("/api/v1/housing-units", headers=polygone.headers)).json()["items"]
    ]
    assert statuses == ["vacant", "vacant"]


# ------------------------------------------------------------------------------------------ idempotency


async def test_identical_resync_writes_nothing(
    app: FastAPI, client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    units = [unit(f"G-{i}", rent=f"{400 + i}.50", latitude=44.9263123, longitude="2.4399") for i in range(25)]
    assert counts((await sync_json(client, polygone, units)).json()) == (25, 0, 0, 0)
    before = await snapshot_rows(sessionmaker, polygone.organisation_id)
    statements: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", listener)
    try:
        r = await sync_json(client, polygone, units)
    finally:
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", listener)
    assert counts(r.json()) == (0, 0, 25, 0)
    # Every unit found and none locked: the upsert statement is not even run.
    assert [s for s in statements if "FOR UPDATE" in s]
    assert not [s for s in statements if "ON CONFLICT" in s]
    after = await snapshot_rows(sessionmaker, polygone.organisation_id)
    # Same version, updated_at, last_synced_at, and the same physical row version (xmin): nothing was written.
    assert after == before
    csv_units = CSV_HEADER + "\n" + "\n".join(csv_line(f"G-{i}", rent=f"{400 + i}.50") for i in range(25))
    r = await sync_csv(client, polygone, csv_units + "\n")
    # The CSV has no LATITUDE/LONGITUDE columns: the coordinates are cleared (a row is the whole unit).
    assert counts(r.json()) == (0, 25, 0, 0)
    again = await sync_csv(client, polygone, csv_units + "\n")
    assert counts(again.json()) == (0, 0, 25, 0)


# ------------------------------------------------------------------------------------------ conflicts


async def test_reserved_and_let_units_are_never_overwritten(
    factory: Factory, client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_json(client, polygone, [unit("H-1"), unit("H-2"), unit("H-3"), unit("H-4")])
    await factory.set_unit_status(polygone.organisation_id, "H-1", "reserved")
    await factory.set_unit_status(polygone.organisation_id, "H-2", "let")
    await factory.set_unit_status(polygone.organisation_id, "H-3", "reserved")
    before = await snapshot_rows(sessionmaker, polygone.organisation_id)
    r = await sync_json(
        client,
        polygone,
        [unit("H-1", rent="999.00"), unit("H-2", rooms=5, dpe_class="A"), unit("H-3")],  # H-4 absent
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert counts(body) == (0, 0, 1, 1)  # H-3 identical: unchanged; H-4 vacant and absent: unavailable
    assert [(c["landlord_reference"], c["status"], c["fields"]) for c in body["conflicts"]] == [
        ("H-1", "reserved", ["rent"]),
        ("H-2", "let", ["rooms", "dpe_class"]),
    ]
    assert "reserved" in body["conflicts"][0]["reason"]
    after = await snapshot_rows(sessionmaker, polygone.organisation_id)
    for ref in ("H-1", "H-2", "H-3"):
        assert after[ref] == before[ref]
    assert after["H-4"]["status"] == "unavailable"


async def test_snapshot_leaves_reserved_units_absent_from_it(
    factory: Factory, client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_json(client, polygone, [unit("I-1"), unit("I-2")])
    await factory.set_unit_status(polygone.organisation_id, "I-2", "reserved")
    r = await sync_json(client, polygone, [unit("I-1")])
    assert r.json()["no_longer_vacant"] == 0
    assert (await snapshot_rows(sessionmaker, polygone.organisation_id))["I-2"]["status"] == "reserved"


# ------------------------------------------------------------------------------------------ errors


async def test_all_or_nothing_writes_nothing_when_a_row_is_invalid(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_json(client, polygone, [unit("J-1")])
    r = await sync_json(client, polygone, [unit("J-1", rent="500.00"), unit("J-2"), unit("J-3", rent="-1")])
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["type"] == "urn:toit-emploi:problem:sync-invalid-rows"
    assert problem["invalid_rows"] == 1
    assert [(e["row"], e["landlord_reference"], e["field"]) for e in problem["row_errors"]] == [(3, "J-3", "rent")]
    rows = await snapshot_rows(sessionmaker, polygone.organisation_id)
    assert set(rows) == {"J-1"}
    assert str(rows["J-1"]["rent"]) == "412.30"
    async with sessionmaker() as s:
        audits = (
            await s.execute(text("SELECT count(*) FROM audit_events WHERE action = 'housing_unit.sync'"))
        ).scalar()
    assert audits == 1  # the first sync only: the rejected one left no trace


async def test_partial_writes_valid_rows_and_reports_the_others(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_json(client, polygone, [unit("K-1"), unit("K-2"), unit("K-3")])
    r = await sync_json(
        client,
        polygone,
        [unit("K-1", rent="500.00"), unit("K-2", rooms=0), unit("K-4")],  # K-3 absent, K-2 invalid but listed
        partial="true",
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["partial"] is True
    assert counts(body) == (1, 1, 0, 1)
    assert body["invalid_rows"] == 1
    assert [(e["row"], e["landlord_reference"], e["field"]) for e in body["errors"]] == [(2, "K-2", "rooms")]
    rows = await snapshot_rows(sessionmaker, polygone.organisation_id)
    assert {k: v["status"] for k, v in rows.items()} == {
        "K-1": "vacant",
        "K-2": "vacant",  # invalid row: left as it was, not "absent"
        "K-3": "unavailable",
        "K-4": "vacant",
    }
    assert str(rows["K-1"]["rent"]) == "500.00"


async def test_row_errors_name_row_field_and_reason(client: AsyncClient, polygone: Landlord) -> None:
    units: list[Any] = [
        unit("L-1", commune_insee="20004"),  # obsolete Corsican code
        unit("L-2", rent="-12.00"),
        unit("L-3", rooms=0),
        unit("L-4", dpe_class="H"),
        unit("L-5"),
        unit("L-5", rent="500"),
        unit("L-6", colour="blue"),
        unit("L-7", street_name="x" * 201),
        unit("L-8", street_name="12\x00"),
        unit("L-9", rent="412.301"),
        {"commune_insee": "15014"},
        "not an object",
        unit("L-10"),
    ]
    r = await sync_json(client, polygone, units, partial="true")
    assert r.status_code == 200, r.text
    body = r.json()
    found = {(e["row"], e["field"]) for e in body["errors"]}
    assert {
        (1, "commune_insee"),
        (2, "rent"),
        (3, "rooms"),
        (4, "dpe_class"),
        (5, "landlord_reference"),
        (6, "landlord_reference"),
        (7, "colour"),
        (8, "street_name"),
        (9, "street_name"),
        (10, "rent"),
        (11, "landlord_reference"),
        (11, "postcode"),
        (12, "unit"),
    } <= found
    assert (13, "landlord_reference") not in found
    messages = {(e["row"], e["field"]): e["message"] for e in body["errors"]}
    assert "INSEE" in messages[(1, "commune_insee")]
    assert messages[(5, "landlord_reference")] == "duplicate reference in this sync (rows 5, 6)"
    assert messages[(7, "colour")] == "unknown field"
    assert body["invalid_rows"] == 12
    assert body["created"] == 1


async def test_references_equal_but_for_padding_are_duplicates_even_past_200_characters(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # The same reference twice in one body, the second padded past 200 characters (spaces, a tab, a no-break and an
    # ideographic space, which the validation strips): a duplicate on both rows, never two units nor a 500 (the
    # upsert cannot take one key twice).
    for padding in (" " * 250, "\t" * 120 + "\u00a0" * 120, "\u3000" * 210):
        for units in (
            [unit("PAD-1"), unit("PAD-1" + padding)],
            [unit(padding + "PAD-1"), unit("PAD-1", rent="500.00")],
            [unit("PAD-1" + padding, rent="412.3"), unit(" PAD-1 ")],  # neither in canonical form: the full path
        ):
            r = await sync_json(client, polygone, units)
            assert r.status_code == 422, r.text
            problem = r.json()
            assert problem["type"] == "urn:toit-emploi:problem:sync-invalid-rows"
            assert [(e["row"], e["field"], e["landlord_reference"], e["message"]) for e in problem["row_errors"]] == [
                (1, "landlord_reference", "PAD-1", "duplicate reference in this sync (rows 1, 2)"),
                (2, "landlord_reference", "PAD-1", "duplicate reference in this sync (rows 1, 2)"),
            ]
            # With another valid row, and with an invalid one too (the rows are then validated one by one).
            for others, invalid in (([unit("PAD-2")], 2), ([unit("PAD-2"), unit("PAD-3", rooms=0)], 3)):
                r = await sync_json(client, polygone, [*units, *others], partial="true")
                assert r.status_code == 200, r.text
                body = r.json()
                assert (body["invalid_rows"], body["created"] + body["unchanged"]) == (invalid, 1)
                assert [e["landlord_reference"] for e in body["errors"]][:2] == ["PAD-1", "PAD-1"]
        csv_body = CSV_HEADER + "\n" + csv_line("PAD-1") + "\n" + csv_line("PAD-1" + padding) + "\n"
        r = await sync_csv(client, polygone, csv_body)
        assert r.status_code == 422, r.text
        assert [(e["row"], e["field"]) for e in r.json()["row_errors"]] == [(1, "REFLOG"), (2, "REFLOG")]
    rows = await snapshot_rows(sessionmaker, polygone.organisation_id)
    assert sorted(rows) == ["PAD-2"]


async def test_csv_row_errors_use_csv_headers(client: AsyncClient, polygone: Landlord) -> None:
    body = (
        CSV_HEADER
        + "\n"
        + "\n".join(
            [
                csv_line("M-1", depcom="1501"),
                csv_line("M-2", rent="-3"),
                csv_line("M-3", rooms="0"),
                csv_line("M-4", dpe="Z"),
                csv_line("M-5"),
                csv_line("M-5"),
                "M-6,15014,15000",
                csv_line("M-7"),
            ]
        )
        + "\n"
    )
    r = await sync_csv(client, polygone, body)
    assert r.status_code == 422
    errors = {(e["row"], e["field"]) for e in r.json()["row_errors"]}
    assert errors == {
        (1, "DEPCOM"),
        (2, "LOYERPRINC"),
        (3, "NBPIECE"),
        (4, "DPEENERGIE"),
        (5, "REFLOG"),
        (6, "REFLOG"),
        (7, "row"),
    }
    assert (await client.get("/api/v1/housing-units", headers=polygone.headers)).json()["total"] == 0


async def test_wrong_or_missing_csv_header_is_rejected_whole(client: AsyncClient, polygone: Landlord) -> None:
    missing = CSV_HEADER.replace(",LOYERPRINC", "") + "\n"
    r = await sync_csv(client, polygone, missing, partial="true")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "header"
    assert "LOYERPRINC" in r.json()["detail"]
    wrong = CSV_HEADER.replace("NBPIECE", "PIECES") + "\n" + csv_line("N-1") + "\n"
    r = await sync_csv(client, polygone, wrong)
    assert r.status_code == 422
    assert "PIECES" in r.json()["detail"]
    assert (await sync_csv(client, polygone, "")).status_code == 422


async def test_unreadable_bodies(client: AsyncClient, polygone: Landlord) -> None:
    h = {**polygone.headers, "Content-Type": "application/json"}
    assert (await client.post(SYNC_URL, content=b"{not json", headers=h)).status_code == 422
    r = await client.post(SYNC_URL, json={"mode": "full", "units": []}, headers=polygone.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "mode"
    r = await client.post(SYNC_URL, json={"units": [], "extra": 1}, headers=polygone.headers)
    assert r.status_code == 422
    r = await client.post(
        SYNC_URL, json={"mode": "delta", "units": []}, headers=polygone.headers, params={"mode": "snapshot"}
    )
    assert r.status_code == 422
    r = await client.post(
        SYNC_URL, content=b"<units/>", headers={**polygone.headers, "Content-Type": "application/xml"}
    )
    assert r.status_code == 415


async def test_more_than_20000_units_is_413(client: AsyncClient, polygone: Landlord) -> None:
    r = await sync_json(client, polygone, [unit(f"O-{i}") for i in range(20_001)])
    assert r.status_code == 413
    assert r.json()["type"] == "urn:toit-emploi:problem:sync-too-many-units"
    body = CSV_HEADER + "\n" + "\n".join(csv_line(f"O-{i}") for i in range(20_001)) + "\n"
    assert (await sync_csv(client, polygone, body)).status_code == 413


# ------------------------------------------------------------------------------------------ who


async def test_a_landlord_sync_never_touches_another_landlords_units(
    client: AsyncClient, polygone: Landlord, other_landlord: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_json(client, other_landlord, [unit("SAME-1"), unit("OTHER-2")])
    before = await snapshot_rows(sessionmaker, other_landlord.organisation_id)
    # Same reference, different facts, and a snapshot that does not list OTHER-2.
    r = await sync_json(client, polygone, [unit("SAME-1", rent="999.00")])
    assert counts(r.json()) == (1, 0, 0, 0)
    assert await snapshot_rows(sessionmaker, other_landlord.organisation_id) == before
    # A landlord cannot aim its sync at another organisation.
    r = await sync_json(client, polygone, [unit("X")], landlord_organisation_id=str(other_landlord.organisation_id))
    assert r.status_code == 422
    assert await snapshot_rows(sessionmaker, other_landlord.organisation_id) == before


async def test_admin_syncs_for_a_named_landlord(
    client: AsyncClient, admin: Actor, polygone: Landlord, actors: Factory
) -> None:
    r = await sync_json(client, admin, [unit("P-1")])
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "landlord_organisation_id"
    operator = await actors.default_organisation(OrganisationKind.OPERATOR)
    r = await sync_json(client, admin, [unit("P-1")], landlord_organisation_id=str(operator))
    assert r.status_code == 422  # not a landlord
    r = await sync_json(client, admin, [unit("P-1")], landlord_organisation_id=str(polygone.organisation_id))
    assert r.status_code == 200
    assert r.json()["created"] == 1
    listed = await client.get("/api/v1/housing-units", headers=polygone.headers)
    assert [u["landlord_reference"] for u in listed.json()["items"]] == ["P-1"]


async def test_only_landlords_and_admins_sync(client: AsyncClient, actors: Factory) -> None:
    for role in (Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER, Role.FUNDER):
        who = await actors.user(role)
        assert (await sync_json(client, who, [unit("Q-1")])).status_code == 403, role
    assert (await client.post(SYNC_URL, json={"units": []})).status_code == 401


async def test_one_audit_event_per_sync_with_counts_only(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_json(client, polygone, [unit("R-1"), unit("R-2")])
    async with sessionmaker() as s:
        rows = (
            await s.execute(
                text("SELECT action, entity_id, details FROM audit_events WHERE action LIKE 'housing_unit.%'")
            )
        ).all()
    assert len(rows) == 1
    action, entity_id, details = rows[0]
    assert (action, entity_id) == ("housing_unit.sync", polygone.organisation_id)
    assert details["created"] == 2
    assert details["mode"] == "snapshot"
    assert "R-1" not in str(details)


async def test_parallel_syncs_of_one_landlord_serialise(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    units = [unit(f"S-{i}") for i in range(200)]
    results = await asyncio.gather(*(sync_json(client, polygone, units) for _ in range(3)))
    assert [r.status_code for r in results] == [200, 200, 200]
    created = sorted(r.json()["created"] for r in results)
    assert created == [0, 0, 200]  # one created them all; the others found them unchanged
    assert sorted(r.json()["unchanged"] for r in results) == [0, 200, 200]
    rows = await snapshot_rows(sessionmaker, polygone.organisation_id)
    assert len(rows) == 200
    assert {r["version"] for r in rows.values()} == {1}


# ------------------------------------------------------------------------------------------ review fixes


async def test_deeply_nested_json_is_unreadable_not_500(client: AsyncClient, polygone: Landlord) -> None:
    h = {**polygone.headers, "Content-Type": "application/json"}
    for depth in (5000, 150):  # beyond any parser's recursion limit, and below pydantic's but an invalid row
        body = b'{"units": [' + b"[" * depth + b"]" * depth + b"]}"
        r = await client.post(SYNC_URL, content=body, headers=h)
        assert r.status_code == 422, (depth, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json")
    body = b'{"units": [' + b"[" * 5000 + b"]" * 5000 + b"]}"
    r = await client.post(SYNC_URL, content=body, headers=h, params={"partial": "true"})
    assert r.status_code == 422
    assert r.json()["type"] == "urn:toit-emploi:problem:sync-unreadable"


async def _reserve_uncommitted(session: AsyncSession, landlord: Landlord, reference: str) -> None:
    """What the pipeline does when it reserves a unit, left uncommitted in `session` (its row lock held)."""
    await session.execute(
        text(
            "UPDATE housing_units SET status = 'reserved', version = version + 1"
            " WHERE landlord_organisation_id = :o AND landlord_reference = :r"
        ),
        {"o": landlord.organisation_id, "r": reference},
    )


async def test_sync_racing_a_reservation_reports_the_conflict(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_json(client, polygone, [unit("RACE-1"), unit("RACE-2")])
    # Connection A: the pipeline reserving RACE-1, not committed yet.
    async with sessionmaker() as a:
        await a.execute(
            text(
                "SELECT id FROM housing_units WHERE landlord_organisation_id = :o AND landlord_reference = 'RACE-1'"
                " FOR UPDATE"
            ),
            {"o": polygone.organisation_id},
        )
        await _reserve_uncommitted(a, polygone, "RACE-1")
        # Connection B (the request's own): a snapshot changing RACE-1's rent.
        sync = asyncio.create_task(sync_json(client, polygone, [unit("RACE-1", rent="999.00"), unit("RACE-2")]))
        await asyncio.sleep(1.0)
        assert not sync.done()  # the sync waits for the reservation
        await a.commit()
    r = await sync
    assert r.status_code == 200, r.text
    body = r.json()
    assert counts(body) == (0, 0, 1, 0)
    assert [(c["landlord_reference"], c["status"], c["fields"]) for c in body["conflicts"]] == [
        ("RACE-1", "reserved", ["rent"])
    ]
    rows = await snapshot_rows(sessionmaker, polygone.organisation_id)
    assert (rows["RACE-1"]["status"], str(rows["RACE-1"]["rent"])) == ("reserved", "412.30")


async def test_sync_does_not_wait_for_a_locked_unit_it_leaves_as_it_is(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Only the rows the sync may write, clear or report are locked: an identical vacant unit is not, so a
    # transaction holding it (here: reserving it, not committed yet) does not hold up a re-sync, which reports it
    # unchanged, as if the sync had run first; RACE-2's change is applied.
    await sync_json(client, polygone, [unit("RACE-1"), unit("RACE-2")])
    async with sessionmaker() as a:
        await _reserve_uncommitted(a, polygone, "RACE-1")
        r = await asyncio.wait_for(
            sync_json(client, polygone, [unit("RACE-1"), unit("RACE-2", rent="500.00")], mode="delta"), timeout=10
        )
        assert r.status_code == 200, r.text
        assert (counts(r.json()), r.json()["conflicts"]) == ((0, 1, 1, 0), [])
        await a.commit()
    rows = await snapshot_rows(sessionmaker, polygone.organisation_id)
    assert (rows["RACE-1"]["status"], str(rows["RACE-2"]["rent"])) == ("reserved", "500.00")


async def test_relay_apartment_with_a_booked_stay_is_held(
    client: AsyncClient, polygone: Landlord, actors: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    units = [unit("REL-1", is_relay=True), unit("REL-2", is_relay=True), unit("REL-3", is_relay=True), unit("V-1")]
    await sync_json(client, polygone, units)
    partner = await actors.organisation(OrganisationKind.REFERRAL_PARTNER, "Samu social")
    today = clock.today()
    # REL-1: a stay booked from today; REL-2: a stay that ended yesterday; REL-3: a cancelled stay.
    await actors.relay_stay(await actors.unit_id(polygone.organisation_id, "REL-1"), today, org=partner)
    past = today - timedelta(days=3)
    await actors.relay_stay(await actors.unit_id(polygone.organisation_id, "REL-2"), past, org=partner)
    cancelled = await actors.unit_id(polygone.organisation_id, "REL-3")
    await actors.relay_stay(cancelled, today, org=partner, status="cancelled")
    before = await snapshot_rows(sessionmaker, polygone.organisation_id)

    # A delta turning the relay flag off: refused for REL-1 only.
    r = await sync_json(
        client,
        polygone,
        [unit("REL-1", is_relay=False, rent="450.00"), unit("REL-2", is_relay=False), unit("REL-3", is_relay=False)],
        mode="delta",
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert counts(body) == (0, 2, 0, 0)
    assert [(c["landlord_reference"], c["code"], c["status"], c["fields"]) for c in body["conflicts"]] == [
        ("REL-1", "relay_stay_booked", "vacant", ["rent", "is_relay"])
    ]
    after = await snapshot_rows(sessionmaker, polygone.organisation_id)
    assert after["REL-1"] == before["REL-1"]
    # A rent change alone is applied: only the relay flag and the status are held.
    r = await sync_json(client, polygone, [unit("REL-1", is_relay=True, rent="450.00")], mode="delta")
    assert (counts(r.json()), r.json()["conflicts"]) == ((0, 1, 0, 0), [])

    # An empty-of-REL-1 snapshot does not make it unavailable: reported instead.
    r = await sync_json(client, polygone, [unit("V-1")])
    body = r.json()
    assert counts(body) == (0, 0, 1, 2)  # REL-2 and REL-3 (vacant, no current stay) become unavailable
    assert [(c["landlord_reference"], c["code"], c["status"]) for c in body["conflicts"]] == [
        ("REL-1", "relay_stay_booked", "vacant")
    ]
    statuses = {k: v["status"] for k, v in (await snapshot_rows(sessionmaker, polygone.organisation_id)).items()}
    assert statuses == {"REL-1": "vacant", "REL-2": "unavailable", "REL-3": "unavailable", "V-1": "vacant"}


async def test_snapshot_marks_held_units_it_omits_and_a_later_sync_clears_the_mark(
    factory: Factory, client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_json(client, polygone, [unit("HA-1"), unit("HA-2"), unit("HA-3")])
    await factory.set_unit_status(polygone.organisation_id, "HA-1", "reserved")
    await factory.set_unit_status(polygone.organisation_id, "HA-2", "let")

    async def marks() -> dict[str, object]:
        async with sessionmaker() as s:
            rows = await s.execute(
                text(
                    "SELECT landlord_reference, held_absent_since FROM housing_units"
                    " WHERE landlord_organisation_id = :o"
                ),
                {"o": polygone.organisation_id},
            )
            return dict(rows.all())

    before = await snapshot_rows(sessionmaker, polygone.organisation_id)
    r = await sync_json(client, polygone, [unit("HA-3")])
    body = r.json()
    assert counts(body) == (0, 0, 1, 0)
    assert [(c["landlord_reference"], c["code"], c["status"]) for c in body["conflicts"]] == [
        ("HA-1", "held_unit_absent_from_snapshot", "reserved"),
        ("HA-2", "held_unit_absent_from_snapshot", "let"),
    ]
    first = await marks()
    assert first["HA-1"] is not None
    assert first["HA-2"] is not None
    assert first["HA-3"] is None
    after = await snapshot_rows(sessionmaker, polygone.organisation_id)
    for ref in ("HA-1", "HA-2"):  # status, version and updated_at kept: bookkeeping only
        assert {k: v for k, v in after[ref].items() if k != "xmin"} == {
            k: v for k, v in before[ref].items() if k != "xmin"
        }
    # The same snapshot again: still reported, the first date kept, nothing rewritten.
    again = await sync_json(client, polygone, [unit("HA-3")])
    assert len(again.json()["conflicts"]) == 2
    assert await marks() == first
    assert await snapshot_rows(sessionmaker, polygone.organisation_id) == after
    # Shown to the landlord on the unit.
    got = await client.get(UNITS_URL, headers=polygone.headers, params={"status": "reserved"})
    assert got.json()["items"][0]["held_absent_since"] is not None
    # A delta listing HA-1 again (identical) clears its mark; HA-2 (facts differ) is a conflict and is cleared too.
    r = await sync_json(client, polygone, [unit("HA-1"), unit("HA-2", rent="500.00")], mode="delta")
    assert counts(r.json()) == (0, 0, 1, 0)
    assert [(c["landlord_reference"], c["code"]) for c in r.json()["conflicts"]] == [("HA-2", "unit_held_by_programme")]
    assert await marks() == {"HA-1": None, "HA-2": None, "HA-3": None}


async def test_decimals_in_exponent_notation_never_abort_the_sync(client: AsyncClient, polygone: Landlord) -> None:
    units = [
        unit("EXP-1", rent="0E+100000000", charges="1E+2", latitude="4.49263E+1"),  # valid: 0, 100 and 44.9263
        unit("EXP-2", rent="1E+100000000"),  # too large
        unit("EXP-3", living_area_m2="6.45E+1"),
    ]
    r = await sync_json(client, polygone, units, partial="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert counts(body) == (2, 0, 0, 0)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "rent")]
    rows = await client.get(UNITS_URL, headers=polygone.headers, params={"sort": "rent"})
    got = {
        u["landlord_reference"]: (u["rent"], u["charges"], u["latitude"], u["living_area_m2"])
        for u in rows.json()["items"]
    }
    assert got == {"EXP-1": ("0.00", "100.00", "44.926300", "64.50"), "EXP-3": ("412.30", "85.00", None, "64.50")}
    again = await sync_json(client, polygone, units, partial="true")
    assert counts(again.json()) == (0, 0, 2, 0)


async def test_an_empty_snapshot_needs_allow_empty(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await sync_json(client, polygone, [unit("EMP-1"), unit("EMP-2")])
    before = await snapshot_rows(sessionmaker, polygone.organisation_id)
    r = await sync_json(client, polygone, [])
    assert r.status_code == 422
    assert r.json()["type"] == "urn:toit-emploi:problem:sync-empty-snapshot"
    r = await sync_csv(client, polygone, CSV_HEADER + "\n", partial="true")
    assert r.status_code == 422
    assert r.json()["type"] == "urn:toit-emploi:problem:sync-empty-snapshot"
    assert await snapshot_rows(sessionmaker, polygone.organisation_id) == before
    assert (await sync_json(client, polygone, [], mode="delta")).json()["received"] == 0  # a delta may be empty
    r = await sync_json(client, polygone, [], allow_empty="true")
    assert r.status_code == 200, r.text
    assert counts(r.json()) == (0, 0, 0, 2)


async def test_json_numbers_and_booleans_are_strict_references_are_clean_dates_are_sane(
    client: AsyncClient, polygone: Landlord
) -> None:
    in_six_years = (clock.today() + timedelta(days=6 * 366)).isoformat()
    units = [
        unit("ST-1", rooms=True),
        unit("ST-2", rooms="3"),
        unit("ST-3", is_relay=1),
        unit("ST-4", floor=2.5),
        unit("ST\u200b5"),
        unit("ST\u202e6"),
        unit("=HYPERLINK(1)"),
        unit("+33"),
        unit("-7"),
        unit("@SUM"),
        unit("ST-11", available_from="0001-01-01"),
        unit("ST-12", available_from=in_six_years),
        unit("ST-13", available_from="1990-01-01", rooms=4, is_relay=True),
    ]
    r = await sync_json(client, polygone, units, partial="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (1, "rooms"),
        (2, "rooms"),
        (3, "is_relay"),
        (4, "floor"),
        (5, "landlord_reference"),
        (6, "landlord_reference"),
        (7, "landlord_reference"),
        (8, "landlord_reference"),
        (9, "landlord_reference"),
        (10, "landlord_reference"),
        (11, "available_from"),
        (12, "available_from"),
    ]
    assert body["created"] == 1
    assert "1990-01-01" in body["errors"][10]["message"]
    # The CSV keeps its text cells: "1" is a fine boolean and "3" a fine number there; the date bound is the same.
    csv_body = CSV_HEADER + "\n" + csv_line("CS-1") + "\n" + csv_line("CS-2").replace("2026-12-01", "1989-12-31")
    r = await sync_csv(client, polygone, csv_body + "\n", partial="true", mode="delta")
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(2, "DISPONIBLE")]
    assert r.json()["created"] == 1
    # The same reference rule on the unit endpoints.
    r = await client.post(UNITS_URL, json=unit("=cmd|' /C calc'!A0"), headers=polygone.headers)
    assert r.status_code == 422


async def test_csv_charset_names_are_normalised(client: AsyncClient, polygone: Landlord) -> None:
    body = ("\ufeff" + CSV_HEADER + "\n" + csv_line("BOM-1") + "\n").encode("utf-8")
    for charset in ("utf_8", "UTF8", "utf-8"):
        headers = {**polygone.headers, "Content-Type": f"text/csv; charset={charset}"}
        r = await client.post(SYNC_URL, content=body, headers=headers)
        assert r.status_code == 200, (charset, r.text)
    headers = {**polygone.headers, "Content-Type": "text/csv; charset=klingon"}
    assert (await client.post(SYNC_URL, content=body, headers=headers)).status_code == 422
