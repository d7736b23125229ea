"""Who may write when (stage rules), deletion, ETag/If-Match, the service manager's notes, referring organisation."""

from __future__ import annotations

import asyncio

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Actor, Factory
from tests.households.conftest import BASE, adult, create_household, insert_household
from toit_emploi_api.vocab.roles import OrganisationKind, Role

NOT_IN_DIAGNOSTIC = "urn:toit-emploi:problem:household-not-in-diagnostic"
CLOSED = "urn:toit-emploi:problem:household-closed"


async def _patch(client: AsyncClient, actor: Actor, household_id: str, body: dict[str, object]) -> int:
    etag = (await client.get(f"{BASE}/{household_id}", headers=actor.headers)).headers["ETag"]
    r = await client.patch(f"{BASE}/{household_id}", json=body, headers=actor.headers | {"If-Match": etag})
    return r.status_code


@pytest.mark.parametrize("stage", ["matching", "relay_stay", "lease", "follow_up"])
async def test_after_diagnostic_only_the_service_manager_writes(
    client: AsyncClient, actors: Factory, stage: str
) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    referent = await actors.user(Role.PARIS_REFERENT)
    manager = await actors.user(Role.SERVICE_MANAGER)
    h = await create_household(client, partner)
    member_url = f"{BASE}/{h['id']}/members/{h['members'][0]['id']}"
    await actors.set_stage(h["id"], stage)

    for actor in (partner, referent):
        etag = (await client.get(f"{BASE}/{h['id']}", headers=actor.headers)).headers["ETag"]
        writes = [
            client.patch(
                f"{BASE}/{h['id']}", json={"housing_situation": "street"}, headers=actor.headers | {"If-Match": etag}
            ),
            client.post(f"{BASE}/{h['id']}/members", json=adult(), headers=actor.headers),
            client.patch(member_url, json={"driving_licence": True}, headers=actor.headers | {"If-Match": '"1"'}),
            client.delete(member_url, headers=actor.headers),
        ]
        for r in [await w for w in writes]:
            assert r.status_code == 409, r.text
            assert r.json()["type"] == NOT_IN_DIAGNOSTIC
            assert r.json()["stage"] == stage

    # The partner still reads its household's stage and dates.
    seen = (await client.get(f"{BASE}/{h['id']}", headers=partner.headers)).json()
    assert seen["stage"] == stage
    assert "stage_entered_at" in seen
    assert await _patch(client, manager, h["id"], {"housing_situation": "street"}) == 200
    r = await client.patch(member_url, json={"driving_licence": True}, headers=manager.headers | {"If-Match": '"1"'})
    assert r.status_code == 200


@pytest.mark.parametrize("stage", ["completed", "withdrawn"])
async def test_closed_households_are_read_only_for_everyone(
    client: AsyncClient, actors: Factory, admin: Actor, stage: str
) -> None:
    manager = await actors.user(Role.SERVICE_MANAGER)
    h = await create_household(client, manager)
    await actors.set_stage(h["id"], stage)
    for actor in (manager, admin):
        etag = (await client.get(f"{BASE}/{h['id']}", headers=actor.headers)).headers["ETag"]
        r = await client.patch(
            f"{BASE}/{h['id']}", json={"housing_situation": "street"}, headers=actor.headers | {"If-Match": etag}
        )
        assert r.status_code == 409
        assert r.json()["type"] == CLOSED
        r = await client.post(f"{BASE}/{h['id']}/members", json=adult(), headers=actor.headers)
        assert r.json()["type"] == CLOSED


async def test_delete_rules(client: AsyncClient, actors: Factory, admin: Actor, db: AsyncSession) -> None:
    org = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    creator = await actors.user(Role.PARTNER_WORKER, org)
    colleague = await actors.user(Role.PARTNER_WORKER, org)
    manager = await actors.user(Role.SERVICE_MANAGER)

    def tagged(actor: Actor) -> dict[str, str]:
        return actor.headers | {"If-Match": '"1"'}

    h = await create_household(client, creator)
    r = await client.delete(f"{BASE}/{h['id']}", headers=tagged(manager))
    assert r.status_code == 403  # visible to the manager, but not created by its organisation
    await actors.set_stage(h["id"], "matching")
    r = await client.delete(f"{BASE}/{h['id']}", headers=colleague.headers | {"If-Match": "*"})
    assert r.status_code == 409
    assert r.json()["type"] == NOT_IN_DIAGNOSTIC
    assert (await client.delete(f"{BASE}/{h['id']}", headers=admin.headers | {"If-Match": "*"})).status_code == 409

    h2 = await create_household(client, creator)
    unconditional = await client.delete(f"{BASE}/{h2['id']}", headers=colleague.headers)
    assert unconditional.status_code == 428  # one If-Match policy: DELETE requires it too
    assert unconditional.json()["type"] == "urn:toit-emploi:problem:precondition-required"
    stale = await client.delete(f"{BASE}/{h2['id']}", headers=colleague.headers | {"If-Match": '"9"'})
    assert stale.status_code == 412
    assert (await client.delete(f"{BASE}/{h2['id']}", headers=tagged(colleague))).status_code == 204
    assert (await client.get(f"{BASE}/{h2['id']}", headers=colleague.headers)).status_code == 404
    assert (
        await db.execute(text("SELECT count(*) FROM household_members WHERE household_id = :i"), {"i": h2["id"]})
    ).scalar_one() == 0

    # Created by the manager for a partner: the partner cannot delete it, the manager's organisation can.
    h3 = await create_household(client, manager, referring_organisation_id=str(org))
    assert (await client.delete(f"{BASE}/{h3['id']}", headers=tagged(creator))).status_code == 403
    assert (await client.delete(f"{BASE}/{h3['id']}", headers=tagged(manager))).status_code == 204
    h4 = await create_household(client, creator)
    assert (await client.delete(f"{BASE}/{h4['id']}", headers=tagged(admin))).status_code == 204


async def test_patch_requires_if_match_and_returns_new_etag(client: AsyncClient, service_manager: Actor) -> None:
    h = await create_household(client, service_manager)
    url = f"{BASE}/{h['id']}"
    r = await client.patch(url, json={"housing_situation": "street"}, headers=service_manager.headers)
    assert r.status_code == 428
    assert r.json()["type"] == "urn:toit-emploi:problem:precondition-required"
    r = await client.patch(
        url, json={"housing_situation": "street"}, headers=service_manager.headers | {"If-Match": '"0"'}
    )
    assert r.status_code == 412
    r = await client.patch(
        url,
        json={"housing_situation": "street", "last_contact_date": "2026-11-01"},
        headers=service_manager.headers | {"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"2"'
    assert (r.json()["housing_situation"], r.json()["last_contact_date"]) == ("street", "2026-11-01")
    # Nothing changed: the version stays.
    same = await client.patch(
        url, json={"housing_situation": "street"}, headers=service_manager.headers | {"If-Match": '"2"'}
    )
    assert same.headers["ETag"] == '"2"'
    # Clearing an optional field; housing situation cannot be cleared.
    cleared = await client.patch(
        url, json={"last_contact_date": None}, headers=service_manager.headers | {"If-Match": '"2"'}
    )
    assert cleared.json()["last_contact_date"] is None
    bad = await client.patch(
        url, json={"housing_situation": None}, headers=service_manager.headers | {"If-Match": '"3"'}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "housing_situation"
    for field in ("stage", "stage_entered_at", "closure_date", "withdrawal_reason", "reference"):
        r = await client.patch(url, json={field: None}, headers=service_manager.headers | {"If-Match": '"3"'})
        assert r.status_code == 422, field


async def test_concurrent_patches_with_the_same_etag_one_wins(client: AsyncClient, service_manager: Actor) -> None:
    h = await create_household(client, service_manager)
    headers = service_manager.headers | {"If-Match": '"1"'}
    results = await asyncio.gather(
        client.patch(f"{BASE}/{h['id']}", json={"housing_situation": "street"}, headers=headers),
        client.patch(f"{BASE}/{h['id']}", json={"housing_situation": "other"}, headers=headers),
    )
    assert sorted(r.status_code for r in results) == [200, 412]


async def test_manager_notes_are_never_shown_to_partner_workers(client: AsyncClient, actors: Factory) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    referent = await actors.user(Role.PARIS_REFERENT)
    manager = await actors.user(Role.SERVICE_MANAGER)
    household_id, _ = await insert_household(actors, partner.organisation_id)
    url = f"{BASE}/{household_id}"

    staff = (await client.get(url, headers=manager.headers)).json()
    assert staff["manager_notes"] == "secret manager note"
    assert staff["closure_note"] == "secret closure note"
    assert (await client.get(url, headers=referent.headers)).json()["manager_notes"] == "secret manager note"

    for r in (
        await client.get(url, headers=partner.headers),
        await client.get(BASE, headers=partner.headers),
        await client.patch(
            url, json={"last_contact_date": "2026-11-02"}, headers=partner.headers | {"If-Match": '"1"'}
        ),
    ):
        assert r.status_code == 200, r.text
        assert "secret" not in r.text
        assert "manager_notes" not in r.text
        assert "closure_note" not in r.text

    # Writing them is the manager's (and admin's) business.
    r = await client.patch(url, json={"manager_notes": "mine"}, headers=partner.headers | {"If-Match": '"2"'})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "manager_notes"
    r = await client.post(BASE, json={"housing_situation": "shelter", "manager_notes": "x"}, headers=referent.headers)
    assert r.status_code == 422
    r = await client.patch(url, json={"manager_notes": "Met employer."}, headers=manager.headers | {"If-Match": '"2"'})
    assert r.status_code == 200
    assert r.json()["manager_notes"] == "Met employer."


async def test_referring_organisation(client: AsyncClient, actors: Factory) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    manager = await actors.user(Role.SERVICE_MANAGER)
    other = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    landlord = await actors.organisation(OrganisationKind.LANDLORD)

    own = await client.post(
        BASE,
        json={"housing_situation": "shelter", "referring_organisation_id": str(partner.organisation_id)},
        headers=partner.headers,
    )
    assert own.status_code == 201
    r = await client.post(
        BASE, json={"housing_situation": "shelter", "referring_organisation_id": str(other)}, headers=partner.headers
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "referring_organisation_id"

    chosen = await client.post(
        BASE, json={"housing_situation": "shelter", "referring_organisation_id": str(other)}, headers=manager.headers
    )
    assert chosen.status_code == 201
    assert chosen.json()["referring_organisation_id"] == str(other)
    assert chosen.json()["created_by_organisation_id"] == str(manager.organisation_id)
    default = await client.post(BASE, json={"housing_situation": "shelter"}, headers=manager.headers)
    assert default.json()["referring_organisation_id"] == str(manager.organisation_id)
    assert default.json()["manager_notes"] is None  # the staff view carries the field even when empty
    for bad in (landlord, "00000000-0000-0000-0000-000000000001"):
        r = await client.post(
            BASE, json={"housing_situation": "shelter", "referring_organisation_id": str(bad)}, headers=manager.headers
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "referring_organisation_id"

    # Only the service manager (or an admin) moves a household to another referring organisation.
    hid = own.json()["id"]
    r = await client.patch(
        f"{BASE}/{hid}", json={"referring_organisation_id": str(other)}, headers=partner.headers | {"If-Match": '"1"'}
    )
    assert r.status_code == 422
    r = await client.patch(
        f"{BASE}/{hid}", json={"referring_organisation_id": str(other)}, headers=manager.headers | {"If-Match": '"1"'}
    )
    assert r.status_code == 200
    assert (await client.get(f"{BASE}/{hid}", headers=partner.headers)).status_code == 404


async def test_days_in_stage(
    client: AsyncClient, service_manager: Actor, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    h = await create_household(client, service_manager)
    async with sessionmaker() as session:
        await session.execute(text("UPDATE households SET stage_entered_at = now() - interval '3 days 1 hour'"))
        await session.commit()
    assert (await client.get(f"{BASE}/{h['id']}", headers=service_manager.headers)).json()["days_in_stage"] == 3


@pytest.mark.parametrize("role", [Role.FUNDER, Role.LANDLORD])
async def test_funders_and_landlords_have_no_household_access(client: AsyncClient, actors: Factory, role: Role) -> None:
    actor = await actors.user(role)
    for method, url in [
        ("POST", BASE),
        ("GET", f"{BASE}/possible-duplicates"),
    ]:
        r = await client.request(
            method, url, json={"housing_situation": "shelter"} if method == "POST" else None, headers=actor.headers
        )
        assert r.status_code == 403
