"""Candidates, the other way round: adults for a job opening, households for a housing unit."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory
from tests.matching.conftest import NAUCELLES, SALERS
from toit_emploi_api.core.clock import today
from toit_emploi_api.employers.models import JobOpening
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import AllocationStatus, JobOpeningStatus, PlacementStatus, UnitStatus


async def get(client: AsyncClient, actor: Actor, url: str, **params: Any) -> dict[str, Any]:
    r = await client.get(url, params=params, headers=actor.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_opening_candidates_rank_adults_each_with_its_best_unit(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    big = await arrange.household(stage=Stage.MATCHING, children=3)  # needs 3 bedrooms
    small = await arrange.household(stage=Stage.MATCHING, children=0)  # needs 1
    await arrange.household(stage=Stage.DIAGNOSTIC)  # not in matching: never a candidate
    for ref in (big, small):
        await arrange.profile(ref.adults[0], driving_licence=True, years_of_experience=5)
    opening = await arrange.opening(positions=2)
    t2 = await arrange.unit(rooms=2)
    t4 = await arrange.unit(rooms=4, commune_insee=SALERS, postcode="15140")
    body = await get(client, service_manager, f"/api/v1/job-openings/{opening}/candidates")
    got = {i["household_id"]: (i["member_id"], i["housing_unit"]["id"]) for i in body["items"]}
    assert got == {str(small.id): (str(small.adults[0]), str(t2)), str(big.id): (str(big.adults[0]), str(t4))}
    assert [i["household_id"] for i in body["items"]] == [str(small.id), str(big.id)]  # 0 km beats 24.5 km
    for item in body["items"]:
        assert sum(Decimal(f["contribution"]) for f in item["factors"]) == Decimal(item["score"])


async def test_opening_candidates_refuse_a_full_or_closed_opening(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    opening = await arrange.opening()
    row = await arrange.fetch(JobOpening, opening)
    row.hires_count = 1
    await db.commit()
    r = await client.get(f"/api/v1/job-openings/{opening}/candidates", headers=service_manager.headers)
    assert (r.status_code, r.json()["type"]) == (409, "urn:toit-emploi:problem:job-opening-full")
    row = await arrange.fetch(JobOpening, opening)
    row.status = JobOpeningStatus.CLOSED
    await db.commit()
    r = await client.get(f"/api/v1/job-openings/{opening}/candidates", headers=service_manager.headers)
    assert (r.status_code, r.json()["type"]) == (409, "urn:toit-emploi:problem:job-opening-not-open")
    r = await client.get(f"/api/v1/job-openings/{uuid.uuid4()}/candidates", headers=service_manager.headers)
    assert r.status_code == 404


async def test_unit_candidates_are_households_in_matching_or_lease(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    unit = await arrange.unit(rooms=3, commune_insee=NAUCELLES, postcode="15000")
    opening = await arrange.opening(positions=3, start_date=today() + timedelta(days=10))
    matching = await arrange.household(stage=Stage.MATCHING)
    await arrange.profile(matching.adults[0], driving_licence=True)
    leased = await arrange.household(stage=Stage.LEASE, rome=False)
    await arrange.profile(leased.adults[0], driving_licence=True)
    await arrange.placement(leased, opening, PlacementStatus.HIRED, start_date=today() + timedelta(days=20))
    housed = await arrange.household(stage=Stage.MATCHING)  # already holds a unit: left out
    await arrange.profile(housed.adults[0], driving_licence=True)
    await arrange.allocation(housed.id, await arrange.unit(status=UnitStatus.RESERVED), AllocationStatus.RESERVED)
    body = await get(client, service_manager, f"/api/v1/housing-units/{unit}/candidates")
    assert {i["household_id"] for i in body["items"]} == {str(matching.id), str(leased.id)}
    for item in body["items"]:
        assert item["housing_unit"]["id"] == str(unit)
        assert item["job_opening"]["id"] == str(opening)
        assert item["housing_unit"]["commune_name"] == "Naucelles"
        assert Decimal(item["distance_km"]) == Decimal("3.1")
    lease_item = next(i for i in body["items"] if i["household_id"] == str(leased.id))
    assert {f["name"]: f for f in lease_item["factors"]}["rome_match"]["value"] == "1"


async def test_unit_candidates_refuse_relay_apartments_and_held_units(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    relay = await arrange.unit(relay=True)
    r = await client.get(f"/api/v1/housing-units/{relay}/candidates", headers=service_manager.headers)
    assert (r.status_code, r.json()["type"]) == (409, "urn:toit-emploi:problem:unit-is-relay-apartment")
    let = await arrange.unit(status=UnitStatus.LET)
    r = await client.get(f"/api/v1/housing-units/{let}/candidates", headers=service_manager.headers)
    assert (r.status_code, r.json()["type"]) == (409, "urn:toit-emploi:problem:unit-not-available")


@pytest.mark.parametrize("role", [Role.PARIS_REFERENT, Role.PARTNER_WORKER, Role.LANDLORD, Role.FUNDER])
async def test_candidates_are_for_the_service_manager(
    client: AsyncClient, arrange: Factory, actors: Factory, admin: Actor, role: Role
) -> None:
    opening = await arrange.opening()
    unit = await arrange.unit()
    caller = await actors.user(role)
    for url in (f"/api/v1/job-openings/{opening}/candidates", f"/api/v1/housing-units/{unit}/candidates"):
        assert (await client.get(url, headers=caller.headers)).status_code == 403
        assert (await client.get(url, headers=admin.headers)).status_code == 200
    r = await client.get(
        f"/api/v1/housing-units/{unit}/candidates", params={"max_commute_km": "-3"}, headers=admin.headers
    )
    assert r.status_code == 422
