"""The manager's desk: relay stays and placements across households, the agenda."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory
from toit_emploi_api.core.clock import PROGRAMME_TZ, today, utcnow
from toit_emploi_api.households.models import Household, Member
from toit_emploi_api.pipeline.models import Placement
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import ApplicationStatus, Stage
from toit_emploi_api.vocab.statuses import AllocationStatus, PlacementStatus, RelayStayStatus

DESK = ["/api/v1/relay-stays", "/api/v1/placements", "/api/v1/agenda"]


async def get(client: AsyncClient, actor: Actor, url: str, **params: Any) -> dict[str, Any]:
    r = await client.get(url, params=params, headers=actor.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize("url", DESK)
@pytest.mark.parametrize("role", [Role.PARTNER_WORKER, Role.PARIS_REFERENT, Role.LANDLORD, Role.FUNDER])
async def test_the_desk_is_the_managers(
    client: AsyncClient, actors: Factory, admin: Actor, service_manager: Actor, url: str, role: Role
) -> None:
    caller = await actors.user(role)
    assert (await client.get(url, headers=caller.headers)).status_code == 403
    for allowed in (admin, service_manager):
        assert (await client.get(url, headers=allowed.headers)).status_code == 200


async def test_relay_stays_calendar(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    relay = await arrange.unit(relay=True)
    other = await arrange.unit(relay=True)
    day = today()
    past = await arrange.relay_stay(relay, day - timedelta(days=20), status=RelayStayStatus.ENDED)
    soon = await arrange.relay_stay(relay, day + timedelta(days=2))
    later = await arrange.relay_stay(other, day + timedelta(days=40))
    url = "/api/v1/relay-stays"
    body = await get(client, service_manager, url)
    assert [i["id"] for i in body["items"]] == [str(past), str(soon), str(later)]
    item = body["items"][1]
    assert item["household_reference"].startswith("TE-")
    assert (item["unit_commune_insee"], item["unit_commune_name"]) == ("15014", "Aurillac")
    window = await get(client, service_manager, url, **{"from": str(day), "to": str(day + timedelta(days=30))})
    assert [i["id"] for i in window["items"]] == [str(soon)]
    assert [i["id"] for i in (await get(client, service_manager, url, unit_id=str(other)))["items"]] == [str(later)]
    assert [i["id"] for i in (await get(client, service_manager, url, status="ended"))["items"]] == [str(past)]
    r = await client.get(
        url, params={"from": str(day), "to": str(day - timedelta(days=1))}, headers=service_manager.headers
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.to"


async def test_placements_across_households(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    one = await arrange.household(stage=Stage.MATCHING)
    two = await arrange.household(stage=Stage.MATCHING)
    opening = await arrange.opening(positions=3)
    other_employer = await arrange.employer(legal_name="Menuiserie du Cantal")
    other_opening = await arrange.opening(employer=other_employer)
    old = await arrange.placement(one, opening, PlacementStatus.PROPOSED)
    fresh = await arrange.placement(two, opening, PlacementStatus.INTERVIEW)
    elsewhere = await arrange.placement(two, other_opening, PlacementStatus.DECLINED)
    await db.execute(
        update(Placement).where(Placement.id == old).values(updated_at=Placement.updated_at - timedelta(days=30))
    )
    await db.commit()
    url = "/api/v1/placements"
    body = await get(client, service_manager, url)
    assert body["items"][0]["id"] == str(old)  # least recently changed first
    assert {i["id"] for i in body["items"]} == {str(old), str(fresh), str(elsewhere)}
    assert body["items"][0]["job_opening_title"] == "Maçon"
    assert body["items"][0]["household_reference"].startswith("TE-")
    by_employer = await get(client, service_manager, url, employer_id=str(other_employer))
    assert [i["id"] for i in by_employer["items"]] == [str(elsewhere)]
    assert by_employer["items"][0]["employer_name"] == "Menuiserie du Cantal"
    stale = await get(client, service_manager, url, updated_before=str(today() - timedelta(days=21)))
    assert [i["id"] for i in stale["items"]] == [str(old)]
    assert [i["id"] for i in (await get(client, service_manager, url, status="interview"))["items"]] == [str(fresh)]
    only = await get(client, service_manager, url, job_opening_id=str(other_opening))
    assert [i["id"] for i in only["items"]] == [str(elsewhere)]
    r = await client.get(url, params={"status": "lost"}, headers=service_manager.headers)
    assert r.status_code == 422


async def test_the_agenda_lists_each_kind_in_date_order(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    day = today()
    relay = await arrange.unit(relay=True)
    matching = await arrange.household(stage=Stage.MATCHING)
    stay = await arrange.relay_stay(relay, day + timedelta(days=3), household=matching.id)
    ended_unrecorded = await arrange.relay_stay(relay, day - timedelta(days=10))  # still booked: outcome to record
    opening = await arrange.opening(positions=5)
    hired = await arrange.household(stage=Stage.LEASE)
    job = await arrange.placement(hired, opening, PlacementStatus.HIRED, start_date=day + timedelta(days=5))
    home = await arrange.unit()
    lease = await arrange.allocation(
        hired.id,
        home,
        AllocationStatus.LEASE_SIGNED,
        lease_signed=day + timedelta(days=6),
        move_in=day + timedelta(days=8),
    )
    followed = await arrange.household(stage=Stage.FOLLOW_UP)
    await arrange.follow_up_entry(followed.id, day - timedelta(days=40), "Entretien")  # due 10 days ago
    quiet = await arrange.placement(matching, opening, PlacementStatus.PROPOSED)
    await db.execute(
        update(Placement).where(Placement.id == quiet).values(updated_at=Placement.updated_at - timedelta(days=25))
    )
    await db.execute(
        update(Member).where(Member.id == matching.adults[0]).values(right_to_work_expiry=day + timedelta(days=60))
    )
    # Left out: a withdrawn household's stay, a placement with recent news.
    gone = await arrange.household(stage=Stage.WITHDRAWN)
    await arrange.relay_stay(await arrange.unit(relay=True), day + timedelta(days=4), household=gone.id)
    await arrange.placement(matching, await arrange.opening(), PlacementStatus.PROPOSED)
    await db.commit()

    body = await get(client, service_manager, "/api/v1/agenda")
    got = [(i["kind"], i["object_id"]) for i in body["items"]]
    assert got == [
        ("follow_up_overdue", str(followed.id)),
        ("relay_stay_end", str(ended_unrecorded)),
        ("placement_without_news", str(quiet)),
        ("relay_stay_start", str(stay)),
        ("job_start", str(job)),  # same day as the stay's end: by kind
        ("relay_stay_end", str(stay)),
        ("lease_signature", str(lease)),
        ("move_in", str(lease)),
        ("right_to_work_expiry", str(matching.adults[0])),
    ]
    assert body["total"] == 9
    dates = [i["date"] for i in body["items"]]
    assert dates == sorted(dates)
    first = body["items"][1]
    assert first["overdue"] is True
    assert first["household_reference"].startswith("TE-")
    assert "outcome" in first["action"]
    assert first["href"] == f"/api/v1/relay-stays/{ended_unrecorded}"
    assert set(first) == {
        "date",
        "kind",
        "overdue",
        "household_id",
        "household_reference",
        "action",
        "object_type",
        "object_id",
        "href",
    }
    # A narrower window: dated events outside it go, to-dos due before its end stay.
    narrow = await get(client, service_manager, "/api/v1/agenda", to=str(day + timedelta(days=4)))
    assert [i["kind"] for i in narrow["items"]] == [
        "follow_up_overdue",
        "relay_stay_end",
        "placement_without_news",
        "relay_stay_start",
        "right_to_work_expiry",  # within 90 days after the window's end
    ]
    household = await arrange.fetch(Household, followed.id)
    assert household.stage is Stage.FOLLOW_UP


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-02-30"},
        {"from": "2026-03-10", "to": "2026-03-01"},
        {"from": "2026-01-01", "to": "2027-06-01"},
        {"limit": "0"},
    ],
)
async def test_agenda_bad_windows_are_422(client: AsyncClient, service_manager: Actor, params: dict[str, str]) -> None:
    r = await client.get("/api/v1/agenda", params=params, headers=service_manager.headers)
    assert r.status_code == 422, r.text


async def test_the_agenda_lists_presented_applications_until_the_decision(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    day = today()
    created = datetime.combine(day - timedelta(days=20), time(12), tzinfo=PROGRAMME_TZ)
    presented = await arrange.household(application=ApplicationStatus.DRAFT)
    await arrange.history(
        presented.id, created, [("submitted", created + timedelta(days=3)), ("presented", created + timedelta(days=5))]
    )
    # Waiting as well, without its history item (an imported file): dated by its entry into diagnostic.
    imported = await arrange.household()
    # Left out: a submitted application, a retained household, a withdrawn one, an anonymised one.
    submitted = await arrange.household(application=ApplicationStatus.DRAFT)
    await arrange.history(submitted.id, created, [("submitted", created + timedelta(days=3))])
    retained = await arrange.household(application=ApplicationStatus.DRAFT)
    await arrange.history(
        retained.id,
        created,
        [("submitted", created), ("presented", created), ("matching", created + timedelta(days=1))],
    )
    withdrawn = await arrange.household(application=ApplicationStatus.DRAFT)
    await arrange.history(
        withdrawn.id,
        created,
        [("submitted", created), ("presented", created), ("withdrawn", created + timedelta(days=1))],
        reason="lost_contact",
    )
    erased = await arrange.household()
    await db.execute(update(Household).where(Household.id == erased.id).values(anonymised_at=utcnow()))
    await db.commit()

    body = await get(client, service_manager, "/api/v1/agenda")
    got = [(i["kind"], i["household_id"], i["date"]) for i in body["items"]]
    assert got == [
        ("application_awaiting_decision", str(presented.id), str(day - timedelta(days=15))),
        ("application_awaiting_decision", str(imported.id), str(day)),
    ]
    item = body["items"][0]
    assert item["overdue"] is True
    assert item["object_type"] == "household"
    assert item["href"] == f"/api/v1/households/{presented.id}/transitions"
    assert "matching" in item["action"]
    assert body["items"][1]["overdue"] is False
    # A window ending before the presentation does not list it yet.
    before = await get(
        client,
        service_manager,
        "/api/v1/agenda",
        **{"from": str(day - timedelta(days=30)), "to": str(day - timedelta(days=16))},
    )
    assert [i for i in before["items"] if i["kind"] == "application_awaiting_decision"] == []
