"""Where the pipeline lets go of a housing unit: allocation cancel, withdrawal, step back to matching.

A unit the landlord's last snapshot no longer listed (``held_absent_since`` set by the vacancy sync) becomes
`unavailable`, never `vacant`; any other reserved unit is `vacant` again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory, HouseholdRef, book_stay, move, patch_placement, record_outcome
from toit_emploi_api.core.clock import today
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import PlacementStatus, UnitStatus

ALLOC = "/api/v1/households/{}/allocation"
STAYS = "/api/v1/households/{}/relay-stays"


async def _reserved(
    client: AsyncClient, arrange: Factory, manager: Actor, stage: Stage
) -> tuple[HouseholdRef, uuid.UUID]:
    h = await arrange.household(stage=stage)
    unit = await arrange.unit(rooms=4)
    r = await client.post(ALLOC.format(h.id), json={"unit_id": str(unit)}, headers=manager.headers)
    assert r.status_code == 201, r.text
    return h, unit


async def _dropped_by_landlord(db: AsyncSession, unit: uuid.UUID) -> None:
    """What the housing sync does to a held unit its landlord's snapshot no longer lists."""
    await db.execute(
        update(HousingUnit).where(HousingUnit.id == unit).values(held_absent_since=datetime.now(UTC) - timedelta(1))
    )
    await db.commit()


@pytest.mark.parametrize("dropped", [True, False], ids=["dropped-by-landlord", "still-listed"])
async def test_cancelling_an_allocation(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession, dropped: bool
) -> None:
    h, unit = await _reserved(client, arrange, service_manager, Stage.RELAY_STAY)
    if dropped:
        await _dropped_by_landlord(db, unit)
    tag = (await client.get(ALLOC.format(h.id), headers=service_manager.headers)).headers["ETag"]
    r = await client.post(f"{ALLOC.format(h.id)}/cancel", headers={**service_manager.headers, "If-Match": tag})
    assert r.status_code == 200, r.text
    row = await arrange.fetch(HousingUnit, unit)
    assert row.status is (UnitStatus.UNAVAILABLE if dropped else UnitStatus.VACANT)
    assert row.held_absent_since is None


@pytest.mark.parametrize("dropped", [True, False], ids=["dropped-by-landlord", "still-listed"])
async def test_withdrawal(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession, dropped: bool
) -> None:
    h, unit = await _reserved(client, arrange, service_manager, Stage.LEASE)
    if dropped:
        await _dropped_by_landlord(db, unit)
    r = await move(client, service_manager, h.id, "withdrawn", reason="no_housing_found", note="None suitable.")
    assert r.status_code == 201, r.text
    assert r.json()["released"]["allocations"] == 1
    row = await arrange.fetch(HousingUnit, unit)
    assert row.status is (UnitStatus.UNAVAILABLE if dropped else UnitStatus.VACANT)
    assert row.held_absent_since is None
    assert (await client.get(ALLOC.format(h.id), headers=service_manager.headers)).status_code == 404


@pytest.mark.parametrize("dropped", [True, False], ids=["dropped-by-landlord", "still-listed"])
async def test_step_back_to_matching_releases_the_reserved_unit(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession, dropped: bool
) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    await arrange.placement(h, await arrange.opening(), PlacementStatus.INTERVIEW)
    relay = await arrange.unit(relay=True)
    stay = (await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=6))).json()["id"]
    assert (await move(client, service_manager, h.id, "relay_stay")).status_code == 201
    unit = await arrange.unit(rooms=4)
    r = await client.post(ALLOC.format(h.id), json={"unit_id": str(unit)}, headers=service_manager.headers)
    assert r.status_code == 201, r.text
    if dropped:
        await _dropped_by_landlord(db, unit)
    r = await record_outcome(client, service_manager, stay, family_agrees=True, employer_agrees=False, note="No.")
    assert r.status_code == 200, r.text

    r = await move(client, service_manager, h.id, "matching", reason="relay_stay_inconclusive")
    assert r.status_code == 201, r.text
    assert r.json()["released"] == {"allocations": 1}
    row = await arrange.fetch(HousingUnit, unit)
    assert row.status is (UnitStatus.UNAVAILABLE if dropped else UnitStatus.VACANT)
    assert row.held_absent_since is None
    assert (await client.get(ALLOC.format(h.id), headers=service_manager.headers)).status_code == 404
    if not dropped:  # the unit can be reserved again, by another household
        other = await arrange.household(stage=Stage.LEASE)
        r = await client.post(ALLOC.format(other.id), json={"unit_id": str(unit)}, headers=service_manager.headers)
        assert r.status_code == 201, r.text


async def test_withdrawal_cancels_every_booked_stay_and_keeps_the_facts(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    """A past-dated stay still booked is cancelled too; an ended stay, a hired placement, a signed lease and its
    `let` unit are facts and stay as they are."""
    h = await arrange.household(stage=Stage.MATCHING)
    opening = await arrange.opening(positions=2)
    hired = await arrange.placement(h, opening, PlacementStatus.OFFERED)
    relay = await arrange.unit(relay=True)
    ended = (await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=30))).json()["id"]
    await arrange.placement(h, await arrange.opening(), PlacementStatus.INTERVIEW)
    assert (await move(client, service_manager, h.id, "relay_stay")).status_code == 201
    r = await record_outcome(client, service_manager, ended, family_agrees=True, employer_agrees=True)
    assert r.status_code == 200, r.text
    past = await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=10))
    assert past.status_code == 201, past.text
    r = await patch_placement(
        client, service_manager, hired, status="hired", contract_type="cdi", start_date=str(today())
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/relay-stays/{past.json()['id']}/cancel", headers={**service_manager.headers, "If-Match": '"1"'}
    )
    assert r.status_code == 200  # (cancel it so that the household can move on, then book another past stay)
    past = await book_stay(client, service_manager, h.id, relay, today() - timedelta(days=20))
    assert past.status_code == 201, past.text
    # Arrange a lease directly: the guards are not the point here.
    unit = await arrange.unit(rooms=4)
    r = await client.post(ALLOC.format(h.id), json={"unit_id": str(unit)}, headers=service_manager.headers)
    assert r.status_code == 201, r.text
    await arrange.set_stage(h.id, Stage.LEASE)
    lease = {"lease_signed_date": str(today()), "move_in_date": str(today())}
    r = await client.patch(ALLOC.format(h.id), json=lease, headers={**service_manager.headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.text

    r = await move(client, service_manager, h.id, "withdrawn", reason="returned_to_paris", note="Went back.")
    assert r.status_code == 201, r.text
    assert r.json()["released"] == {"allocations": 0, "relay_stays": 1, "placements": 1}
    stays = {
        s["id"]: s["status"]
        for s in (await client.get(STAYS.format(h.id), headers=service_manager.headers)).json()["items"]
    }
    assert stays[past.json()["id"]] == "cancelled"
    assert stays[ended] == "ended"
    assert (await client.get(f"/api/v1/placements/{hired}", headers=service_manager.headers)).json()[
        "status"
    ] == "hired"
    r = await client.get(ALLOC.format(h.id), headers=service_manager.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "lease_signed"
    assert (await arrange.fetch(HousingUnit, unit)).status is UnitStatus.LET
