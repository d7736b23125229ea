"""Which relay stay outcome decides the end of the relay stay stage, and when an outcome may be recorded."""

from __future__ import annotations

from datetime import timedelta

from httpx import AsyncClient

from tests.factories import Actor, Factory, book_stay, move, patch_placement, problem_codes, record_outcome
from toit_emploi_api.core.clock import today
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import PlacementStatus


async def test_outcome_is_refused_before_relay_stay_and_after_it(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    await arrange.placement(h, await arrange.opening(), PlacementStatus.INTERVIEW)
    relay = await arrange.unit(relay=True)
    r = await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=10))
    assert r.status_code == 201, r.text  # recording a past stay after the fact is legitimate
    stay = r.json()["id"]
    # Still in matching: the outcome does not count yet.
    r = await record_outcome(client, service_manager, stay, family_agrees=True, employer_agrees=True)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:wrong-stage"
    assert r.json()["allowed_stages"] == ["relay_stay"]
    assert (await move(client, service_manager, h.id, "relay_stay")).status_code == 201
    r = await record_outcome(client, service_manager, stay, family_agrees=False, employer_agrees=True, note="No.")
    assert r.status_code == 200, r.text
    assert (await move(client, service_manager, h.id, "matching")).status_code == 201
    # Back in matching: the disagreement that justified the step back cannot be rewritten.
    r = await record_outcome(client, service_manager, stay, family_agrees=True, employer_agrees=True)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:wrong-stage"


async def test_an_old_outcome_does_not_validate_a_stay_still_booked(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    """The review's repro: an earlier-dated stay B booked after A's outcome must not let A's outcome decide."""
    h = await arrange.household(stage=Stage.MATCHING)
    await arrange.placement(h, await arrange.opening(), PlacementStatus.INTERVIEW)
    relay = await arrange.unit(relay=True)
    a = (await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=10))).json()["id"]
    assert (await move(client, service_manager, h.id, "relay_stay")).status_code == 201
    r = await record_outcome(client, service_manager, a, family_agrees=True, employer_agrees=True)
    assert r.status_code == 200, r.text
    # A second stay, dated before A, is booked while in relay_stay.
    r = await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=30))
    assert r.status_code == 201, r.text
    b = r.json()["id"]
    r = await move(client, service_manager, h.id, "lease")
    assert r.status_code == 409
    assert problem_codes(r) == ["relay_stay_still_booked"]
    # B's outcome, recorded last, decides (even though B's dates are older than A's).
    r = await record_outcome(client, service_manager, b, family_agrees=True, employer_agrees=False, note="Too far.")
    assert r.status_code == 200, r.text
    r = await move(client, service_manager, h.id, "lease")
    assert r.status_code == 409
    assert problem_codes(r) == ["relay_stay_not_validated"]
    r = await move(client, service_manager, h.id, "matching")
    assert r.status_code == 201, r.text


async def test_step_back_refused_while_a_stay_is_booked(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    placement = await arrange.placement(h, await arrange.opening(), PlacementStatus.PROPOSED)
    assert (await patch_placement(client, service_manager, placement, status="interview")).status_code == 200
    relay = await arrange.unit(relay=True)
    a = (await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=20))).json()["id"]
    assert (await move(client, service_manager, h.id, "relay_stay")).status_code == 201
    r = await record_outcome(client, service_manager, a, family_agrees=False, employer_agrees=True, note="No.")
    assert r.status_code == 200
    assert (await book_stay(client, service_manager, h.id, relay, today() + timedelta(days=3))).status_code == 201
    r = await move(client, service_manager, h.id, "matching")
    assert r.status_code == 409
    assert problem_codes(r) == ["relay_stay_still_booked"]


async def test_booking_dates_are_bounded(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    relay = await arrange.unit(relay=True)
    for start in (today() - timedelta(days=366), today() + timedelta(days=366 * 2 + 1), today().replace(year=1990)):
        r = await book_stay(client, service_manager, h.id, relay, start)
        assert r.status_code == 422, (start, r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["start_date"]
    assert (await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=365))).status_code == 201
