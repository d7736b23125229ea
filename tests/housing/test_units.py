"""Housing units: CRUD, who sees and writes what, filters and sorts, ETag/If-Match, input bounds."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Actor, Factory
from tests.housing.conftest import UNITS_URL, Landlord, sync_json, unit
from toit_emploi_api.core import clock
from toit_emploi_api.vocab.roles import OrganisationKind, Role

INTERNALS = {"landlord_reference", "landlord_organisation_id", "last_synced_at"}


def new_unit(ref: str = "U-1", **overrides: Any) -> dict[str, Any]:
    body = unit(ref, **overrides)
    return body


async def create(client: AsyncClient, who: Landlord | Actor, **overrides: Any) -> dict[str, Any]:
    r = await client.post(UNITS_URL, json=new_unit(**overrides), headers=who.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


# ------------------------------------------------------------------------------------------ create / read


async def test_landlord_creates_and_reads_its_unit(client: AsyncClient, polygone: Landlord) -> None:
    r = await client.post(UNITS_URL, json=new_unit(), headers=polygone.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == f"/api/v1/housing-units/{body['id']}"
    assert r.headers["etag"] == '"1"'
    assert body["landlord_organisation_id"] == str(polygone.organisation_id)
    assert (body["rent"], body["charges"], body["status"], body["last_synced_at"]) == (
        "412.30",
        "85.00",
        "vacant",
        None,
    )
    got = await client.get(f"{UNITS_URL}/{body['id']}", headers=polygone.headers)
    assert got.status_code == 200
    assert got.json() == body
    assert got.headers["etag"] == '"1"'


async def test_amounts_are_answered_with_two_decimals(client: AsyncClient, polygone: Landlord) -> None:
    """Whole euros may be sent as JSON numbers; every answer says them as the API's money strings, "400.00"."""
    body = await create(client, polygone, rent=400, charges=0, living_area_m2="64.5")
    assert (body["rent"], body["charges"]) == ("400.00", "0.00")
    got = await client.get(f"{UNITS_URL}/{body['id']}", headers=polygone.headers)
    assert (got.json()["rent"], got.json()["charges"]) == ("400.00", "0.00")
    patched = await client.patch(
        f"{UNITS_URL}/{body['id']}", json={"rent": 401}, headers={**polygone.headers, "If-Match": got.headers["etag"]}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["rent"] == "401.00"


async def test_duplicate_reference_is_409_per_landlord(
    client: AsyncClient, polygone: Landlord, other_landlord: Landlord
) -> None:
    await create(client, polygone, ref="DUP")
    r = await client.post(UNITS_URL, json=new_unit("DUP"), headers=polygone.headers)
    assert r.status_code == 409
    assert r.json()["type"].endswith("landlord-reference-taken")
    await create(client, other_landlord, ref="DUP")  # another landlord may use it


async def test_service_manager_and_admin_must_name_a_landlord(
    client: AsyncClient, service_manager: Actor, admin: Actor, polygone: Landlord, actors: Factory
) -> None:
    r = await client.post(UNITS_URL, json=new_unit(), headers=service_manager.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "landlord_organisation_id"
    funder_org = await actors.organisation(OrganisationKind.FUNDER)
    r = await client.post(
        UNITS_URL, json={**new_unit(), "landlord_organisation_id": str(funder_org)}, headers=admin.headers
    )
    assert r.status_code == 422
    body = {**new_unit(), "landlord_organisation_id": str(polygone.organisation_id)}
    r = await client.post(UNITS_URL, json=body, headers=service_manager.headers)
    assert r.status_code == 201
    assert r.json()["landlord_organisation_id"] == str(polygone.organisation_id)


async def test_landlord_cannot_create_for_another_landlord(
    client: AsyncClient, polygone: Landlord, other_landlord: Landlord
) -> None:
    body = {**new_unit(), "landlord_organisation_id": str(other_landlord.organisation_id)}
    assert (await client.post(UNITS_URL, json=body, headers=polygone.headers)).status_code == 422


@pytest.mark.parametrize("status", ["reserved", "let"])
async def test_create_refuses_pipeline_statuses(client: AsyncClient, polygone: Landlord, status: str) -> None:
    r = await client.post(UNITS_URL, json={**new_unit(), "status": status}, headers=polygone.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "status"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("colour", "blue"),
        ("street_name", "rue\x00"),
        ("street_name", "x" * 201),
        ("landlord_reference", "x" * 65),
        ("landlord_reference", "   "),
        ("rooms", 0),
        ("rooms", 11),
        ("rent", "-1"),
        ("rent", "412.301"),
        ("rent", "1000000.00"),
        ("living_area_m2", "0"),
        ("commune_insee", "20004"),
        ("postcode", "150"),
        ("dpe_class", "H"),
        ("construction_year", 1200),
        ("latitude", "91"),
        ("floor", 120),
    ],
)
async def test_invalid_input_is_422(client: AsyncClient, polygone: Landlord, field: str, value: Any) -> None:
    r = await client.post(UNITS_URL, json={**new_unit(), field: value}, headers=polygone.headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


# ------------------------------------------------------------------------------------------ who sees what


async def test_landlords_see_only_their_units(
    client: AsyncClient, polygone: Landlord, other_landlord: Landlord
) -> None:
    mine = await create(client, polygone, ref="MINE")
    theirs = await create(client, other_landlord, ref="THEIRS")
    listed = await client.get(UNITS_URL, headers=polygone.headers)
    assert [u["id"] for u in listed.json()["items"]] == [mine["id"]]
    # Even when asking for the other landlord's units.
    listed = await client.get(
        UNITS_URL, headers=polygone.headers, params={"landlord_organisation_id": str(other_landlord.organisation_id)}
    )
    assert listed.json()["total"] == 0
    url = f"{UNITS_URL}/{theirs['id']}"
    assert (await client.get(url, headers=polygone.headers)).status_code == 404
    r = await client.patch(url, json={"rent": "1.00"}, headers={**polygone.headers, "If-Match": '"1"'})
    assert r.status_code == 404
    assert (await client.delete(url, headers={**polygone.headers, "If-Match": '"1"'})).status_code == 404


async def test_service_manager_sees_every_unit_and_filters_by_landlord(
    client: AsyncClient, service_manager: Actor, polygone: Landlord, other_landlord: Landlord
) -> None:
    await create(client, polygone, ref="A")
    await create(client, other_landlord, ref="B")
    assert (await client.get(UNITS_URL, headers=service_manager.headers)).json()["total"] == 2
    r = await client.get(
        UNITS_URL, headers=service_manager.headers, params={"landlord_organisation_id": str(polygone.organisation_id)}
    )
    assert [u["landlord_reference"] for u in r.json()["items"]] == ["A"]


@pytest.mark.parametrize("role", [Role.PARIS_REFERENT, Role.PARTNER_WORKER])
async def test_referents_and_partners_read_vacant_units_without_landlord_internals(
    client: AsyncClient, polygone: Landlord, actors: Factory, role: Role
) -> None:
    vacant = await create(client, polygone, ref="V")
    reserved = await create(client, polygone, ref="R")
    unavailable = await create(client, polygone, ref="N", status="unavailable")
    await actors.set_unit_status(polygone.organisation_id, "R", "reserved")
    reader = await actors.user(role)
    listed = await client.get(UNITS_URL, headers=reader.headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [u["id"] for u in items] == [vacant["id"]]
    assert not INTERNALS & set(items[0])
    got = await client.get(f"{UNITS_URL}/{vacant['id']}", headers=reader.headers)
    assert got.status_code == 200
    assert not INTERNALS & set(got.json())
    assert got.json()["rent"] == "412.30"
    for hidden in (reserved, unavailable):
        assert (await client.get(f"{UNITS_URL}/{hidden['id']}", headers=reader.headers)).status_code == 404
    assert (await client.get(UNITS_URL, headers=reader.headers, params={"status": "reserved"})).json()["total"] == 0
    # Read only.
    assert (await client.post(UNITS_URL, json=new_unit("W"), headers=reader.headers)).status_code == 403
    r = await client.patch(
        f"{UNITS_URL}/{vacant['id']}", json={"rooms": 2}, headers={**reader.headers, "If-Match": '"1"'}
    )
    assert r.status_code == 403


async def test_funders_see_nothing(client: AsyncClient, polygone: Landlord, actors: Factory) -> None:
    u = await create(client, polygone)
    funder = await actors.user(Role.FUNDER)
    assert (await client.get(UNITS_URL, headers=funder.headers)).status_code == 403
    assert (await client.get(f"{UNITS_URL}/{u['id']}", headers=funder.headers)).status_code == 403
    assert (await client.post(UNITS_URL, json=new_unit("F"), headers=funder.headers)).status_code == 403
    assert (await client.get(UNITS_URL)).status_code == 401


# ------------------------------------------------------------------------------------------ filters and sorts


async def test_filters(client: AsyncClient, polygone: Landlord, factory: Factory) -> None:
    units = [
        unit("T1", rooms=1, rent="250.00", charges="40.00", available_from="2026-12-01"),
        unit("T3", rooms=3, rent="412.30", charges="85.00", available_from="2027-02-01", is_relay=True),
        unit(
            "T4", rooms=4, rent="498.10", charges="96.50", available_from=None, commune_insee="15187", postcode="15100"
        ),
        unit("T5", rooms=5, rent="561.90", charges="110.00", available_from="2027-06-01"),
    ]
    await sync_json(client, polygone, units)
    await factory.set_unit_status(polygone.organisation_id, "T5", "let")

    async def refs(**params: Any) -> list[str]:
        r = await client.get(UNITS_URL, headers=polygone.headers, params={**params, "sort": "rooms"})
        assert r.status_code == 200, r.text
        assert r.json()["total"] == len(r.json()["items"])
        return [u["landlord_reference"] for u in r.json()["items"]]

    assert await refs() == ["T1", "T3", "T4", "T5"]
    assert await refs(status="vacant") == ["T1", "T3", "T4"]
    assert await refs(status="let") == ["T5"]
    assert await refs(commune_insee="15187") == ["T4"]
    assert await refs(min_rooms=4) == ["T4", "T5"]
    assert await refs(max_total_rent="497.30") == ["T1", "T3"]  # 412.30 + 85.00 = 497.30 included
    assert await refs(max_total_rent="497.29") == ["T1"]
    assert await refs(available_before="2027-02-01") == ["T1", "T3", "T4"]  # no date: available now
    assert await refs(available_before="2026-12-31") == ["T1", "T4"]
    assert await refs(is_relay="true") == ["T3"]
    assert await refs(is_relay="false", min_rooms=3, status="vacant") == ["T4"]
    bad = await client.get(UNITS_URL, headers=polygone.headers, params={"commune_insee": "ABCDE"})
    assert bad.status_code == 422
    assert (await client.get(UNITS_URL, headers=polygone.headers, params={"sort": "colour"})).status_code == 422


async def test_sorts_and_pagination(client: AsyncClient, polygone: Landlord) -> None:
    await sync_json(
        client,
        polygone,
        [
            unit("S-a", rooms=2, rent="300.00", available_from="2027-03-01"),
            unit("S-b", rooms=4, rent="250.00", available_from=None),
            unit("S-c", rooms=3, rent="450.00", available_from="2026-12-01"),
        ],
    )

    async def order(sort: str, **params: Any) -> list[str]:
        r = await client.get(UNITS_URL, headers=polygone.headers, params={"sort": sort, **params})
        return [u["landlord_reference"] for u in r.json()["items"]]

    assert await order("rent") == ["S-b", "S-a", "S-c"]
    assert await order("-rent") == ["S-c", "S-a", "S-b"]
    assert await order("rooms") == ["S-a", "S-c", "S-b"]
    assert await order("-rooms") == ["S-b", "S-c", "S-a"]
    assert await order("available_from") == ["S-b", "S-c", "S-a"]  # no date = available now, first
    assert await order("-available_from") == ["S-a", "S-c", "S-b"]
    page = await client.get(UNITS_URL, headers=polygone.headers, params={"sort": "rent", "limit": 1, "offset": 1})
    assert page.json()["total"] == 3
    assert [u["landlord_reference"] for u in page.json()["items"]] == ["S-a"]


async def test_list_costs_a_fixed_number_of_statements(
    client: AsyncClient, app: Any, polygone: Landlord, service_manager: Actor
) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async def cost(limit: int) -> int:
        statements.clear()
        event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
        try:
            r = await client.get(UNITS_URL, headers=service_manager.headers, params={"limit": limit})
        finally:
            event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)
        assert r.status_code == 200
        assert len(r.json()["items"]) == min(limit, 40)
        return len(statements)

    await sync_json(client, polygone, [unit(f"C-{i}") for i in range(40)])
    assert await cost(2) == await cost(40) <= 3


# ------------------------------------------------------------------------------------------ update / delete


async def test_patch_requires_if_match_and_bumps_the_etag(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    u = await create(client, polygone)
    url = f"{UNITS_URL}/{u['id']}"
    assert (await client.patch(url, json={"rent": "420.00"}, headers=polygone.headers)).status_code == 428
    r = await client.patch(url, json={"rent": "420.00"}, headers={**polygone.headers, "If-Match": '"7"'})
    assert r.status_code == 412
    r = await client.patch(
        url,
        json={"rent": "420.00", "elevator": True, "dpe_class": None},
        headers={**polygone.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"'
    assert (r.json()["rent"], r.json()["elevator"], r.json()["dpe_class"]) == ("420.00", True, None)
    # A stale ETag after the change.
    r = await client.patch(url, json={"rooms": 2}, headers={**polygone.headers, "If-Match": '"1"'})
    assert r.status_code == 412
    async with sessionmaker() as s:
        details = (
            await s.execute(text("SELECT details FROM audit_events WHERE action = 'housing_unit.update'"))
        ).scalar_one()
    assert details == {"fields": ["dpe_class", "elevator", "rent"]}


async def test_patch_refuses_nulls_on_required_facts_and_unknown_fields(
    client: AsyncClient, polygone: Landlord
) -> None:
    u = await create(client, polygone)
    h = {**polygone.headers, "If-Match": '"1"'}
    r = await client.patch(f"{UNITS_URL}/{u['id']}", json={"rent": None}, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "rent"
    assert (await client.patch(f"{UNITS_URL}/{u['id']}", json={"version": 9}, headers=h)).status_code == 422
    assert (await client.patch(f"{UNITS_URL}/{u['id']}", json={"street_name": "a\x00"}, headers=h)).status_code == 422


async def test_patch_reference_clash_is_409(client: AsyncClient, polygone: Landlord) -> None:
    await create(client, polygone, ref="ONE")
    two = await create(client, polygone, ref="TWO")
    r = await client.patch(
        f"{UNITS_URL}/{two['id']}", json={"landlord_reference": "ONE"}, headers={**polygone.headers, "If-Match": '"1"'}
    )
    assert r.status_code == 409


@pytest.mark.parametrize("status", ["reserved", "let"])
async def test_patch_cannot_set_pipeline_statuses(
    client: AsyncClient, polygone: Landlord, service_manager: Actor, status: str
) -> None:
    u = await create(client, polygone)
    for who in (polygone.actor, service_manager):
        r = await client.patch(
            f"{UNITS_URL}/{u['id']}", json={"status": status}, headers={**who.headers, "If-Match": '"1"'}
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "status"
    r = await client.patch(
        f"{UNITS_URL}/{u['id']}", json={"status": "unavailable"}, headers={**polygone.headers, "If-Match": '"1"'}
    )
    assert r.status_code == 200
    assert r.json()["status"] == "unavailable"


@pytest.mark.parametrize("status", ["reserved", "let"])
async def test_held_units_facts_are_the_programmes(
    client: AsyncClient, polygone: Landlord, service_manager: Actor, factory: Factory, status: str
) -> None:
    u = await create(client, polygone, ref="HELD")
    await factory.set_unit_status(polygone.organisation_id, "HELD", status)
    url = f"{UNITS_URL}/{u['id']}"
    h = {"If-Match": '"2"'}
    r = await client.patch(url, json={"rent": "430.00"}, headers={**polygone.headers, **h})
    assert r.status_code == 409
    assert r.json()["type"].endswith("unit-held-by-programme")
    # Its status belongs to the allocation, for everyone.
    r = await client.patch(url, json={"status": "vacant"}, headers={**service_manager.headers, **h})
    assert r.status_code == 409
    # The service manager may correct a fact.
    r = await client.patch(url, json={"rent": "430.00"}, headers={**service_manager.headers, **h})
    assert r.status_code == 200
    assert r.json()["status"] == status
    assert r.json()["rent"] == "430.00"
    # And nobody deletes it.
    r = await client.delete(url, headers={**service_manager.headers, "If-Match": '"3"'})
    assert r.status_code == 409
    assert r.json()["type"].endswith("unit-allocated")


async def test_delete_vacant_or_unavailable_unit(
    client: AsyncClient, polygone: Landlord, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    u = await create(client, polygone)
    url = f"{UNITS_URL}/{u['id']}"
    assert (await client.delete(url, headers=polygone.headers)).status_code == 428
    assert (await client.delete(url, headers={**polygone.headers, "If-Match": '"5"'})).status_code == 412
    assert (await client.delete(url, headers={**polygone.headers, "If-Match": '"1"'})).status_code == 204
    assert (await client.get(url, headers=polygone.headers)).status_code == 404
    async with sessionmaker() as s:
        actions = (await s.execute(text("SELECT action FROM audit_events ORDER BY at"))).scalars().all()
    assert actions == ["housing_unit.create", "housing_unit.delete"]


async def test_unknown_unit_is_404(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.get(f"{UNITS_URL}/00000000-0000-0000-0000-000000000000", headers=service_manager.headers)
    assert r.status_code == 404


async def test_patch_of_relay_flag_or_status_with_a_booked_stay_is_409(
    client: AsyncClient, polygone: Landlord, service_manager: Actor, actors: Factory
) -> None:
    created = await client.post(UNITS_URL, json=unit("RELAY-1", is_relay=True), headers=polygone.headers)
    assert created.status_code == 201, created.text
    url = f"{UNITS_URL}/{created.json()['id']}"
    partner = await actors.organisation(OrganisationKind.REFERRAL_PARTNER, "Charonne")
    await actors.relay_stay(uuid.UUID(created.json()["id"]), clock.today() + timedelta(days=10), org=partner)
    for who in (polygone, service_manager):
        for change in ({"is_relay": False}, {"status": "unavailable"}, {"is_relay": False, "rent": "1.00"}):
            r = await client.patch(url, json=change, headers={**who.headers, "If-Match": '"1"'})
            assert r.status_code == 409, (change, r.text)
            assert r.json()["type"] == "urn:toit-emploi:problem:unit-has-booked-relay-stay"
    # Other facts may change; sending the current relay flag is no change.
    r = await client.patch(
        url, json={"rent": "430.00", "is_relay": True}, headers={**polygone.headers, "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["rent"], r.json()["is_relay"], r.json()["status"]) == ("430.00", True, "vacant")
