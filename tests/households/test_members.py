"""Member endpoints: add, read, change, remove; folded names; household ETag follows its members."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory
from tests.households.conftest import BASE, adult, child, create_household, family_body, years_ago
from toit_emploi_api.vocab.roles import Role


async def _etag(client: AsyncClient, actor: Actor, household_id: str) -> str:
    r = await client.get(f"{BASE}/{household_id}", headers=actor.headers)
    assert r.status_code == 200
    return r.headers["ETag"]


async def test_member_lifecycle_changes_the_household_etag(client: AsyncClient, actors: Factory) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    h = await create_household(client, partner)
    url = f"{BASE}/{h['id']}/members"
    etag0 = await _etag(client, partner, h["id"])

    added = await client.post(
        url, json=child("Léa", "Dubois", age=3, schooling_level="maternelle"), headers=partner.headers
    )
    assert added.status_code == 201, added.text
    member = added.json()
    assert added.headers["Location"] == f"{url}/{member['id']}"
    assert member["is_adult"] is False
    etag1 = await _etag(client, partner, h["id"])
    assert etag1 != etag0

    got = await client.get(f"{url}/{member['id']}", headers=partner.headers)
    assert got.status_code == 200
    assert got.json() == member
    member_etag = got.headers["ETag"]

    changed = await client.patch(
        f"{url}/{member['id']}",
        json={"schooling_level": "elementaire", "first_name": "Léana"},
        headers=partner.headers | {"If-Match": member_etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["schooling_level"] == "elementaire"
    assert changed.headers["ETag"] != member_etag
    etag2 = await _etag(client, partner, h["id"])
    assert etag2 != etag1

    # The household PATCH with the ETag read before the member change is now stale.
    stale = await client.patch(
        f"{BASE}/{h['id']}", json={"housing_situation": "street"}, headers=partner.headers | {"If-Match": etag1}
    )
    assert stale.status_code == 412

    listed = await client.get(url, headers=partner.headers)
    assert listed.json()["total"] == 2

    unconditional = await client.delete(f"{url}/{member['id']}", headers=partner.headers)
    assert unconditional.status_code == 428
    assert unconditional.json()["type"] == "urn:toit-emploi:problem:precondition-required"
    stale_delete = await client.delete(f"{url}/{member['id']}", headers=partner.headers | {"If-Match": member_etag})
    assert stale_delete.status_code == 412
    removed = await client.delete(
        f"{url}/{member['id']}", headers=partner.headers | {"If-Match": changed.headers["ETag"]}
    )
    assert removed.status_code == 204
    assert await _etag(client, partner, h["id"]) != etag2
    assert (await client.get(f"{url}/{member['id']}", headers=partner.headers)).status_code == 404
    household = (await client.get(f"{BASE}/{h['id']}", headers=partner.headers)).json()
    assert (household["adult_count"], household["children_count"]) == (1, 0)


async def test_folded_names_are_stored(client: AsyncClient, service_manager: Actor, db: AsyncSession) -> None:
    h = await create_household(client, service_manager, members=[adult("  Jean-Benoît ", "LEFÈVRE")])
    member = h["members"][0]
    assert (member["first_name"], member["last_name"]) == ("Jean-Benoît", "LEFÈVRE")
    row = (await db.execute(text("SELECT first_name_folded, last_name_folded FROM household_members"))).one()
    assert tuple(row) == ("jean benoit", "lefevre")

    r = await client.patch(
        f"{BASE}/{h['id']}/members/{member['id']}",
        json={"last_name": "Œuvray"},
        headers=service_manager.headers | {"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    await db.rollback()
    row = (await db.execute(text("SELECT last_name_folded FROM household_members"))).one()
    assert row[0] == "oeuvray"


async def test_member_patch_requires_if_match(client: AsyncClient, service_manager: Actor) -> None:
    h = await create_household(client, service_manager)
    url = f"{BASE}/{h['id']}/members/{h['members'][0]['id']}"
    missing = await client.patch(url, json={"driving_licence": True}, headers=service_manager.headers)
    assert missing.status_code == 428
    stale = await client.patch(
        url, json={"driving_licence": True}, headers=service_manager.headers | {"If-Match": '"7"'}
    )
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == '"1"'


async def test_member_patch_checks_the_resulting_member(client: AsyncClient, service_manager: Actor) -> None:
    h = await create_household(client, service_manager)
    url = f"{BASE}/{h['id']}/members/{h['members'][0]['id']}"
    headers = service_manager.headers | {"If-Match": '"1"'}

    # An adult becoming a child keeps a profile: each field is named.
    r = await client.patch(url, json={"role": "child", "birth_date": years_ago(10)}, headers=headers)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["rome_codes"]
    # ... unless the profile is cleared in the same request.
    r = await client.patch(
        url,
        json={"role": "child", "birth_date": years_ago(10), "rome_codes": None, "schooling_level": "college"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["rome_codes"] == []

    headers = service_manager.headers | {"If-Match": r.headers["ETag"]}
    for body, field in [
        ({"french_level": "b1"}, "french_level"),
        ({"role": "head"}, "birth_date"),  # a 10-year-old cannot be an adult
        ({"first_name": None}, "first_name"),
        ({"birth_date": None}, "birth_date"),
        ({"role": None}, "role"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"household_id": h["id"]}, "household_id"),
    ]:
        r = await client.patch(url, json=body, headers=headers)
        assert r.status_code == 422, body
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.text)


async def test_add_member_validation(client: AsyncClient, service_manager: Actor) -> None:
    h = await create_household(client, service_manager)
    r = await client.post(
        f"{BASE}/{h['id']}/members", json=adult(schooling_level="lycee"), headers=service_manager.headers
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["schooling_level"]
    r = await client.post(
        f"{BASE}/{h['id']}/members", json=adult(birth_date=years_ago(16)), headers=service_manager.headers
    )
    assert [e["field"] for e in r.json()["errors"]] == ["birth_date"]


async def test_member_limit(client: AsyncClient, service_manager: Actor) -> None:
    h = await create_household(client, service_manager, members=[adult()] * 20)
    r = await client.post(f"{BASE}/{h['id']}/members", json=adult(), headers=service_manager.headers)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:household-members-limit"


async def test_member_of_another_household_is_404(client: AsyncClient, service_manager: Actor) -> None:
    a = await create_household(client, service_manager)
    b = await create_household(client, service_manager, **{"members": family_body()["members"]})
    foreign_member = b["members"][0]["id"]
    for method in ("GET", "PATCH", "DELETE"):
        r = await client.request(
            method,
            f"{BASE}/{a['id']}/members/{foreign_member}",
            json={"driving_licence": True} if method == "PATCH" else None,
            headers=service_manager.headers | {"If-Match": '"1"'},
        )
        assert r.status_code == 404, method
