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

from tests.conftest import Actor
from tests.pipeline.conftest import Arrange, HouseholdRef, book_stay, move, record_outcome
from toit_emploi_api.housing.models import HousingUnit, UnitStatus
from toit_emploi_api.pipeline.access import today
from toit_emploi_api.pipeline.rules import PlacementStatus, Stage

ALLOC = "/api/v1/households/{}/allocation"


async def _reserved(
    client: AsyncClient, arrange: Arrange, manager: Actor, stage: Stage
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
    client: AsyncClient, arrange: Arrange, service_manager: Actor, db: AsyncSession, dropped: bool
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
    client: AsyncClient, arrange: Arrange, service_manager: Actor, db: AsyncSession, dropped: bool
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
    client: AsyncClient, arrange: Arrange, service_manager: Actor, db: AsyncSession, dropped: bool
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
