"""Audit trail: who created, changed, read and deleted which household or member; never personal data."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Factory
from tests.households.conftest import BASE, adult, family_body
from toit_emploi_api.vocab.roles import Role


async def test_audit_events(client: AsyncClient, actors: Factory, db: AsyncSession) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    created = await client.post(BASE, json=family_body(), headers=partner.headers)
    h = created.json()
    url = f"{BASE}/{h['id']}"
    await client.get(url, headers=partner.headers)
    await client.patch(url, json={"housing_situation": "street"}, headers=partner.headers | {"If-Match": '"1"'})
    m = (await client.post(f"{url}/members", json=adult("Zoé", "Fabre"), headers=partner.headers)).json()
    await client.patch(
        f"{url}/members/{m['id']}", json={"driving_licence": True}, headers=partner.headers | {"If-Match": '"1"'}
    )
    await client.delete(f"{url}/members/{m['id']}", headers=partner.headers | {"If-Match": '"2"'})
    listed = await client.get(BASE, params={"q": "traore", "has_children": "true"}, headers=partner.headers)
    assert listed.status_code == 200
    # A failed write leaves no trace.
    await client.patch(url, json={"housing_situation": "street"}, headers=partner.headers | {"If-Match": '"1"'})
    assert (await client.delete(url, headers=partner.headers | {"If-Match": "*"})).status_code == 204

    rows = (
        await db.execute(
            text(
                "SELECT action, entity_type, entity_id, household_id, actor_id, actor_role, details"
                " FROM audit_events ORDER BY at, action"
            )
        )
    ).all()
    actions = [r.action for r in rows]
    assert actions == [
        "household.create",
        "household.read",
        "household.update",
        "member.create",
        "member.update",
        "member.delete",
        "household.list",
        "household.delete",
    ]
    assert all(r.actor_id == partner.id and r.actor_role == "partner_worker" for r in rows)
    by_action = {r.action: r for r in rows}
    assert by_action["household.update"].details == {"fields": ["housing_situation"]}
    assert by_action["member.update"].details == {"fields": ["driving_licence"]}
    assert by_action["household.create"].details["members"] == 5
    assert str(by_action["household.delete"].entity_id) == h["id"]
    assert str(by_action["member.create"].entity_id) == m["id"]
    # A list call is one event naming the households shown and the filters used (names, not values).
    assert by_action["household.list"].entity_id is None
    assert by_action["household.list"].details == {"household_ids": [h["id"]], "filters": ["has_children", "q"]}
    # Personal data never reaches the audit trail.
    dump = " ".join(str(r.details) for r in rows)
    birth_dates = [member["birth_date"] for member in h["members"]] + [m["birth_date"]]
    for personal in ("Traoré", "traore", "Zoé", "Fabre", "Ground floor", "Diagnostic file", *birth_dates):
        assert personal not in dump


async def test_possible_duplicates_are_audited_with_the_pairs_shown(
    client: AsyncClient, actors: Factory, db: AsyncSession
) -> None:
    manager = await actors.user(Role.SERVICE_MANAGER)
    first = (await client.post(BASE, json=family_body(), headers=manager.headers)).json()
    second = (await client.post(BASE, json=family_body(), headers=manager.headers)).json()
    r = await client.get(f"{BASE}/possible-duplicates", headers=manager.headers)
    assert r.json()["total"] == 1
    row = (
        await db.execute(
            text("SELECT entity_id, details FROM audit_events WHERE action = 'household.possible_duplicates'")
        )
    ).one()
    assert row.entity_id is None
    assert row.details == {"pairs": [sorted([first["id"], second["id"]])]}
