"""Creating and reading households: reference, members, counts, derived fields, roles."""

from __future__ import annotations

from httpx import AsyncClient

from tests.factories import Factory
from tests.households.conftest import BASE, family_body
from toit_emploi_api.core.clock import today
from toit_emploi_api.vocab.roles import Role


async def test_partner_creates_family_with_two_adults_and_three_children(client: AsyncClient, actors: Factory) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    r = await client.post(BASE, json=family_body(), headers=partner.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["reference"].startswith(f"TE-{today().year}-")
    assert len(body["reference"]) == len("TE-2026-0042")
    assert body["stage"] == "diagnostic"
    assert body["days_in_stage"] == 0
    assert body["adult_count"] == 2
    assert body["children_count"] == 3
    assert body["referring_organisation_id"] == str(partner.organisation_id)
    assert len(body["members"]) == 5
    assert "manager_notes" not in body
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == f"{BASE}/{body['id']}"

    got = await client.get(f"{BASE}/{body['id']}", headers=partner.headers)
    assert got.status_code == 200
    assert got.json()["members"] == body["members"]
