"""A whole path through the pipeline endpoints, withdrawals from each active stage, follow-up, roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory, book_stay, move, patch_placement, record_outcome
from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.core.clock import today
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline.models import HousingAllocation, Placement, RelayStay
from toit_emploi_api.vocab.audit import READ_ACTIONS
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import AllocationStatus, PlacementStatus, RelayStayStatus, UnitStatus


async def test_full_walk_from_diagnostic_to_completed(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    sm = service_manager
    h = await arrange.household(adults=2, children=2)
    opening = await arrange.opening(positions=1)
    relay = await arrange.unit(relay=True)
    t3 = await arrange.unit(rooms=3)

    assert (await move(client, sm, h.id, "matching", note="Retained.")).status_code == 201

    r = await client.post(
        f"/api/v1/households/{h.id}/placements",
        json={"member_id": str(h.adults[0]), "job_opening_id": str(opening)},
        headers=sm.headers,
    )
    assert r.status_code == 201, r.text
    placement = r.json()["id"]
    assert (await patch_placement(client, sm, placement, status="interview")).status_code == 200

    r = await book_stay(client, sm, h.id, relay, today() - timedelta(days=4))
    assert r.status_code == 201, r.text
    stay = r.json()["id"]
    assert (await move(client, sm, h.id, "relay_stay")).status_code == 201

    r = await record_outcome(client, sm, stay, family_agrees=True, employer_agrees=True, note="Both happy.")
    assert r.status_code == 200, r.text
    assert (await move(client, sm, h.id, "lease")).status_code == 201

    assert (await patch_placement(client, sm, placement, status="offered")).status_code == 200
    r = await patch_placement(client, sm, placement, status="hired", contract_type="cdi", start_date="2027-01-04")
    assert r.status_code == 200, r.text

    r = await client.post(f"/api/v1/households/{h.id}/allocation", json={"unit_id": str(t3)}, headers=sm.headers)
    assert r.status_code == 201, r.text
    lease = {"lease_signed_date": today().isoformat(), "move_in_date": today().isoformat()}
    r = await client.patch(
        f"/api/v1/households/{h.id}/allocation", json=lease, headers={**sm.headers, "If-Match": r.headers["ETag"]}
    )
    assert r.status_code == 200, r.text
    assert (await move(client, sm, h.id, "follow_up")).status_code == 201

    for domain, note in (("schooling", "Both children enrolled."), ("health_insurance", "Complementary cover.")):
        r = await client.post(
            f"/api/v1/households/{h.id}/follow-up-entries",
            json={"entry_date": today().isoformat(), "domain": domain, "note": note},
            headers=sm.headers,
        )
        assert r.status_code == 201, r.text
    r = await move(client, sm, h.id, "completed", closure_date=today().isoformat(), note="Entered droit commun.")
    assert r.status_code == 201, r.text

    r = await client.get(f"/api/v1/households/{h.id}/transitions", headers=sm.headers)
    body = r.json()
    assert body["stage"] == "completed"
    assert [(i["from_stage"], i["to_stage"]) for i in body["items"]] == [
        ("diagnostic", "matching"),
        ("matching", "relay_stay"),
        ("relay_stay", "lease"),
        ("lease", "follow_up"),
        ("follow_up", "completed"),
    ]
    assert body["items"][0]["note"] == "Retained."
    assert body["items"][-1]["note"] == "Entered droit commun."
    assert (await arrange.fetch(HousingUnit, t3)).status is UnitStatus.LET
    actions = (
        (
            await db.execute(
                select(AuditEvent.action)
                .where(AuditEvent.household_id == h.id, AuditEvent.action.not_in(READ_ACTIONS))
                .order_by(AuditEvent.at)
            )
        )
        .scalars()
        .all()
    )
    for action in (
        "placement.create",
        "placement.update",
        "relay_stay.create",
        "relay_stay.outcome",
        "allocation.reserve",
        "allocation.lease_signed",
        "follow_up_entry.create",
    ):
        assert action in actions
    assert actions.count("household.transition") == 5

    r = await client.get(f"/api/v1/households/{h.id}/pipeline-events?limit=200", headers=sm.headers)
    assert r.status_code == 200
    events = r.json()["items"]
    assert [e["action"] for e in events] == actions
    assert all(e["by"]["id"] == str(sm.id) for e in events)
    assert "Both happy." not in r.text

    r = await client.get(f"/api/v1/households/{h.id}/follow-up-entries", headers=sm.headers)
    assert r.json()["total"] == 2
    assert r.json()["items"][0]["author"]["id"] == str(sm.id)


@pytest.mark.parametrize("stage", [Stage.DIAGNOSTIC, Stage.MATCHING, Stage.RELAY_STAY, Stage.LEASE, Stage.FOLLOW_UP])
async def test_withdrawal_from_each_active_stage_releases_everything(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession, stage: Stage
) -> None:
    h = await arrange.household(stage=stage)
    opening = await arrange.opening(positions=3)
    open_placement = await arrange.placement(h, opening, PlacementStatus.OFFERED)
    relay = await arrange.unit(relay=True)
    past = RelayStay(
        household_id=h.id,
        unit_id=relay,
        start_date=today() - timedelta(days=20),
        end_date=today() - timedelta(days=17),
        status=RelayStayStatus.ENDED,
    )
    future = RelayStay(
        household_id=h.id,
        unit_id=relay,
        start_date=today() + timedelta(days=2),
        end_date=today() + timedelta(days=5),
        status=RelayStayStatus.BOOKED,
    )
    unit = await arrange.unit(rooms=4, status=UnitStatus.RESERVED)
    allocation = HousingAllocation(household_id=h.id, unit_id=unit, status=AllocationStatus.RESERVED)
    db.add_all([past, future, allocation])
    await db.commit()
    past_id, future_id, future_start, allocation_id = past.id, future.id, future.start_date, allocation.id

    r = await move(client, service_manager, h.id, "withdrawn", reason="returned_to_paris", note="Back to Paris.")
    assert r.status_code == 201, r.text
    assert r.json()["released"] == {"allocations": 1, "relay_stays": 1, "placements": 1}

    assert (await arrange.fetch(Placement, open_placement)).status is PlacementStatus.CANCELLED
    assert (await arrange.fetch(RelayStay, future_id)).status is RelayStayStatus.CANCELLED
    assert (await arrange.fetch(RelayStay, past_id)).status is RelayStayStatus.ENDED
    assert (await arrange.fetch(HousingAllocation, allocation_id)).status is AllocationStatus.CANCELLED
    assert (await arrange.fetch(HousingUnit, unit)).status is UnitStatus.VACANT
    # The freed apartment dates can be booked by another household.
    other = await arrange.household(stage=Stage.MATCHING)
    assert (await book_stay(client, service_manager, other.id, relay, future_start)).status_code == 201


async def test_follow_up_entries_rules(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    url = "/api/v1/households/{}/follow-up-entries"
    entry = {"entry_date": today().isoformat(), "domain": "benefits", "note": "CAF file opened."}
    lease = await arrange.household(stage=Stage.LEASE)
    r = await client.post(url.format(lease.id), json=entry, headers=service_manager.headers)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:wrong-stage"
    h = await arrange.household(stage=Stage.FOLLOW_UP)
    future = {**entry, "entry_date": (today() + timedelta(days=1)).isoformat()}
    assert (await client.post(url.format(h.id), json=future, headers=service_manager.headers)).status_code == 422
    assert (
        await client.post(url.format(h.id), json={**entry, "domain": "medical"}, headers=service_manager.headers)
    ).status_code == 422
    assert (
        await client.post(url.format(h.id), json={**entry, "note": ""}, headers=service_manager.headers)
    ).status_code == 422
    old = {**entry, "entry_date": (today() - timedelta(days=10)).isoformat(), "domain": "employment"}
    assert (await client.post(url.format(h.id), json=old, headers=service_manager.headers)).status_code == 201
    assert (await client.post(url.format(h.id), json=entry, headers=service_manager.headers)).status_code == 201
    r = await client.get(url.format(h.id), headers=service_manager.headers)
    assert [i["domain"] for i in r.json()["items"]] == ["benefits", "employment"]


# --- roles and organisations ---------------------------------------------------------------------------------------
async def test_partner_worker_scope(
    client: AsyncClient, arrange: Factory, actors: Factory, service_manager: Actor
) -> None:
    own_org = await arrange.partner_org()
    partner = await actors.user(Role.PARTNER_WORKER, own_org)
    other_org = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    h = await arrange.household(org=own_org)
    foreign = await arrange.household(org=other_org)

    assert (await move(client, service_manager, h.id, "matching", note="Secret manager note")).status_code == 201
    r = await client.get(f"/api/v1/households/{h.id}/transitions", headers=partner.headers)
    assert r.status_code == 200
    assert r.json()["stage"] == "matching"
    assert "note" not in r.json()["items"][0]
    assert "Secret manager note" not in r.text

    # After diagnostic the partner follows where its family is, not who moved it nor why.
    gone = await arrange.household(org=own_org)
    assert (await move(client, service_manager, gone.id, "matching")).status_code == 201
    r = await move(client, service_manager, gone.id, "withdrawn", reason="lost_contact", note="No answer since May.")
    assert r.status_code == 201, r.text
    r = await client.get(f"/api/v1/households/{gone.id}/transitions", headers=partner.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["stage"] == "withdrawn"
    assert "withdrawal_reason" not in body
    assert [set(item) for item in body["items"]] == [{"id", "from_stage", "to_stage", "at"}] * 2
    assert [(i["from_stage"], i["to_stage"]) for i in body["items"]] == [
        ("diagnostic", "matching"),
        ("matching", "withdrawn"),
    ]
    assert "lost_contact" not in r.text
    assert str(service_manager.id) not in r.text
    # Staff still see everything.
    staff = (await client.get(f"/api/v1/households/{gone.id}/transitions", headers=service_manager.headers)).json()
    assert staff["withdrawal_reason"] == "lost_contact"
    assert staff["items"][1]["by"]["id"] == str(service_manager.id)
    assert staff["items"][1]["reason"] == "lost_contact"

    # Another organisation's household does not exist for them.
    assert (
        await client.get(f"/api/v1/households/{foreign.id}/transitions", headers=partner.headers)
    ).status_code == 404
    r = await client.post(
        f"/api/v1/households/{foreign.id}/transitions",
        json={"to": "withdrawn", "reason": "other", "note": "x"},
        headers={**partner.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 404

    # Only a withdrawal, only in diagnostic.
    d = await arrange.household(org=own_org)
    r = await move(client, partner, d.id, "matching")
    assert r.status_code == 403
    assert r.json()["type"] == "urn:toit-emploi:problem:role-not-permitted"
    r = await move(client, partner, h.id, "withdrawn", reason="household_declined", note="Changed their mind.")
    assert r.status_code == 403
    r = await move(client, partner, d.id, "withdrawn", reason="household_declined", note="Changed their mind.")
    assert r.status_code == 201, r.text

    # Pipeline records are not theirs to read.
    for path in ("placements", "relay-stays", "allocation", "follow-up-entries", "pipeline-events"):
        assert (await client.get(f"/api/v1/households/{h.id}/{path}", headers=partner.headers)).status_code == 403


async def test_paris_referent(client: AsyncClient, arrange: Factory, actors: Factory, service_manager: Actor) -> None:
    referent = await actors.user(Role.PARIS_REFERENT)
    h = await arrange.household(stage=Stage.MATCHING)
    d = await arrange.household()
    r = await client.get(f"/api/v1/households/{h.id}/transitions", headers=referent.headers)
    assert r.status_code == 200
    for path in ("placements", "relay-stays", "follow-up-entries"):
        assert (await client.get(f"/api/v1/households/{h.id}/{path}", headers=referent.headers)).status_code == 200
    r = await client.post(
        f"/api/v1/households/{h.id}/placements",
        json={"member_id": str(h.adults[0]), "job_opening_id": str(await arrange.opening())},
        headers=referent.headers,
    )
    assert r.status_code == 403
    assert (await move(client, referent, d.id, "matching")).status_code == 403
    r = await move(client, referent, h.id, "withdrawn", reason="lost_contact", note="No answer.")
    assert r.status_code == 403
    r = await move(client, referent, d.id, "withdrawn", reason="application_declined", note="Incomplete file.")
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("role", [Role.LANDLORD, Role.FUNDER])
async def test_landlords_and_funders_are_refused(
    client: AsyncClient, arrange: Factory, actors: Factory, role: Role
) -> None:
    actor = await actors.user(role)
    h = await arrange.household(stage=Stage.MATCHING)
    for path in ("transitions", "placements", "relay-stays", "allocation", "follow-up-entries"):
        assert (await client.get(f"/api/v1/households/{h.id}/{path}", headers=actor.headers)).status_code == 403
    r = await client.post(
        f"/api/v1/households/{h.id}/transitions",
        json={"to": "withdrawn", "reason": "other", "note": "x"},
        headers={**actor.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/households/{h.id}/allocation", json={"unit_id": str(await arrange.unit())}, headers=actor.headers
    )
    assert r.status_code == 403


async def test_admin_may_do_pipeline_writes(client: AsyncClient, arrange: Factory, admin: Actor) -> None:
    h = await arrange.household()
    assert (await move(client, admin, h.id, "matching")).status_code == 201
