"""The application's steps inside diagnostic: submit, present, the guard of diagnostic → matching, history kinds."""

from __future__ import annotations

import uuid

from httpx import AsyncClient, Response

from tests.factories import Actor, Factory, etag, move, problem_codes
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import ApplicationStatus, Stage

BASE = "/api/v1/households/{}/application/{}"


async def _step(client: AsyncClient, actor: Actor, household_id: uuid.UUID, step: str, **body: object) -> Response:
    tag = await etag(client, actor, household_id)
    return await client.post(BASE.format(household_id, step), json=body, headers={**actor.headers, "If-Match": tag})


async def test_submit_then_present_then_retain(
    client: AsyncClient, arrange: Factory, actors: Factory, service_manager: Actor
) -> None:
    org = await arrange.partner_org()
    partner = await actors.user(Role.PARTNER_WORKER, org)
    referent = await actors.user(Role.PARIS_REFERENT)
    h = await arrange.household(org=org, application=ApplicationStatus.DRAFT)

    r = await move(client, service_manager, h.id, "matching")
    assert r.status_code == 409
    assert problem_codes(r) == ["application_not_presented"]

    # Without If-Match: 428; out of order: 409.
    r = await client.post(BASE.format(h.id, "submit"), json={}, headers=partner.headers)
    assert r.status_code == 428
    r = await _step(client, referent, h.id, "present")
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:application-step-out-of-order"
    assert r.json()["expected_status"] == "submitted"

    tag = await etag(client, partner, h.id)
    r = await client.post(
        BASE.format(h.id, "submit"), json={"note": "Complete file."}, headers={**partner.headers, "If-Match": tag}
    )
    assert r.status_code == 201, r.text
    assert r.json()["application_status"] == "submitted"
    assert r.json()["event"]["kind"] == "application_submitted"
    assert r.headers["ETag"] != tag
    r = await _step(client, partner, h.id, "submit")
    assert r.status_code == 409

    r = await _step(client, referent, h.id, "present", note="Presented on Tuesday.")
    assert r.status_code == 201
    assert (await move(client, service_manager, h.id, "matching")).status_code == 201

    history = (await client.get(f"/api/v1/households/{h.id}/transitions", headers=service_manager.headers)).json()
    assert history["application_status"] == "presented"
    assert [(i["kind"], i["from_stage"], i["to_stage"], i["by"]["role"]) for i in history["items"]] == [
        ("application_submitted", "diagnostic", "diagnostic", "partner_worker"),
        ("application_presented", "diagnostic", "diagnostic", "paris_referent"),
        ("move", "diagnostic", "matching", "service_manager"),
    ]
    assert history["items"][0]["note"] == "Complete file."
    partner_view = (await client.get(f"/api/v1/households/{h.id}/transitions", headers=partner.headers)).json()
    assert [set(i) for i in partner_view["items"]] == [{"id", "kind", "from_stage", "to_stage", "at"}] * 3

    # After diagnostic: wrong stage.
    r = await _step(client, referent, h.id, "present")
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:wrong-stage"

    events = (await client.get(f"/api/v1/households/{h.id}/pipeline-events", headers=service_manager.headers)).json()
    assert [e["action"] for e in events["items"]] == [
        "household.application_submit",
        "household.application_present",
        "household.transition",
    ]
    assert "Complete file." not in str(events)


async def test_who_may_take_each_step(
    client: AsyncClient, arrange: Factory, actors: Factory, service_manager: Actor
) -> None:
    org = await arrange.partner_org()
    partner = await actors.user(Role.PARTNER_WORKER, org)
    stranger = await actors.user(Role.PARTNER_WORKER, await actors.organisation(OrganisationKind.REFERRAL_PARTNER))
    h = await arrange.household(org=org, application=ApplicationStatus.DRAFT)

    r = await client.post(BASE.format(h.id, "submit"), json={}, headers={**stranger.headers, "If-Match": "*"})
    assert r.status_code == 404
    r = await client.post(BASE.format(h.id, "submit"), json={}, headers={**service_manager.headers, "If-Match": "*"})
    assert r.status_code == 403
    assert (await _step(client, partner, h.id, "submit")).status_code == 201
    r = await client.post(BASE.format(h.id, "present"), json={}, headers={**partner.headers, "If-Match": "*"})
    assert r.status_code == 403
    for role in (Role.LANDLORD, Role.FUNDER):
        other = await actors.user(role)
        r = await client.post(BASE.format(h.id, "present"), json={}, headers={**other.headers, "If-Match": "*"})
        assert r.status_code == 403
    assert (await _step(client, service_manager, h.id, "present")).status_code == 201


async def test_application_status_shows_on_households_and_filters_the_list(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    draft = await arrange.household(application=ApplicationStatus.DRAFT)
    presented = await arrange.household()
    await arrange.household(stage=Stage.MATCHING)
    r = await client.get(f"/api/v1/households/{draft.id}", headers=service_manager.headers)
    assert r.json()["application_status"] == "draft"
    r = await client.get(
        "/api/v1/households",
        params={"application_status": "presented", "stage": "diagnostic"},
        headers=service_manager.headers,
    )
    assert [i["id"] for i in r.json()["items"]] == [str(presented.id)]
    r = await client.get(
        "/api/v1/households", params={"application_status": ["draft", "submitted"]}, headers=service_manager.headers
    )
    assert [i["id"] for i in r.json()["items"]] == [str(draft.id)]
    r = await client.get("/api/v1/households", params={"application_status": "sent"}, headers=service_manager.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.application_status.0"
