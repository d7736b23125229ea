"""Audit trail: who created, changed, read and deleted which household or member; never personal data."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Actors
from tests.households.conftest import BASE, adult, family_body
from toit_emploi_api.accounts.roles import Role


async def test_audit_events(client: AsyncClient, actors: Actors, db: AsyncSession) -> None:
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
    await client.delete(f"{url}/members/{m['id']}", headers=partner.headers)
    await client.get(BASE, headers=partner.headers)  # lists are not recorded per household
    # A failed write leaves no trace.
    await client.patch(url, json={"housing_situation": "street"}, headers=partner.headers | {"If-Match": '"1"'})
    assert (await client.delete(url, headers=partner.headers)).status_code == 204

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
        "household.delete",
    ]
    assert all(r.actor_id == partner.id and r.actor_role == "partner_worker" for r in rows)
    by_action = {r.action: r for r in rows}
    assert by_action["household.update"].details == {"fields": ["housing_situation"]}
    assert by_action["member.update"].details == {"fields": ["driving_licence"]}
    assert by_action["household.create"].details["members"] == 5
    assert str(by_action["household.delete"].entity_id) == h["id"]
    assert str(by_action["member.create"].entity_id) == m["id"]
    # Personal data never reaches the audit trail.
    dump = " ".join(str(r.details) for r in rows)
    for personal in ("Traoré", "Zoé", "Fabre", "1986", "Ground floor", "Diagnostic file"):
        assert personal not in dump
