"""The audit trail: append-only in the database, complete (request id, actor, lists' households, accounts,
sign-ins, pipeline reads), readable by admins (filters, CSV) and per household (the access log)."""

from __future__ import annotations

import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TEST_PASSWORD, Actor, Factory
from toit_emploi_api.core.audit import allow_anonymisation
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import Stage

EVENTS = "/api/v1/audit-events"


def log_url(household_id: object) -> str:
    return f"/api/v1/households/{household_id}/access-log"


# --- append-only ----------------------------------------------------------------------------------------------
async def test_audit_events_refuse_update_and_delete(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    h = await arrange.household()
    assert (await client.get(f"/api/v1/households/{h.id}", headers=service_manager.headers)).status_code == 200
    for statement in (
        "UPDATE audit_events SET action = 'x'",
        "DELETE FROM audit_events",
        "UPDATE audit_events SET details = NULL",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            await db.execute(text(statement))
        await db.rollback()

    # The retention job's anonymisation may change `details`, and nothing else, in its own transaction only.
    await allow_anonymisation(db)
    await db.execute(text("UPDATE audit_events SET details = '{}'::jsonb"))
    with pytest.raises(DBAPIError, match="append-only"):
        await db.execute(text("UPDATE audit_events SET actor_id = NULL"))
    await db.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        await db.execute(text("UPDATE audit_events SET details = '{}'::jsonb"))  # a new transaction: refused again
    await db.rollback()


async def test_deleting_a_household_keeps_its_trail(
    client: AsyncClient, arrange: Factory, service_manager: Actor, admin: Actor
) -> None:
    h = await arrange.household()
    r = await client.get(f"/api/v1/households/{h.id}", headers=service_manager.headers)
    r = await client.delete(f"/api/v1/households/{h.id}", headers={**admin.headers, "If-Match": r.headers["ETag"]})
    assert r.status_code == 204
    r = await client.get(EVENTS, params={"household_id": str(h.id)}, headers=admin.headers)
    assert [e["action"] for e in r.json()["items"]] == ["household.delete", "household.read"]


# --- what is recorded -----------------------------------------------------------------------------------------
async def test_events_carry_request_id_actor_and_households_shown(
    client: AsyncClient, arrange: Factory, actors: Factory, admin: Actor
) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    mine = await arrange.household(org=partner.organisation_id)
    other = await arrange.household(org=await actors.organisation(OrganisationKind.REFERRAL_PARTNER))
    headers = {**partner.headers, "X-Request-ID": "req-privacy-1"}
    assert (await client.get("/api/v1/households", headers=headers)).status_code == 200

    r = await client.get(EVENTS, params={"action": "household.list"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    [event] = r.json()["items"]
    assert event["request_id"] == "req-privacy-1"
    assert event["actor"] == {"kind": "user", "id": str(partner.id), "role": "partner_worker"}
    assert event["actor_organisation_id"] == str(partner.organisation_id)
    assert event["household_ids"] == [str(mine.id)]

    # The list shows in the access log of the household it showed, not in the other's.
    sm = await actors.user(Role.SERVICE_MANAGER)
    r = await client.get(log_url(mine.id), headers=sm.headers)
    assert [e["action"] for e in r.json()["items"]] == ["household.list"]
    assert "household_ids" not in r.json()["items"][0]
    r = await client.get(log_url(other.id), headers=sm.headers)
    assert r.json()["items"] == []


async def test_account_changes_and_sign_ins_are_recorded_without_secrets(
    client: AsyncClient, actors: Factory, admin: Actor
) -> None:
    org = await actors.partner_org()
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "new.worker@example.org",
            "full_name": "New Worker",
            "role": "partner_worker",
            "organisation_id": str(org),
            "password": TEST_PASSWORD,
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    ok = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "new.worker@example.org", "password": TEST_PASSWORD},
    )
    assert ok.status_code == 200
    bad = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": "new.worker@example.org", "password": "nope"}
    )
    assert bad.status_code == 400
    r = await client.get(f"/api/v1/users/{user_id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/users/{user_id}", json={"active": False}, headers={**admin.headers, "If-Match": r.headers["ETag"]}
    )
    assert r.status_code == 200, r.text

    r = await client.get(EVENTS, params={"object_id": user_id, "limit": 200}, headers=admin.headers)
    events = r.json()["items"]
    actions = [e["action"] for e in reversed(events)]
    assert actions[:4] == ["user.create", "auth.sign_in", "auth.sign_in_failed", "user.read"]
    assert set(actions[4:]) == {"user.update", "auth.token_revoked"}  # one transaction: the same instant
    by_action = {e["action"]: e for e in events}
    assert by_action["user.create"]["actor"]["id"] == str(admin.id)
    assert by_action["auth.sign_in"]["actor"] == {"kind": "user", "id": user_id, "role": "partner_worker"}
    assert by_action["auth.sign_in_failed"]["actor"]["kind"] == "anonymous"
    assert by_action["user.update"]["details"] == {"fields": ["active"]}
    assert TEST_PASSWORD not in r.text
    assert "new.worker@example.org" not in r.text

    # A failed sign-in of an unknown account is recorded too (without the email tried).
    await client.post("/api/v1/auth/token", data={"grant_type": "password", "username": "x@y.org", "password": "z"})
    r = await client.get(EVENTS, params={"action": "auth.sign_in_failed"}, headers=admin.headers)
    assert r.json()["total"] == 2
    assert "x@y.org" not in r.text

    # API clients: creation and secret rotation, never the secret.
    r = await client.post(
        "/api/v1/api-clients",
        json={"name": "Partner system", "role": "partner_worker", "organisation_id": str(org)},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    secret = r.json()["client_secret"]
    r = await client.get(EVENTS, params={"object_type": "api_client"}, headers=admin.headers)
    assert [e["action"] for e in r.json()["items"]] == ["api_client.create"]
    assert secret not in r.text


async def test_pipeline_reads_are_recorded_with_ids_shown(
    client: AsyncClient, arrange: Factory, service_manager: Actor, admin: Actor
) -> None:
    h = await arrange.household(stage=Stage.FOLLOW_UP)
    entry = await arrange.follow_up_entry(h.id, __import__("datetime").date(2026, 1, 5), "École")
    for path in ("follow-up-entries", "transitions", "placements", "relay-stays"):
        assert (
            await client.get(f"/api/v1/households/{h.id}/{path}", headers=service_manager.headers)
        ).status_code == 200
    r = await client.get(log_url(h.id), headers=admin.headers)
    actions = [e["action"] for e in r.json()["items"]]
    assert actions == ["relay_stay.list", "placement.list", "household.history_read", "follow_up_entry.list"]
    assert r.json()["items"][-1]["details"] == {"ids": [str(entry)]}
    # Reading the access log is itself recorded.
    r = await client.get(EVENTS, params={"action": "household.access_log_read"}, headers=admin.headers)
    assert r.json()["items"][0]["household_id"] == str(h.id)


# --- who reads the trail ----------------------------------------------------------------------------------------
async def test_access_log_role_matrix(client: AsyncClient, arrange: Factory, actors: Factory) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    mine = await arrange.household(org=partner.organisation_id)
    later = await arrange.household(org=partner.organisation_id, stage=Stage.MATCHING)
    other = await arrange.household(org=await actors.organisation(OrganisationKind.REFERRAL_PARTNER))

    assert (await client.get(log_url(mine.id), headers=partner.headers)).status_code == 200
    r = await client.get(log_url(later.id), headers=partner.headers)
    assert r.status_code == 403
    assert r.json()["type"].endswith(":household-status-only")
    assert (await client.get(log_url(other.id), headers=partner.headers)).status_code == 404
    for role in (Role.SERVICE_MANAGER, Role.ADMIN):
        user = await actors.user(role)
        assert (await client.get(log_url(other.id), headers=user.headers)).status_code == 200
        assert (await client.get(log_url(uuid.uuid4()), headers=user.headers)).status_code == 404
    for role in (Role.PARIS_REFERENT, Role.FUNDER, Role.LANDLORD):
        user = await actors.user(role)
        assert (await client.get(log_url(mine.id), headers=user.headers)).status_code == 403
    assert (await client.get(log_url(mine.id))).status_code == 401

    # Newest first, paginated.
    sm = await actors.user(Role.SERVICE_MANAGER)
    for _ in range(3):
        await client.get(f"/api/v1/households/{mine.id}", headers=sm.headers)
    r = await client.get(log_url(mine.id), params={"limit": 2}, headers=sm.headers)
    body = r.json()
    assert body["total"] >= 4
    assert len(body["items"]) == 2
    assert body["items"][0]["at"] >= body["items"][1]["at"]


async def test_audit_events_filters_csv_and_roles(
    client: AsyncClient, arrange: Factory, actors: Factory, admin: Actor, service_manager: Actor
) -> None:
    h = await arrange.household()
    await client.get(f"/api/v1/households/{h.id}", headers=service_manager.headers)
    await client.get(f"/api/v1/households/{h.id}/members", headers=service_manager.headers)

    r = await client.get(EVENTS, params={"actor_id": str(service_manager.id)}, headers=admin.headers)
    assert [e["action"] for e in r.json()["items"]] == ["member.list", "household.read"]
    r = await client.get(
        EVENTS,
        params={"organisation_id": str(service_manager.organisation_id), "action": "household.read"},
        headers=admin.headers,
    )
    assert r.json()["total"] == 1
    first_at = r.json()["items"][0]["at"]
    r = await client.get(
        EVENTS, params={"object_type": "household", "object_id": str(h.id), "since": first_at}, headers=admin.headers
    )
    assert r.json()["total"] == 2
    r = await client.get(
        EVENTS, params={"before": first_at, "actor_id": str(service_manager.id)}, headers=admin.headers
    )
    assert r.json()["total"] == 0
    r = await client.get(EVENTS, params={"since": "not a date"}, headers=admin.headers)
    assert r.status_code == 422

    r = await client.get(EVENTS, params={"household_id": str(h.id)}, headers={**admin.headers, "Accept": "text/csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.lstrip("\ufeff").strip().splitlines()
    assert lines[0].split(";")[:6] == [
        "date",
        "acteur_type",
        "acteur_id",
        "acteur_role",
        "acteur_organisation_id",
        "action",
    ]
    assert [line.split(";")[5] for line in lines[1:]] == ["member.list", "household.read"]

    r = await client.get(EVENTS, params={"action": "audit_event.list", "limit": 200}, headers=admin.headers)
    formats = [e["details"]["format"] for e in r.json()["items"]]
    assert "csv" in formats
    assert "json" in formats

    for role in (Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER, Role.FUNDER, Role.LANDLORD):
        user = await actors.user(role)
        assert (await client.get(EVENTS, headers=user.headers)).status_code == 403
