"""Gaps closed after a point-by-point audit of issue 12: the stored answers of every POST about a household go with
its anonymisation, the import's duplicates report names the households it showed, application steps and the
manager's member changes are contacts, organisation and API-client changes and token revocations are recorded."""

from __future__ import annotations

from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TEST_PASSWORD, Actor, Factory, etag
from tests.privacy.conftest import SECRET_LAST_NAME, SECRET_NOTE
from toit_emploi_api.core.clock import today
from toit_emploi_api.households.models import Household
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import ApplicationStatus, Stage

EVENTS = "/api/v1/audit-events"


async def stored_answers(db: AsyncSession) -> list[str]:
    await db.rollback()
    rows = (await db.execute(text("SELECT response_body::text FROM idempotency_keys ORDER BY created_at"))).all()
    return [r[0] or "" for r in rows]


async def test_erasure_removes_the_stored_answers_of_every_post_about_the_household(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    h = await arrange.household(stage=Stage.FOLLOW_UP, last_name=SECRET_LAST_NAME)
    kept = await arrange.household(stage=Stage.FOLLOW_UP)

    def keyed(key: str) -> dict[str, str]:
        return {**service_manager.headers, "Idempotency-Key": key}

    entry = {"entry_date": today().isoformat(), "domain": "schooling", "note": SECRET_NOTE}
    for household, key in ((h, "fu-1"), (kept, "fu-2")):
        r = await client.post(f"/api/v1/households/{household.id}/follow-up-entries", json=entry, headers=keyed(key))
        assert r.status_code == 201, r.text
    member = {"first_name": "Anaïs", "last_name": SECRET_LAST_NAME, "birth_date": "2019-04-02", "role": "child"}
    tag = (await client.get(f"/api/v1/households/{h.id}", headers=service_manager.headers)).headers["ETag"]
    r = await client.post(
        f"/api/v1/households/{h.id}/members", json=member, headers={**keyed("member-1"), "If-Match": tag}
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/households/{h.id}/transitions",
        json={"to": "withdrawn", "reason": "household_declined", "note": SECRET_NOTE},
        headers={**keyed("move-1"), "If-Match": await etag(client, service_manager, h.id)},
    )
    assert r.status_code == 201, r.text
    answers = await stored_answers(db)
    assert len(answers) == 4
    assert sum(SECRET_NOTE in a for a in answers) == 3  # two entries and the move: notes are in the answers
    assert sum(SECRET_LAST_NAME in a for a in answers) == 1

    tag = (await client.get(f"/api/v1/households/{h.id}", headers=service_manager.headers)).headers["ETag"]
    r = await client.post(
        f"/api/v1/households/{h.id}/anonymise",
        json={"reason": "erasure_request"},
        headers={**service_manager.headers, "If-Match": tag},
    )
    assert r.status_code == 200, r.text
    answers = await stored_answers(db)
    assert not any(SECRET_LAST_NAME in a for a in answers)
    assert [a for a in answers if SECRET_NOTE in a] == [a for a in answers if str(kept.id) in a]  # the other's stays
    assert len([a for a in answers if str(kept.id) in a]) == 1

    # A replay of an erased answer does not bring the data back: the file is closed.
    r = await client.post(f"/api/v1/households/{h.id}/follow-up-entries", json=entry, headers=keyed("fu-1"))
    assert r.status_code == 409, r.text
    answers = await stored_answers(db)
    assert [a for a in answers if SECRET_NOTE in a] == [a for a in answers if str(kept.id) in a]


async def test_the_imports_duplicates_report_is_in_the_access_log_of_the_households_it_named(
    client: AsyncClient, actors: Factory, admin: Actor
) -> None:
    manager = await actors.user(Role.SERVICE_MANAGER)
    existing = await actors.household(first_name="Awa", last_name="Traore", adults=1, children=0)
    unrelated = await actors.household(first_name="Jean", last_name="Petit", adults=1, children=0)
    header = (
        "cle_foyer;situation_logement;date_consentement;portee_consentement;prenom;nom;date_naissance;role;codes_rome"
    )
    file = f"{header}\nF1;street;;;awa0;TRAORE;1985-03-14;head;\n"
    r = await client.post(
        "/api/v1/households/import",
        content=file.encode(),
        params={"dry_run": "true"},
        headers={**manager.headers, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert [d["household_id"] for d in r.json()["possible_duplicates"]] == [str(existing.id)]

    r = await client.get(f"/api/v1/households/{existing.id}/access-log", headers=admin.headers)
    [event] = [e for e in r.json()["items"] if e["action"] == "household.import"]
    assert event["actor"]["id"] == str(manager.id)
    assert event["details"]["possible_duplicates"] == 1
    r = await client.get(f"/api/v1/households/{unrelated.id}/access-log", headers=admin.headers)
    assert [e["action"] for e in r.json()["items"]] == []
    r = await client.get(EVENTS, params={"action": "household.import"}, headers=admin.headers)
    assert r.json()["items"][0]["household_ids"] == [str(existing.id)]


async def test_application_steps_and_the_managers_member_changes_are_contacts(
    client: AsyncClient, arrange: Factory, actors: Factory, service_manager: Actor
) -> None:
    old = today() - timedelta(days=400)
    partner = await actors.user(Role.PARTNER_WORKER)
    h = await arrange.household(org=partner.organisation_id, application=ApplicationStatus.DRAFT)
    await arrange.set_household(h.id, last_contact_date=old)
    r = await client.post(
        f"/api/v1/households/{h.id}/application/submit",
        json={},
        headers={**partner.headers, "If-Match": await etag(client, partner, h.id)},
    )
    assert r.status_code == 201, r.text
    assert (await arrange.fetch(Household, h.id)).last_contact_date == today()

    # A partner worker's member change is not the manager's contact; the service manager's is.
    m = await arrange.household(org=partner.organisation_id)
    await arrange.set_household(m.id, last_contact_date=old)
    child = {"first_name": "Léo", "last_name": "Test", "birth_date": "2020-02-02", "role": "child"}
    for who in (partner, service_manager):
        tag = (await client.get(f"/api/v1/households/{m.id}", headers=who.headers)).headers["ETag"]
        r = await client.post(
            f"/api/v1/households/{m.id}/members", json=child, headers={**who.headers, "If-Match": tag}
        )
        assert r.status_code == 201, r.text
        expected = old if who is partner else today()
        assert (await arrange.fetch(Household, m.id)).last_contact_date == expected
    # Changing or removing a member is a contact too (for the service manager).
    for verb in ("patch", "delete"):
        await arrange.set_household(m.id, last_contact_date=old)
        r = await client.get(f"/api/v1/households/{m.id}/members", headers=service_manager.headers)
        last = r.json()["items"][-1]["id"]
        url = f"/api/v1/households/{m.id}/members/{last}"
        tag = (await client.get(url, headers=service_manager.headers)).headers["ETag"]
        headers = {**service_manager.headers, "If-Match": tag}
        if verb == "patch":
            r = await client.patch(url, json={"first_name": "Léon"}, headers=headers)
        else:
            r = await client.delete(url, headers=headers)
        assert r.status_code in (200, 204), r.text
        assert (await arrange.fetch(Household, m.id)).last_contact_date == today()


async def test_organisation_and_api_client_changes_and_revocations_are_recorded(
    client: AsyncClient, actors: Factory, admin: Actor
) -> None:
    r = await client.post(
        "/api/v1/organisations", json={"name": "Hôtel Social 93", "kind": "referral_partner"}, headers=admin.headers
    )
    assert r.status_code == 201, r.text
    org = r.json()["id"]
    r = await client.get(f"/api/v1/organisations/{org}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/organisations/{org}",
        json={"name": "Hôtel Social 93 (Bobigny)"},
        headers={**admin.headers, "If-Match": r.headers["ETag"]},
    )
    assert r.status_code == 200, r.text
    r = await client.get(EVENTS, params={"object_type": "organisation", "object_id": org}, headers=admin.headers)
    events = r.json()["items"]
    assert [e["action"] for e in events] == ["organisation.update", "organisation.create"]
    assert events[0]["details"] == {"fields": ["name"]}
    assert all(e["actor"]["id"] == str(admin.id) and e["request_id"] for e in events)

    r = await client.post(
        "/api/v1/api-clients",
        json={"name": "Système partenaire", "role": "partner_worker", "organisation_id": org},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    client_id, secret = r.json()["id"], r.json()["client_secret"]
    r = await client.get(f"/api/v1/api-clients/{client_id}", headers=admin.headers)
    r = await client.post(
        f"/api/v1/api-clients/{client_id}/secret", headers={**admin.headers, "If-Match": r.headers["ETag"]}
    )
    assert r.status_code in (200, 201), r.text
    rotated = r.json()["client_secret"]
    r = await client.get(f"/api/v1/api-clients/{client_id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/api-clients/{client_id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": r.headers["ETag"]},
    )
    assert r.status_code == 200, r.text
    r = await client.get(EVENTS, params={"object_type": "api_client", "limit": 50}, headers=admin.headers)
    actions = [e["action"] for e in reversed(r.json()["items"])]
    assert actions[:2] == ["api_client.create", "api_client.secret_rotate"]
    assert set(actions[2:]) == {"api_client.update", "auth.token_revoked"}
    assert secret not in r.text
    assert rotated not in r.text

    # A sign-out (token revocation) is recorded, with the account as its object; never the token.
    user = await actors.user(Role.SERVICE_MANAGER)
    r = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": user.email, "password": TEST_PASSWORD}
    )
    assert r.status_code == 200, r.text
    tokens = r.json()
    r = await client.post(
        "/api/v1/auth/revoke",
        data={"token": tokens.get("refresh_token") or tokens["access_token"]},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert r.status_code == 200, r.text
    r = await client.get(
        EVENTS, params={"action": "auth.token_revoked", "object_id": str(user.id)}, headers=admin.headers
    )
    assert r.json()["total"] == 1
    assert r.json()["items"][0]["details"] == {"cause": "signed_out"}
    assert tokens["access_token"] not in r.text

    # Another organisation's kind of caller never reads the trail.
    partner = await actors.user(Role.PARTNER_WORKER, await actors.organisation(OrganisationKind.REFERRAL_PARTNER))
    assert (await client.get(EVENTS, headers=partner.headers)).status_code == 403
