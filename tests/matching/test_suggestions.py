"""GET /households/{id}/suggestions: the hard rules on a hand-built Cantal case, the ranking, the factors."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory, HouseholdRef
from tests.matching.conftest import AURILLAC, MAURIAC, NAUCELLES, PRUNET, SALERS
from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.core.clock import today
from toit_emploi_api.core.resources import PageParams
from toit_emploi_api.employers.models import JobOpening
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.matching import repository
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import PlacementStatus


def url(household: HouseholdRef | uuid.UUID) -> str:
    hid = household.id if isinstance(household, HouseholdRef) else household
    return f"/api/v1/households/{hid}/suggestions"


async def suggest(client: AsyncClient, actor: Actor, household: HouseholdRef, **params: Any) -> dict[str, Any]:
    r = await client.get(url(household), params=params, headers=actor.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def pairs(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["job_opening"]["id"], item["housing_unit"]["id"]) for item in body["items"]]


async def family(arrange: Factory, *, children: int = 2, licence: bool = True, years: int = 6) -> HouseholdRef:
    """A household in matching: two adults, the first a mason (F1703) with `years` of experience."""
    ref = await arrange.household(stage=Stage.MATCHING, adults=2, children=children)
    await arrange.profile(ref.adults[0], years_of_experience=years, driving_licence=licence)
    await arrange.profile(ref.adults[1], driving_licence=False)
    return ref


async def test_a_unit_in_the_jobs_commune_beats_one_25_km_away(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    ref = await family(arrange)
    opening = await arrange.opening(start_date=today() + timedelta(days=30))  # in Aurillac
    salers_job = await arrange.opening(employer=await arrange.employer(commune_insee=SALERS))
    far = await arrange.unit(rooms=3, commune_insee=SALERS, postcode="15140")
    # Seen from the jobs: a unit in Salers is worth more to the job in Salers than to the one 25 km away.
    body = await suggest(client, service_manager, ref)
    assert pairs(body) == [(str(salers_job), str(far)), (str(opening), str(far))]
    first, second = body["items"]
    assert (first["distance_km"], Decimal(second["distance_km"])) == ("0.0", Decimal("24.5"))
    assert second["housing_unit"]["commune_name"] == "Salers"
    assert Decimal(first["score"]) > Decimal(second["score"])
    commute = {f["name"]: f for f in second["factors"]}["commute"]
    assert Decimal(commute["value"]) == Decimal("24.5")
    assert Decimal(commute["contribution"]) == (Decimal(25) * (1 - Decimal("24.5") / 30)).quantize(Decimal("0.01"))
    # Seen from a job: a unit in its commune beats the one 25 km away (one unit per adult and job: its best).
    near = await arrange.unit(rooms=3, commune_insee=AURILLAC)
    body = await suggest(client, service_manager, ref)
    assert body["total"] == 2
    item = next(i for i in body["items"] if i["job_opening"]["id"] == str(opening))
    assert item["housing_unit"]["id"] == str(near)
    assert item["member_id"] == str(ref.adults[0])
    assert item["distance_km"] == "0.0"
    assert item["job_opening"]["commune_name"] == "Aurillac"
    assert item["housing_unit"]["commune_name"] == "Aurillac"
    assert item["links"]["create_placement"] == {
        "method": "POST",
        "href": f"/api/v1/households/{ref.id}/placements",
        "body": {"member_id": str(ref.adults[0]), "job_opening_id": str(opening)},
    }
    assert item["links"]["reserve_unit"]["body"] == {"unit_id": str(near)}
    assert item["household_reference"].startswith("TE-")


async def test_the_factors_add_up_to_the_score(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    ref = await family(arrange, years=3)
    await arrange.opening(start_date=today() + timedelta(days=10))
    await arrange.opening(rome_code="F1701", title="Coffreur")
    await arrange.unit(rooms=3, commune_insee=SALERS, rent=650, available_from=today() + timedelta(days=40))
    await arrange.unit(rooms=5, rent=300, commune_insee=PRUNET)
    body = await suggest(client, service_manager, ref, include_related="true", units_per_opening=2)
    assert body["total"] == 4  # two openings, each with both units
    for item in body["items"]:
        names = [f["name"] for f in item["factors"]]
        assert names == ["rome_match", "experience", "commute", "rent", "availability", "size_fit"]
        assert sum(Decimal(f["contribution"]) for f in item["factors"]) == Decimal(item["score"])
        for f in item["factors"]:
            assert 0 <= Decimal(f["contribution"]) <= f["weight"]
    scores = [Decimal(i["score"]) for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    experience = {f["name"]: f for f in body["items"][0]["factors"]}["experience"]
    assert (experience["value"], experience["contribution"]) == ("3", "9.00")


async def test_several_homes_per_job_each_a_proposal_best_first(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    ref = await family(arrange)
    opening = await arrange.opening(start_date=today() + timedelta(days=20))  # in Aurillac
    near = await arrange.unit(rooms=3, rent=420)  # Aurillac: 0 km
    naucelles = await arrange.unit(rooms=3, rent=420, commune_insee=NAUCELLES, postcode="15000")  # about 3 km
    await arrange.unit(rooms=2)  # too small for two children: never proposed
    body = await suggest(client, service_manager, ref, units_per_opening=3)
    assert pairs(body) == [(str(opening), str(near)), (str(opening), str(naucelles))]
    assert {i["member_id"] for i in body["items"]} == {str(ref.adults[0])}
    first, second = body["items"]
    assert Decimal(first["score"]) > Decimal(second["score"])
    assert (first["distance_km"], Decimal(second["distance_km"]) > 2) == ("0.0", True)
    for item in body["items"]:
        assert sum(Decimal(f["contribution"]) for f in item["factors"]) == Decimal(item["score"])
    # units_per_opening=1 (the default): one proposal per (adult, opening), its best unit.
    one = await suggest(client, service_manager, ref)
    assert (one["total"], pairs(one)) == (1, [(str(opening), str(near))])
    assert one["items"][0]["score"] == first["score"]


async def test_proposals_are_ranked_together_across_jobs(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    ref = await family(arrange)
    exact = await arrange.opening()  # F1703: 30 points of ROME match
    related = await arrange.opening(rome_code="F1701", title="Coffreur")  # same family: 15
    cheap = await arrange.unit(rooms=3, rent=250)
    dear = await arrange.unit(rooms=3, rent=700)
    body = await suggest(client, service_manager, ref, include_related="true", units_per_opening=3)
    # The second home of the better job comes before the best home of the weaker one.
    assert pairs(body) == [
        (str(exact), str(cheap)),
        (str(exact), str(dear)),
        (str(related), str(cheap)),
        (str(related), str(dear)),
    ]
    scores = [Decimal(i["score"]) for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    two = await suggest(client, service_manager, ref, include_related="true", units_per_opening=2, limit=3)
    assert (two["total"], pairs(two)) == (4, pairs(body)[:3])


async def test_equal_homes_are_ordered_by_id_even_when_one_frees_earlier(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    ref = await family(arrange)
    opening = await arrange.opening(start_date=today() + timedelta(days=30))
    # Both are free by the job's start: the same score; the first by id comes first, whichever frees earlier.
    first, second = sorted([await arrange.unit(rooms=3), await arrange.unit(rooms=3)], key=str)
    row = await arrange.fetch(HousingUnit, first)
    row.available_from = today() + timedelta(days=10)
    await db.commit()
    body = await suggest(client, service_manager, ref, units_per_opening=2)
    assert pairs(body) == [(str(opening), str(first)), (str(opening), str(second))]
    assert body["items"][0]["score"] == body["items"][1]["score"]
    one = await suggest(client, service_manager, ref)
    assert pairs(one) == [(str(opening), str(first))]


async def test_a_commute_beyond_the_precomputed_30_km_is_computed_alike(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    """Up to 30 km the distances come from `commune_distances`; a longer limit computes them: same figures."""
    ref = await family(arrange)
    await arrange.opening()  # in Aurillac
    salers = await arrange.unit(rooms=3, commune_insee=SALERS, postcode="15140")
    mauriac = await arrange.unit(rooms=3, commune_insee=MAURIAC, postcode="15200")
    tabled = await suggest(client, service_manager, ref, units_per_opening=5)
    computed = await suggest(client, service_manager, ref, units_per_opening=5, max_commute_km=40)
    assert [(i["housing_unit"]["id"], i["distance_km"]) for i in tabled["items"]] == [(str(salers), "24.5")]
    assert [(i["housing_unit"]["id"], i["distance_km"]) for i in computed["items"]] == [
        (str(salers), "24.5"),
        (str(mauriac), "33.9"),
    ]
    for unit, distance in ((salers, "24.5"), (mauriac, "33.9")):
        seen = await client.get(
            f"/api/v1/housing-units/{unit}/candidates", params={"max_commute_km": 40}, headers=service_manager.headers
        )
        assert [i["distance_km"] for i in seen.json()["items"]] == [distance]
    unit_view = await client.get(f"/api/v1/housing-units/{salers}/candidates", headers=service_manager.headers)
    assert [i["distance_km"] for i in unit_view.json()["items"]] == ["24.5"]


async def test_an_adult_without_a_licence_gets_no_unit_12_km_away(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    ref = await family(arrange, licence=False)
    await arrange.opening()
    prunet = await arrange.unit(rooms=3, commune_insee=PRUNET, postcode="15130")
    assert (await suggest(client, service_manager, ref))["total"] == 0
    # The manager may widen the limit.
    wide = await suggest(client, service_manager, ref, max_commute_km=15)
    assert [i["housing_unit"]["id"] for i in wide["items"]] == [str(prunet)]
    assert {f["name"]: f for f in wide["items"][0]["factors"]}["commute"]["detail"].endswith("15 km at most")
    near = await arrange.unit(rooms=3)
    body = await suggest(client, service_manager, ref)
    assert [i["housing_unit"]["id"] for i in body["items"]] == [str(near)]
    assert {f["name"]: f for f in body["items"][0]["factors"]}["commute"]["detail"].endswith(" 5 km at most")


async def test_a_t2_is_never_proposed_to_a_family_with_three_children(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    ref = await family(arrange, children=3)  # 1 + ceil(3 / 2) = 3 bedrooms: 4 rooms at least
    await arrange.opening()
    await arrange.unit(rooms=2)
    await arrange.unit(rooms=3)
    t4 = await arrange.unit(rooms=4)
    body = await suggest(client, service_manager, ref)
    assert [i["housing_unit"]["id"] for i in body["items"]] == [str(t4)]
    assert {f["name"]: f for f in body["items"][0]["factors"]}["size_fit"]["contribution"] == "5.00"


async def test_a_full_opening_disappears(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    ref = await family(arrange)
    opening = await arrange.opening()
    await arrange.unit(rooms=3)
    assert (await suggest(client, service_manager, ref))["total"] == 1
    row = await arrange.fetch(JobOpening, opening)
    row.hires_count = 1
    await db.commit()
    assert (await suggest(client, service_manager, ref))["total"] == 0


async def test_an_open_placement_hides_the_opening_for_that_adult(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    ref = await family(arrange)
    opening = await arrange.opening(positions=2)
    await arrange.unit(rooms=3)
    await arrange.placement(ref, opening, PlacementStatus.INTERVIEW)
    assert (await suggest(client, service_manager, ref))["total"] == 0


async def test_a_related_rome_match_appears_only_with_include_related(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    ref = await family(arrange)
    related = await arrange.opening(rome_code="F1701", title="Coffreur bancheur")
    await arrange.opening(rome_code="K1304", title="Aide ménagère")
    await arrange.unit(rooms=3)
    assert (await suggest(client, service_manager, ref))["total"] == 0
    body = await suggest(client, service_manager, ref, include_related="true")
    assert [i["job_opening"]["id"] for i in body["items"]] == [str(related)]
    rome = {f["name"]: f for f in body["items"][0]["factors"]}["rome_match"]
    assert (rome["value"], rome["contribution"]) == ("0.5", "15.00")


async def test_availability_beyond_the_wait_is_not_proposed(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    ref = await family(arrange)
    start = today() + timedelta(days=20)
    await arrange.opening(start_date=start)
    await arrange.unit(rooms=3, available_from=start + timedelta(days=61))
    assert (await suggest(client, service_manager, ref))["total"] == 0
    assert (await suggest(client, service_manager, ref, max_wait_days=90))["total"] == 1
    late = await arrange.unit(rooms=3, available_from=start + timedelta(days=30))
    body = await suggest(client, service_manager, ref)
    assert [i["housing_unit"]["id"] for i in body["items"]] == [str(late)]
    wait = {f["name"]: f for f in body["items"][0]["factors"]}["availability"]
    assert (wait["value"], wait["contribution"]) == ("30", "5.00")


async def test_ties_are_broken_deterministically_and_pages_are_stable(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    ref = await family(arrange)
    openings = sorted([str(await arrange.opening()) for _ in range(4)])
    units = sorted([str(await arrange.unit(rooms=3)) for _ in range(4)])
    # Equal scores and distances: by opening id, then unit id; the 3 first units of each opening.
    body = await suggest(client, service_manager, ref, units_per_opening=3)
    assert pairs(body) == [(opening, unit) for opening in openings for unit in units[:3]]
    page = await suggest(client, service_manager, ref, limit=5, offset=5, units_per_opening=3)
    assert (page["total"], page["limit"], page["offset"]) == (12, 5, 5)
    assert pairs(page) == pairs(body)[5:10]
    # One unit per pair (the default): among equal units, the first by id.
    one = await suggest(client, service_manager, ref)
    assert pairs(one) == [(opening, units[0]) for opening in openings]
    page = await suggest(client, service_manager, ref, limit=2, offset=2, units_per_opening=1)
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 2)
    assert [i["job_opening"]["id"] for i in page["items"]] == openings[2:]
    beyond = await suggest(client, service_manager, ref, offset=12, units_per_opening=3)
    assert (beyond["total"], beyond["items"]) == (12, [])


async def test_member_id_keeps_one_adult(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    ref = await family(arrange)
    await arrange.profile(ref.adults[1], rome_codes=["F1703"])
    await arrange.opening()
    await arrange.unit(rooms=3)
    assert (await suggest(client, service_manager, ref))["total"] == 2
    only = await suggest(client, service_manager, ref, member_id=str(ref.adults[1]))
    assert [i["member_id"] for i in only["items"]] == [str(ref.adults[1])]
    r = await client.get(url(ref), params={"member_id": str(ref.children[0])}, headers=service_manager.headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "member_id"


async def test_the_read_is_audited(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    ref = await family(arrange)
    await arrange.opening()
    await arrange.unit(rooms=3)
    await suggest(client, service_manager, ref)
    events = (await db.execute(select(AuditEvent).where(AuditEvent.action == "household.suggestions"))).scalars()
    (event,) = list(events)
    assert event.household_id == ref.id
    assert event.details == {"member_ids": [str(ref.adults[0])], "total": 1}


async def test_the_statements_planner_settings_end_with_it(arrange: Factory, db: AsyncSession) -> None:
    """Nested loops off, a larger `work_mem` and the generic plan are the statement's alone: the rest of the
    caller's transaction plans as usual, and the reused plan answers like the first."""
    ref = await family(arrange)
    await arrange.opening()
    await arrange.unit(rooms=3)
    names = ("enable_nestloop", "work_mem", "plan_cache_mode")
    probe = text("SELECT " + ", ".join(f"current_setting('{name}')" for name in names))
    before = (await db.execute(probe)).one()
    query = repository.Query(
        mode="household", today=today(), related=False, max_wait_days=60, max_commute_km=None, household_id=ref.id
    )
    answers = [await repository.proposals(db, query, PageParams(limit=50, offset=0)) for _ in range(7)]
    assert (await db.execute(probe)).one() == before != ("off", "32MB", "force_generic_plan")
    assert answers[0].total == 1
    assert all(answer == answers[0] for answer in answers)


# --- refusals ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.PARIS_REFERENT, Role.PARTNER_WORKER, Role.LANDLORD, Role.FUNDER])
async def test_only_the_service_manager_and_admins(
    client: AsyncClient, arrange: Factory, actors: Factory, admin: Actor, role: Role
) -> None:
    ref = await family(arrange)
    caller = await actors.user(role)
    assert (await client.get(url(ref), headers=caller.headers)).status_code == 403
    assert (await client.get(url(ref), headers=admin.headers)).status_code == 200


async def test_unknown_household_and_another_households_member_are_404(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    ref = await family(arrange)
    other = await arrange.household(
        org=await arrange.organisation(OrganisationKind.REFERRAL_PARTNER), stage=Stage.MATCHING
    )
    r = await client.get(url(uuid.uuid4()), headers=service_manager.headers)
    assert r.status_code == 404
    assert r.json()["type"] == "urn:toit-emploi:problem:not-found"
    r = await client.get(url(ref), params={"member_id": str(other.adults[0])}, headers=service_manager.headers)
    assert r.status_code == 404, r.text


@pytest.mark.parametrize("stage", [Stage.DIAGNOSTIC, Stage.RELAY_STAY, Stage.LEASE, Stage.WITHDRAWN])
async def test_outside_matching_is_409(
    client: AsyncClient, arrange: Factory, service_manager: Actor, stage: Stage
) -> None:
    ref = await arrange.household(stage=stage)
    r = await client.get(url(ref), headers=service_manager.headers)
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "urn:toit-emploi:problem:wrong-stage"
    assert r.json()["stage"] == stage.value


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"max_commute_km": "0"}, "max_commute_km"),
        ({"max_commute_km": "201"}, "max_commute_km"),
        ({"max_commute_km": "far"}, "max_commute_km"),
        ({"max_wait_days": "-1"}, "max_wait_days"),
        ({"max_wait_days": "366"}, "max_wait_days"),
        ({"include_related": "maybe"}, "include_related"),
        ({"member_id": "not-a-uuid"}, "member_id"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"units_per_opening": "0"}, "units_per_opening"),
        ({"units_per_opening": "11"}, "units_per_opening"),
        ({"units_per_opening": "three"}, "units_per_opening"),
    ],
)
async def test_bad_query_values_are_422(
    client: AsyncClient, arrange: Factory, service_manager: Actor, params: dict[str, str], field: str
) -> None:
    ref = await family(arrange)
    r = await client.get(url(ref), params=params, headers=service_manager.headers)
    assert r.status_code == 422, r.text
    assert f"query.{field}" in [e["field"] for e in r.json()["errors"]]
