"""Possible duplicates: pairs of active households sharing a member (folded names + birth date)."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import event

from tests.factories import Actor, Factory
from tests.households.conftest import BASE, adult, child, create_household
from toit_emploi_api.vocab.roles import OrganisationKind, Role

URL = f"{BASE}/possible-duplicates"


async def test_pairs_of_active_households(client: AsyncClient, actors: Factory, app: Any) -> None:
    manager = await actors.user(Role.SERVICE_MANAGER)
    partner_a = await actors.user(Role.PARTNER_WORKER)
    partner_b = await actors.user(Role.PARTNER_WORKER, await actors.organisation(OrganisationKind.REFERRAL_PARTNER))
    born = "1985-06-15"
    a = await create_household(
        client, partner_a, members=[adult("Benoît", "Lefèvre", birth_date=born), child("Léa", "Lefèvre")]
    )
    # Another organisation knows the same family: creation is not blocked, and nothing tells the partner.
    r = await client.post(
        BASE,
        json={
            "housing_situation": "street",
            "members": [adult("BENOIT", "lefevre", birth_date=born), child("Lea", "LEFEVRE")],
        },
        headers=partner_b.headers,
    )
    assert r.status_code == 201
    assert "duplicate" not in r.text.lower()
    assert str(partner_a.organisation_id) not in r.text
    b = r.json()
    # Same names, other birth date: not a duplicate.
    await create_household(client, partner_b, members=[adult("Benoît", "Lefèvre", birth_date="1985-06-16")])
    # Same person in a closed household: ignored.
    closed = await create_household(client, partner_b, members=[adult("Benoit", "Lefevre", birth_date=born)])
    await actors.set_stage(closed["id"], "withdrawn")

    statements: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(app.state.engine.sync_engine, "before_cursor_execute", listener)
    try:
        r = await client.get(URL, headers=manager.headers)
    finally:
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", listener)
    assert r.status_code == 200, r.text
    assert len([s for s in statements if "household_members" in s]) == 1  # one set-based query
    page = r.json()
    assert page["total"] == 1
    (pair,) = page["items"]
    assert {pair["first"]["id"], pair["second"]["id"]} == {a["id"], b["id"]}
    assert {pair["first"]["referring_organisation_id"], pair["second"]["referring_organisation_id"]} == {
        str(partner_a.organisation_id),
        str(partner_b.organisation_id),
    }
    shared = pair["shared_members"]
    assert len(shared) == 2
    assert shared[0]["birth_date"] == born  # ordered by folded last then first name: Benoît before Léa
    assert shared[0]["first_name"] in ("Benoît", "BENOIT")
    assert all(len(m["member_ids"]) == 2 for m in shared)

    # Closing one of them removes the pair.
    await actors.set_stage(b["id"], "completed")
    assert (await client.get(URL, headers=manager.headers)).json()["total"] == 0


async def test_pagination_past_the_end_keeps_the_total(client: AsyncClient, service_manager: Actor) -> None:
    for _ in range(3):
        await create_household(client, service_manager, members=[adult("Ana", "Lima", birth_date="1990-01-01")])
    page = (await client.get(URL, params={"limit": 2}, headers=service_manager.headers)).json()
    assert (page["total"], len(page["items"])) == (3, 2)
    past = (await client.get(URL, params={"offset": 10}, headers=service_manager.headers)).json()
    assert (past["total"], past["items"]) == (3, [])


async def test_only_service_manager_and_admin(client: AsyncClient, actors: Factory, admin: Actor) -> None:
    assert (await client.get(URL, headers=admin.headers)).status_code == 200
    for role in (Role.PARTNER_WORKER, Role.PARIS_REFERENT, Role.FUNDER, Role.LANDLORD):
        actor = await actors.user(role)
        assert (await client.get(URL, headers=actor.headers)).status_code == 403, role
    assert (await client.get(URL)).status_code == 401
