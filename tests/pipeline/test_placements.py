"""Placements over HTTP: proposal rules, status moves, hires never above open positions (concurrently)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory, patch_placement
from toit_emploi_api.core.clock import today
from toit_emploi_api.employers.models import JobOpening
from toit_emploi_api.pipeline.models import Placement
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import JobOpeningStatus, MemberRole, PlacementStatus

URL = "/api/v1/households/{}/placements"


async def test_propose_and_walk_to_hired(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    opening = await arrange.opening(positions=1)
    r = await client.post(
        URL.format(h.id),
        json={"member_id": str(h.adults[1]), "job_opening_id": str(opening)},
        headers=service_manager.headers,
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json()["status"] == "proposed"
    assert r.headers["Location"] == f"/api/v1/placements/{pid}"

    # Same member, same opening, still open: refused.
    r = await client.post(
        URL.format(h.id),
        json={"member_id": str(h.adults[1]), "job_opening_id": str(opening)},
        headers=service_manager.headers,
    )
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:placement-already-open"

    # Skipping interview/offered is refused.
    r = await patch_placement(
        client, service_manager, pid, status="hired", contract_type="cdi", start_date="2027-01-04"
    )
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:placement-move-not-allowed"
    assert r.json()["allowed"] == ["interview", "declined", "cancelled"]

    assert (await patch_placement(client, service_manager, pid, status="interview")).status_code == 200
    assert (await patch_placement(client, service_manager, pid, status="offered")).status_code == 200
    r = await patch_placement(client, service_manager, pid, status="hired")
    assert r.status_code == 422
    r = await patch_placement(
        client, service_manager, pid, status="hired", contract_type="cdi", start_date="2027-01-04"
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "hired"
    assert r.json()["contract_type"] == "cdi"
    opening_row = await arrange.fetch(JobOpening, opening)
    assert opening_row.hires_count == 1
    assert opening_row.status is JobOpeningStatus.FILLED

    # Terminal; and a filled opening takes no new proposal.
    r = await patch_placement(client, service_manager, pid, status="cancelled")
    assert r.status_code == 409
    r = await client.post(
        URL.format(h.id),
        json={"member_id": str(h.adults[0]), "job_opening_id": str(opening)},
        headers=service_manager.headers,
    )
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:job-opening-not-open"

    r = await client.get(URL.format(h.id), headers=service_manager.headers)
    assert r.json()["total"] == 1


async def test_decline_needs_party_and_reason(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    pid = await arrange.placement(h, await arrange.opening(), PlacementStatus.INTERVIEW)
    r = await patch_placement(client, service_manager, pid, status="declined")
    assert r.status_code == 422
    r = await patch_placement(client, service_manager, pid, status="declined", declined_by="employer")
    assert r.status_code == 422
    r = await patch_placement(
        client, service_manager, pid, status="declined", declined_by="employer", reason="Filled internally"
    )
    assert r.status_code == 200, r.text
    assert r.json()["declined_by"] == "employer"


async def test_placement_update_requires_if_match(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    pid = await arrange.placement(h, await arrange.opening(), PlacementStatus.PROPOSED)
    r = await client.patch(f"/api/v1/placements/{pid}", json={"status": "interview"}, headers=service_manager.headers)
    assert r.status_code == 428


async def test_member_must_be_an_adult_of_the_household(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    other = await arrange.household(stage=Stage.MATCHING)
    opening = await arrange.opening()
    minor = await arrange.member(h.id, MemberRole.OTHER_RELATIVE, today() - timedelta(days=365 * 16))
    for member in (h.children[0], other.adults[0], minor):
        r = await client.post(
            URL.format(h.id),
            json={"member_id": str(member), "job_opening_id": str(opening)},
            headers=service_manager.headers,
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "member_id"


async def test_placements_only_in_matching_relay_stay_or_lease(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    opening = await arrange.opening()
    for stage in (Stage.DIAGNOSTIC, Stage.FOLLOW_UP, Stage.WITHDRAWN):
        h = await arrange.household(stage=stage)
        r = await client.post(
            URL.format(h.id),
            json={"member_id": str(h.adults[0]), "job_opening_id": str(opening)},
            headers=service_manager.headers,
        )
        assert r.status_code == 409
        assert r.json()["type"] == "urn:toit-emploi:problem:wrong-stage"
        assert r.json()["allowed_stages"] == ["matching", "relay_stay", "lease"]


async def test_two_positions_ten_simultaneous_hires(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    opening = await arrange.opening(positions=2)
    placements = []
    for _ in range(10):
        h = await arrange.household(stage=Stage.MATCHING, adults=1, children=0)
        placements.append(await arrange.placement(h, opening, PlacementStatus.OFFERED))
    body = {"status": "hired", "contract_type": "cdd", "start_date": "2027-01-04"}
    responses = await asyncio.gather(
        *(
            client.patch(f"/api/v1/placements/{pid}", json=body, headers={**service_manager.headers, "If-Match": '"1"'})
            for pid in placements
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200] + [409] * 8, codes
    assert {r.json()["type"] for r in responses if r.status_code == 409} == {"urn:toit-emploi:problem:job-opening-full"}
    row = await arrange.fetch(JobOpening, opening)
    assert (row.hires_count, row.status) == (2, JobOpeningStatus.FILLED)
    hired = (
        await db.execute(
            select(func.count()).where(Placement.job_opening_id == opening, Placement.status == PlacementStatus.HIRED)
        )
    ).scalar_one()
    assert hired == 2


async def test_an_opening_referred_to_by_a_placement_cannot_be_deleted_but_can_be_closed(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    opening = await arrange.opening(positions=1)
    unused = await arrange.opening(positions=1)
    r = await client.post(
        URL.format(h.id),
        json={"member_id": str(h.adults[0]), "job_opening_id": str(opening)},
        headers=service_manager.headers,
    )
    assert r.status_code == 201, r.text
    placement_id = r.json()["id"]
    assert (await patch_placement(client, service_manager, placement_id, status="cancelled")).status_code == 200

    r = await client.delete(f"/api/v1/job-openings/{opening}", headers={**service_manager.headers, "If-Match": "*"})
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:job-opening-in-use"
    got = await client.get(f"/api/v1/job-openings/{opening}", headers=service_manager.headers)
    assert got.status_code == 200
    closed = await client.patch(
        f"/api/v1/job-openings/{opening}",
        json={"status": "closed"},
        headers={**service_manager.headers, "If-Match": got.headers["etag"]},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    # An opening nobody was proposed for can still be deleted.
    gone = await client.delete(f"/api/v1/job-openings/{unused}", headers={**service_manager.headers, "If-Match": "*"})
    assert gone.status_code == 204


async def _placement_at(
    client: AsyncClient, arrange: Factory, manager: Actor, status: PlacementStatus
) -> tuple[object, object]:
    h = await arrange.household(stage=Stage.MATCHING)
    opening = await arrange.opening(positions=3)
    pid = await arrange.placement(h, opening, PlacementStatus.OFFERED)
    if status is PlacementStatus.HIRED:
        body = {"status": "hired", "contract_type": "cdi", "start_date": today().isoformat()}
    elif status is PlacementStatus.DECLINED:
        body = {"status": "declined", "declined_by": "household", "reason": "Too far"}
    else:
        body = {"status": status.value}
    r = await patch_placement(client, manager, pid, **body)
    assert r.status_code == 200, r.text
    return pid, opening


@pytest.mark.parametrize("status", [PlacementStatus.HIRED, PlacementStatus.DECLINED, PlacementStatus.CANCELLED])
@pytest.mark.parametrize(
    "change",
    [
        {"declined_by": "employer"},
        {"reason": "Changed my mind"},
        {"contract_type": "cdd"},
        {"start_date": "2027-03-01"},
        {"contract_type": None},
        {"status": "interview"},
    ],
    ids=lambda c: next(iter(c)),
)
async def test_a_closed_placement_only_accepts_a_note(
    client: AsyncClient, arrange: Factory, service_manager: Actor, status: PlacementStatus, change: dict[str, object]
) -> None:
    pid, _ = await _placement_at(client, arrange, service_manager, status)
    before = (await client.get(f"/api/v1/placements/{pid}", headers=service_manager.headers)).json()
    r = await patch_placement(client, service_manager, pid, **change)
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "urn:toit-emploi:problem:placement-closed"
    assert r.json()["fields"] == sorted(change)
    after = (await client.get(f"/api/v1/placements/{pid}", headers=service_manager.headers)).json()
    assert after == before
    # A note (alone, or with the unchanged status) is still accepted.
    r = await patch_placement(client, service_manager, pid, status=status.value, note="Contract copy received.")
    assert r.status_code == 200, r.text
    assert r.json()["note"] == "Contract copy received."
    assert r.json()["status"] == status.value


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"contract_type": "cdi"}, ["contract_type"]),
        ({"start_date": "2027-03-01"}, ["start_date"]),
        ({"status": "interview", "contract_type": "cdi", "start_date": "2027-03-01"}, ["contract_type", "start_date"]),
        ({"declined_by": "employer"}, ["declined_by"]),
        ({"status": "cancelled", "declined_by": "employer"}, ["declined_by"]),
        ({"reason": "Why not"}, ["reason"]),
        ({"status": "interview", "reason": "Why not"}, ["reason"]),
    ],
)
async def test_fields_only_with_their_move(
    client: AsyncClient, arrange: Factory, service_manager: Actor, body: dict[str, object], fields: list[str]
) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    pid = await arrange.placement(h, await arrange.opening(), PlacementStatus.PROPOSED)
    r = await patch_placement(client, service_manager, pid, **body)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == fields
    r = await client.get(f"/api/v1/placements/{pid}", headers=service_manager.headers)
    assert (r.json()["status"], r.json()["contract_type"], r.json()["declined_by"], r.json()["reason"]) == (
        "proposed",
        None,
        None,
        None,
    )
    # A cancellation may carry a reason.
    r = await patch_placement(client, service_manager, pid, status="cancelled", reason="Opening withdrawn")
    assert r.status_code == 200, r.text
    assert r.json()["reason"] == "Opening withdrawn"


async def test_declined_by_only_on_a_declined_placement_in_the_database(arrange: Factory, db: AsyncSession) -> None:
    from sqlalchemy.exc import IntegrityError

    from toit_emploi_api.core.errors import constraint_name
    from toit_emploi_api.vocab.statuses import PlacementParty

    h = await arrange.household(stage=Stage.MATCHING)
    pid = await arrange.placement(h, await arrange.opening(), PlacementStatus.CANCELLED)
    placement = await arrange.fetch(Placement, pid)
    placement.declined_by = PlacementParty.EMPLOYER
    with pytest.raises(IntegrityError) as caught:
        await db.commit()
    assert constraint_name(caught.value) == "ck_placements_declined_by_only_when_declined"
    await db.rollback()
