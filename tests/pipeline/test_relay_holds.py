"""The relay apartment's hold (housing's `relay_held_until`) follows the stays still booked in it: the pipeline sets
it, through housing's service, on booking, cancelling, recording an outcome and withdrawing."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory, book_stay, move, record_outcome
from toit_emploi_api.core.clock import today
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline.placements import placement_ids_of_member
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import PlacementStatus


async def _hold(arrange: Factory, unit: uuid.UUID) -> date | None:
    return (await arrange.fetch(HousingUnit, unit)).relay_held_until


async def _book(client: AsyncClient, manager: Actor, household: uuid.UUID, unit: uuid.UUID, start: date) -> str:
    r = await book_stay(client, manager, household, unit, start, days=4)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _cancel(client: AsyncClient, manager: Actor, stay: str) -> None:
    tag = (await client.get(f"/api/v1/relay-stays/{stay}", headers=manager.headers)).headers["ETag"]
    r = await client.post(f"/api/v1/relay-stays/{stay}/cancel", headers={**manager.headers, "If-Match": tag})
    assert r.status_code == 200, r.text


async def test_booking_holds_the_apartment_until_the_last_day_of_its_booked_stays(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    unit = await arrange.unit(relay=True)
    version = (await arrange.fetch(HousingUnit, unit)).version
    first = await arrange.household(stage=Stage.MATCHING)
    second = await arrange.household(stage=Stage.MATCHING)
    start = today() + timedelta(days=10)
    early = await _book(client, service_manager, first.id, unit, start)
    assert await _hold(arrange, unit) == start + timedelta(days=3)
    late = await _book(client, service_manager, second.id, unit, start + timedelta(days=20))
    assert await _hold(arrange, unit) == start + timedelta(days=23)

    await _cancel(client, service_manager, late)
    assert await _hold(arrange, unit) == start + timedelta(days=3)
    await _cancel(client, service_manager, early)
    assert await _hold(arrange, unit) is None
    # Bookkeeping only: the landlord's ETag of the unit does not change.
    assert (await arrange.fetch(HousingUnit, unit)).version == version


async def test_an_outcome_ends_the_stay_and_its_hold(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    unit = await arrange.unit(relay=True)
    h = await arrange.household(stage=Stage.MATCHING)
    stay = await _book(client, service_manager, h.id, unit, today() - timedelta(days=4))
    assert await _hold(arrange, unit) == today() - timedelta(days=1)
    await arrange.set_stage(h.id, Stage.RELAY_STAY)
    r = await record_outcome(client, service_manager, stay, family_agrees=True, employer_agrees=True, note="Good.")
    assert r.status_code == 200, r.text
    assert await _hold(arrange, unit) is None


async def test_withdrawal_releases_the_hold(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    unit = await arrange.unit(relay=True)
    h = await arrange.household(stage=Stage.MATCHING)
    await _book(client, service_manager, h.id, unit, today() + timedelta(days=5))
    assert await _hold(arrange, unit) == today() + timedelta(days=8)
    r = await move(client, service_manager, h.id, "withdrawn", reason="lost_contact", note="No news.")
    assert r.status_code == 201, r.text
    assert r.json()["released"]["relay_stays"] == 1
    assert await _hold(arrange, unit) is None


async def test_placement_ids_of_member(arrange: Factory, db: AsyncSession) -> None:
    h = await arrange.household(stage=Stage.MATCHING, adults=2)
    first = await arrange.placement(h, await arrange.opening(), PlacementStatus.PROPOSED)
    second = await arrange.placement(h, await arrange.opening(), PlacementStatus.CANCELLED)
    await arrange.placement(h, await arrange.opening(), PlacementStatus.PROPOSED, member=h.adults[1])
    assert await placement_ids_of_member(db, h.adults[0]) == [first, second]
    assert await placement_ids_of_member(db, uuid.uuid4()) == []
