"""Relay stays (3-5 days, no overlap per apartment) and housing allocations (reserve, lease, cancel)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory, book_stay, record_outcome
from toit_emploi_api.core.clock import today
from toit_emploi_api.core.errors import constraint_name
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline.allocations import bedrooms, required_bedrooms
from toit_emploi_api.pipeline.models import HousingAllocation, RelayStay
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import AllocationStatus, RelayStayStatus, UnitStatus

ALLOC = "/api/v1/households/{}/allocation"


# --- relay stays -------------------------------------------------------------------------------------------------
async def test_relay_stay_length_and_apartment(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    relay = await arrange.unit(relay=True)
    start = today() + timedelta(days=5)
    for days in (1, 2, 6):
        r = await book_stay(client, service_manager, h.id, relay, start, days=days)
        assert r.status_code == 422, (days, r.text)
    ordinary = await arrange.unit(relay=False)
    r = await book_stay(client, service_manager, h.id, ordinary, start)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:not-a-relay-apartment"
    r = await book_stay(client, service_manager, h.id, relay, start, days=3)
    assert r.status_code == 201, r.text
    assert (r.json()["start_date"], r.json()["end_date"]) == (start.isoformat(), (start + timedelta(2)).isoformat())
    # One booked stay at a time for a household.
    r = await book_stay(client, service_manager, h.id, relay, start + timedelta(days=20), days=5)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:relay-stay-already-booked"


async def test_overlap_refused_and_cancelled_stay_frees_dates(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    a = await arrange.household(stage=Stage.MATCHING)
    b = await arrange.household(stage=Stage.MATCHING)
    relay = await arrange.unit(relay=True)
    start = today() + timedelta(days=3)
    r = await book_stay(client, service_manager, a.id, relay, start, days=5)
    assert r.status_code == 201
    stay = r.json()
    # Touching on the last day overlaps (dates are inclusive).
    r = await book_stay(client, service_manager, b.id, relay, start + timedelta(days=4), days=3)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:relay-stay-overlap"
    # The day after is free.
    r = await book_stay(client, service_manager, b.id, relay, start + timedelta(days=5), days=3)
    assert r.status_code == 201
    b_stay = r.json()["id"]
    r = await client.post(
        f"/api/v1/relay-stays/{b_stay}/cancel", headers={**service_manager.headers, "If-Match": '"1"'}
    )
    assert r.status_code == 200
    # Cancelling a's stay frees its dates for b.
    r = await client.post(
        f"/api/v1/relay-stays/{stay['id']}/cancel", headers={**service_manager.headers, "If-Match": '"1"'}
    )
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    r = await book_stay(client, service_manager, b.id, relay, start, days=5)
    assert r.status_code == 201, r.text


async def test_outcome_only_at_the_end(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.RELAY_STAY)
    relay = await arrange.unit(relay=True)
    stay = (await book_stay(client, service_manager, h.id, relay, today() + timedelta(days=1))).json()["id"]
    r = await record_outcome(client, service_manager, stay, family_agrees=True, employer_agrees=True)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:relay-stay-not-ended"


async def test_twenty_simultaneous_overlapping_stays(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    relay = await arrange.unit(relay=True)
    households = [await arrange.household(stage=Stage.MATCHING, adults=1, children=0) for _ in range(20)]
    start = today() + timedelta(days=14)
    responses = await asyncio.gather(
        *(
            book_stay(client, service_manager, h.id, relay, start + timedelta(days=i % 3))
            for i, h in enumerate(households)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 19, codes
    assert {r.json()["type"] for r in responses if r.status_code == 409} == {
        "urn:toit-emploi:problem:relay-stay-overlap"
    }
    count = (
        await db.execute(
            select(func.count()).where(RelayStay.unit_id == relay, RelayStay.status != RelayStayStatus.CANCELLED)
        )
    ).scalar_one()
    assert count == 1


# --- allocations -------------------------------------------------------------------------------------------------
def test_bedroom_rule() -> None:
    assert bedrooms(3) == 2  # a T3: living room + 2 bedrooms
    assert [required_bedrooms(c) for c in range(5)] == [1, 2, 2, 3, 3]


async def test_reserve_sign_lease_and_cancel(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.RELAY_STAY, children=2)
    relay = await arrange.unit(relay=True)
    r = await client.post(ALLOC.format(h.id), json={"unit_id": str(relay)}, headers=service_manager.headers)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:unit-is-relay-apartment"

    t3 = await arrange.unit(rooms=3)  # 2 bedrooms: enough for 2 adults + 2 children (1 + ceil(2/2) = 2)
    r = await client.post(ALLOC.format(h.id), json={"unit_id": str(t3)}, headers=service_manager.headers)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "reserved"
    assert (await arrange.fetch(HousingUnit, t3)).status is UnitStatus.RESERVED

    # One active allocation per household.
    other = await arrange.unit(rooms=4)
    r = await client.post(ALLOC.format(h.id), json={"unit_id": str(other)}, headers=service_manager.headers)
    assert r.json()["type"] == "urn:toit-emploi:problem:household-already-allocated"

    # Lease is recorded in the lease stage only.
    r = await client.get(ALLOC.format(h.id), headers=service_manager.headers)
    tag = r.headers["ETag"]
    lease = {"lease_signed_date": today().isoformat(), "move_in_date": today().isoformat()}
    r = await client.patch(ALLOC.format(h.id), json=lease, headers={**service_manager.headers, "If-Match": tag})
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:wrong-stage"

    r = await client.post(f"{ALLOC.format(h.id)}/cancel", headers={**service_manager.headers, "If-Match": tag})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert (await arrange.fetch(HousingUnit, t3)).status is UnitStatus.VACANT
    r = await client.get(ALLOC.format(h.id), headers=service_manager.headers)
    assert r.status_code == 404


async def test_lease_signed_makes_unit_let(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.LEASE, children=2)
    unit = await arrange.unit(rooms=3)
    r = await client.post(ALLOC.format(h.id), json={"unit_id": str(unit)}, headers=service_manager.headers)
    tag = r.headers["ETag"]
    bad = {"lease_signed_date": today().isoformat(), "move_in_date": (today() - timedelta(days=1)).isoformat()}
    r = await client.patch(ALLOC.format(h.id), json=bad, headers={**service_manager.headers, "If-Match": tag})
    assert r.status_code == 422
    lease = {"lease_signed_date": today().isoformat(), "move_in_date": today().isoformat()}
    r = await client.patch(ALLOC.format(h.id), json=lease, headers={**service_manager.headers, "If-Match": tag})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "lease_signed"
    assert (await arrange.fetch(HousingUnit, unit)).status is UnitStatus.LET
    r = await client.post(
        f"{ALLOC.format(h.id)}/cancel", headers={**service_manager.headers, "If-Match": r.headers["ETag"]}
    )
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:allocation-not-reserved"


async def test_too_small_unless_override(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.RELAY_STAY, children=3)  # needs 1 + ceil(3/2) = 3 bedrooms
    t3 = await arrange.unit(rooms=3)
    r = await client.post(ALLOC.format(h.id), json={"unit_id": str(t3)}, headers=service_manager.headers)
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:unit-too-small"
    assert (r.json()["bedrooms"], r.json()["required_bedrooms"]) == (2, 3)
    r = await client.post(
        ALLOC.format(h.id),
        json={"unit_id": str(t3), "override_reason": "Family asked for this school district"},
        headers=service_manager.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["override_reason"] == "Family asked for this school district"


async def test_unit_not_vacant_and_wrong_stage(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.LEASE)
    let = await arrange.unit(status=UnitStatus.LET)
    r = await client.post(ALLOC.format(h.id), json={"unit_id": str(let)}, headers=service_manager.headers)
    assert r.json()["type"] == "urn:toit-emploi:problem:unit-not-available"
    m = await arrange.household(stage=Stage.MATCHING)
    r = await client.post(
        ALLOC.format(m.id), json={"unit_id": str(await arrange.unit())}, headers=service_manager.headers
    )
    assert r.json()["type"] == "urn:toit-emploi:problem:wrong-stage"


async def test_twenty_simultaneous_reservations_of_one_unit(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    unit = await arrange.unit(rooms=5)
    households = [await arrange.household(stage=Stage.LEASE, adults=1, children=0) for _ in range(20)]
    responses = await asyncio.gather(
        *(
            client.post(ALLOC.format(h.id), json={"unit_id": str(unit)}, headers=service_manager.headers)
            for h in households
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 19, codes
    assert {r.json()["type"] for r in responses if r.status_code == 409} == {
        "urn:toit-emploi:problem:unit-not-available"
    }
    row = await arrange.fetch(HousingUnit, unit)
    assert row.status is UnitStatus.RESERVED
    assert row.version == 2  # reserved exactly once
    active = (
        await db.execute(
            select(func.count()).where(
                HousingAllocation.unit_id == unit, HousingAllocation.status == AllocationStatus.RESERVED
            )
        )
    ).scalar_one()
    assert active == 1


async def test_partial_unique_indexes_are_the_backstop(arrange: Factory, db: AsyncSession) -> None:
    """Even bypassing the service, a unit cannot have two active allocations (nor a household)."""
    a = await arrange.household(stage=Stage.LEASE)
    b = await arrange.household(stage=Stage.LEASE)
    unit = await arrange.unit()
    db.add(HousingAllocation(household_id=a.id, unit_id=unit, status=AllocationStatus.RESERVED))
    await db.commit()
    db.add(
        HousingAllocation(
            household_id=b.id,
            unit_id=unit,
            status=AllocationStatus.LEASE_SIGNED,
            lease_signed_date=today(),
            move_in_date=today(),
        )
    )
    with pytest.raises(IntegrityError) as caught:
        await db.commit()
    assert constraint_name(caught.value) == "uq_housing_allocations_unit_active"
    await db.rollback()
    db.add(HousingAllocation(household_id=a.id, unit_id=await arrange.unit(), status=AllocationStatus.RESERVED))
    with pytest.raises(IntegrityError) as caught:
        await db.commit()
    assert constraint_name(caught.value) == "uq_housing_allocations_household_active"
    await db.rollback()
    # A cancelled allocation does not count.
    db.add(HousingAllocation(household_id=b.id, unit_id=unit, status=AllocationStatus.CANCELLED))
    await db.commit()


@pytest.mark.parametrize("unit_status", [UnitStatus.UNAVAILABLE, UnitStatus.RESERVED, UnitStatus.LET])
async def test_a_relay_apartment_that_is_not_vacant_cannot_be_booked(
    client: AsyncClient, arrange: Factory, service_manager: Actor, unit_status: UnitStatus
) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    relay = await arrange.unit(relay=True, status=unit_status)
    r = await book_stay(client, service_manager, h.id, relay, today() + timedelta(days=7))
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:relay-apartment-unavailable"
    assert r.json()["unit_status"] == unit_status.value
    r = await client.get(f"/api/v1/households/{h.id}/relay-stays", headers=service_manager.headers)
    assert r.json()["total"] == 0
