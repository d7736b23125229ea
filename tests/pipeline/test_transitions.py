"""Stage moves over HTTP: If-Match, each guard's 409 with its named condition, history, concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory, book_stay, etag, move, problem_codes, record_outcome
from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.core.clock import today
from toit_emploi_api.households.models import Household
from toit_emploi_api.pipeline.models import StageTransition
from toit_emploi_api.vocab.audit import READ_ACTIONS
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import PlacementStatus

URL = "/api/v1/households/{}/transitions"


async def test_transition_requires_if_match_and_rejects_stale(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    h = await arrange.household()
    r = await client.post(URL.format(h.id), json={"to": "matching"}, headers=service_manager.headers)
    assert r.status_code == 428
    r = await client.post(
        URL.format(h.id), json={"to": "matching"}, headers={**service_manager.headers, "If-Match": '"99"'}
    )
    assert r.status_code == 412
    tag = await etag(client, service_manager, h.id)
    r = await client.post(
        URL.format(h.id), json={"to": "matching"}, headers={**service_manager.headers, "If-Match": tag}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["stage"] == "matching"
    assert body["transition"]["from_stage"] == "diagnostic"
    assert body["transition"]["by"] == {"kind": "user", "id": str(service_manager.id), "role": "service_manager"}
    assert r.headers["ETag"] != tag


async def test_unknown_household_is_404(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.get(URL.format("00000000-0000-0000-0000-000000000000"), headers=service_manager.headers)
    assert r.status_code == 404


async def test_diagnostic_to_matching_guards(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(adults=0, children=1, consent=False)
    r = await move(client, service_manager, h.id, "matching")
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "urn:toit-emploi:problem:guard-failed"
    assert problem_codes(r) == ["no_adult_member", "no_professional_profile", "consent_missing"]
    assert all(u["message"] for u in r.json()["unmet"])

    h2 = await arrange.household(adults=1, children=0, rome=False)
    r = await move(client, service_manager, h2.id, "matching")
    assert problem_codes(r) == ["no_professional_profile"]

    # A minor recorded as "other relative" is not an adult.
    h3 = await arrange.household(adults=0, children=0)
    from toit_emploi_api.vocab.statuses import MemberRole

    await arrange.member(h3.id, MemberRole.OTHER_RELATIVE, today() - timedelta(days=365 * 16))
    r = await move(client, service_manager, h3.id, "matching")
    assert "no_adult_member" in problem_codes(r)


async def test_skipping_a_stage_is_refused(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household()
    r = await move(client, service_manager, h.id, "lease")
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:transition-not-allowed"
    assert r.json()["unmet"] == []
    r = await move(client, service_manager, h.id, "diagnostic")
    assert r.status_code == 409


async def test_matching_to_relay_stay_guards(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    r = await move(client, service_manager, h.id, "relay_stay")
    assert r.status_code == 409
    assert problem_codes(r) == ["relay_stay_not_booked", "no_placement_with_employer_meeting"]

    opening = await arrange.opening()
    await arrange.placement(h, opening, PlacementStatus.PROPOSED)  # employer has not agreed to meet yet
    relay = await arrange.unit(relay=True)
    assert (await book_stay(client, service_manager, h.id, relay, today() + timedelta(days=7))).status_code == 201
    r = await move(client, service_manager, h.id, "relay_stay")
    assert problem_codes(r) == ["no_placement_with_employer_meeting"]

    await arrange.placement(h, await arrange.opening(), PlacementStatus.INTERVIEW)
    r = await move(client, service_manager, h.id, "relay_stay")
    assert r.status_code == 201, r.text


async def test_relay_stay_to_lease_guard(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    relay = await arrange.unit(relay=True)
    r = await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=3))
    stay = r.json()["id"]
    await arrange.placement(h, await arrange.opening(), PlacementStatus.INTERVIEW)
    assert (await move(client, service_manager, h.id, "relay_stay")).status_code == 201

    r = await move(client, service_manager, h.id, "lease")
    assert r.status_code == 409
    assert problem_codes(r) == ["relay_stay_not_validated", "relay_stay_still_booked"]

    await record_outcome(client, service_manager, stay, family_agrees=True, employer_agrees=False, note="x")
    r = await move(client, service_manager, h.id, "lease")
    assert problem_codes(r) == ["relay_stay_not_validated"]

    await record_outcome(client, service_manager, stay, family_agrees=True, employer_agrees=True)
    r = await move(client, service_manager, h.id, "lease")
    assert r.status_code == 201, r.text


async def test_relay_stay_back_to_matching(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    relay = await arrange.unit(relay=True)
    stay = (await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=4))).json()["id"]
    await arrange.placement(h, await arrange.opening(), PlacementStatus.INTERVIEW)
    assert (await move(client, service_manager, h.id, "relay_stay")).status_code == 201

    r = await move(client, service_manager, h.id, "matching")
    assert problem_codes(r) == ["relay_stay_not_disagreed", "disagreement_reason_missing", "relay_stay_still_booked"]

    await record_outcome(client, service_manager, stay, family_agrees=False, employer_agrees=True)
    r = await move(client, service_manager, h.id, "matching")
    assert problem_codes(r) == ["disagreement_reason_missing"]

    await record_outcome(
        client, service_manager, stay, family_agrees=False, employer_agrees=True, note="School too far."
    )
    r = await move(client, service_manager, h.id, "matching", reason="relay_stay_inconclusive")
    assert r.status_code == 201, r.text
    assert r.json()["stage"] == "matching"

    # Back in matching, the old (ended) stay no longer counts as booked: a new one is needed.
    r = await move(client, service_manager, h.id, "relay_stay")
    assert problem_codes(r) == ["relay_stay_not_booked"]
    r = await book_stay(client, service_manager, h.id, relay, today() + timedelta(days=10))
    assert r.status_code == 201
    assert (await move(client, service_manager, h.id, "relay_stay")).status_code == 201
    # The new stay has no outcome yet: neither forward nor back (the first stay's disagreement decided the first
    # relay_stay stage, not this one).
    assert problem_codes(await move(client, service_manager, h.id, "lease")) == [
        "relay_stay_not_validated",
        "relay_stay_still_booked",
    ]
    assert problem_codes(await move(client, service_manager, h.id, "matching")) == [
        "relay_stay_not_disagreed",
        "disagreement_reason_missing",
        "relay_stay_still_booked",
    ]
    # Cancelling the new stay does not bring the old outcome back.
    stay2 = r.json()["id"]
    r = await client.post(f"/api/v1/relay-stays/{stay2}/cancel", headers={**service_manager.headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert problem_codes(await move(client, service_manager, h.id, "matching")) == [
        "relay_stay_not_disagreed",
        "disagreement_reason_missing",
    ]


async def test_lease_to_follow_up_guards(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.LEASE)
    r = await move(client, service_manager, h.id, "follow_up")
    assert r.status_code == 409
    assert problem_codes(r) == ["no_signed_contract", "no_lease_signed"]


async def test_follow_up_to_completed_guard(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.FOLLOW_UP)
    r = await move(client, service_manager, h.id, "completed")
    assert problem_codes(r) == ["closure_missing"]
    r = await move(client, service_manager, h.id, "completed", note="Entered droit commun.")
    assert problem_codes(r) == ["closure_missing"]
    r = await move(client, service_manager, h.id, "completed", closure_date=(today() + timedelta(days=1)).isoformat())
    assert r.status_code == 422
    r = await move(client, service_manager, h.id, "matching", closure_date=today().isoformat())
    assert r.status_code == 422
    r = await move(
        client, service_manager, h.id, "completed", closure_date=today().isoformat(), note="Entered droit commun."
    )
    assert r.status_code == 201, r.text
    assert r.json()["closure_date"] == today().isoformat()
    household = await arrange.fetch(Household, h.id)
    assert household.closure_note == "Entered droit commun."
    # Terminal.
    r = await move(client, service_manager, h.id, "withdrawn", reason="other", note="x")
    assert r.json()["type"] == "urn:toit-emploi:problem:transition-not-allowed"


async def test_withdrawal_guards(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household()
    r = await move(client, service_manager, h.id, "withdrawn")
    assert problem_codes(r) == ["withdrawal_reason_missing", "withdrawal_note_missing"]
    r = await move(client, service_manager, h.id, "withdrawn", reason="bored", note="Left.")
    # The reasons are an enum of the contract: a code outside it is a 422 naming `reason`.
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["reason"]
    r = await move(client, service_manager, h.id, "withdrawn", reason="application_declined", note="   ")
    assert problem_codes(r) == ["withdrawal_note_missing"]
    r = await move(client, service_manager, h.id, "withdrawn", reason="application_declined", note="Not retained.")
    assert r.status_code == 201, r.text
    assert r.json()["withdrawal_reason"] == "application_declined"


async def test_history_and_stage_dates(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    h = await arrange.household()
    r = await client.get(URL.format(h.id), headers=service_manager.headers)
    assert r.status_code == 200
    assert r.json()["items"] == []
    assert r.json()["stage"] == "diagnostic"
    # Entered 3 days ago.
    household = await arrange.fetch(Household, h.id)
    household.stage_entered_at = household.stage_entered_at - timedelta(days=3)
    await db.commit()
    r = await client.get(URL.format(h.id), headers=service_manager.headers)
    assert r.json()["days_in_stage"] == 3

    assert (await move(client, service_manager, h.id, "matching", note="Strong profile.")).status_code == 201
    r = await move(client, service_manager, h.id, "withdrawn", reason="household_declined", note="Stays in Paris.")
    assert r.status_code == 201
    r = await client.get(URL.format(h.id), headers=service_manager.headers)
    body = r.json()
    assert body["stage"] == "withdrawn"
    assert body["days_in_stage"] == 0
    assert [(i["from_stage"], i["to_stage"], i["reason"], i["note"]) for i in body["items"]] == [
        ("diagnostic", "matching", None, "Strong profile."),
        ("matching", "withdrawn", "household_declined", "Stays in Paris."),
    ]
    assert all(i["by"]["id"] == str(service_manager.id) for i in body["items"])
    events = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.details)
            .where(AuditEvent.household_id == h.id, AuditEvent.action.not_in(READ_ACTIONS))
            .order_by(AuditEvent.at)
        )
    ).all()
    assert [e[0] for e in events] == ["household.transition", "household.transition"]
    assert "Stays in Paris." not in str([e[1] for e in events])


async def test_ten_simultaneous_identical_transitions_apply_once(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    h = await arrange.household()
    tag = await etag(client, service_manager, h.id)
    responses = await asyncio.gather(
        *(
            client.post(URL.format(h.id), json={"to": "matching"}, headers={**service_manager.headers, "If-Match": tag})
            for _ in range(10)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1, codes
    assert set(codes) - {201} == {412}
    rows = (await db.execute(select(func.count()).where(StageTransition.household_id == h.id))).scalar_one()
    assert rows == 1
    assert (await arrange.fetch(Household, h.id)).stage is Stage.MATCHING


async def test_ten_simultaneous_withdrawals_without_stale_etag_apply_once(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    """Even with a wildcard If-Match, the row lock serialises the moves: the others find a terminal stage."""
    h = await arrange.household()
    body = {"to": "withdrawn", "reason": "lost_contact", "note": "No answer."}
    responses = await asyncio.gather(
        *(
            client.post(URL.format(h.id), json=body, headers={**service_manager.headers, "If-Match": "*"})
            for _ in range(10)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 9, codes
    rows = (await db.execute(select(func.count()).where(StageTransition.household_id == h.id))).scalar_one()
    assert rows == 1
