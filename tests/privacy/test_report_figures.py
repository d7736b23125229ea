"""The programme report and the funnel answer the same figures before and after the whole cohort is anonymised
(issue 12): households retained and withdrawn at different stages, members 17 or just 18 on the day they were
retained, anonymised by the retention run and on request."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory, etag
from toit_emploi_api.core.clock import age_on, today, years_later
from toit_emploi_api.households.models import Household, Member
from toit_emploi_api.vocab.roles import OrganisationKind
from toit_emploi_api.vocab.statuses import AllocationStatus, MemberRole

PROGRAMME = "/api/v1/reports/programme"
FUNNEL = "/api/v1/reports/funnel"

# Each household: (the day it entered the programme, its history after that as (step or stage, days after), the
# withdrawal reason). The retention run anonymises those of 2022-2023 (last contact years ago); the service manager
# erases the recent ones on request. Retained in December, the member born the day after 18 years earlier is
# 17 years 11 months 30 days old by `age()`: a month of 30 days must not make them an adult.
_Plan = tuple[date, list[tuple[str, int]], str | None]
_STEPS = [("submitted", 2), ("presented", 5), ("matching", 12)]
_BACK_AGAIN = [("relay_stay", 50), ("lease", 54), ("follow_up", 90), ("completed", 250)]
_RECENT = today() - timedelta(days=400)
PLANS: list[_Plan] = [
    (date(2022, 12, 2), [*_STEPS, ("relay_stay", 40), ("lease", 44), ("follow_up", 80), ("completed", 300)], None),
    (
        date(2022, 12, 9),
        [*_STEPS, ("relay_stay", 35), ("matching", 38), *_BACK_AGAIN],
        None,
    ),
    (date(2023, 2, 20), [*_STEPS, ("withdrawn", 30)], "lost_contact"),
    (date(2023, 3, 1), [*_STEPS, ("relay_stay", 30), ("withdrawn", 33)], "relay_stay_inconclusive"),
    (date(2023, 6, 5), [*_STEPS, ("relay_stay", 20), ("lease", 24), ("withdrawn", 60)], "no_housing_found"),
    (
        date(2022, 1, 6),
        [*_STEPS, ("relay_stay", 20), ("lease", 24), ("follow_up", 50), ("withdrawn", 120)],
        "returned_to_paris",
    ),
    (date(2023, 12, 13), [("submitted", 1), ("withdrawn", 9)], "application_declined"),
    (date(2024, 1, 20), [("submitted", 1), ("presented", 4), ("withdrawn", 20)], "household_declined"),
    (_RECENT, [*_STEPS, ("relay_stay", 30), ("lease", 34), ("follow_up", 60), ("completed", 200)], None),
    (_RECENT + timedelta(days=3), [*_STEPS, ("withdrawn", 14)], "employer_declined"),
]


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


async def _cohort(arrange: Factory, operator: uuid.UUID) -> tuple[list[uuid.UUID], list[uuid.UUID], list[uuid.UUID]]:
    """The households (every one closed), those erased on request, and the members 17 at retention."""
    households: list[uuid.UUID] = []
    recent: list[uuid.UUID] = []
    teens: list[uuid.UUID] = []
    for index, (created, items, reason) in enumerate(PLANS):
        org = operator if index % 3 == 0 else None
        ref = await arrange.household(org=org, adults=1 + index % 2, children=0, manager_notes="Note")
        retained = next((created + timedelta(days=d) for to, d in items if to == "matching"), created)
        # 17 on the day the household was retained (18 the next day); 18 that very day; a young child.
        teen = await arrange.member(ref.id, MemberRole.CHILD, years_later(retained, -18) + timedelta(days=1))
        teens.append(teen)
        await arrange.member(ref.id, MemberRole.OTHER_RELATIVE, years_later(retained, -18))
        await arrange.member(ref.id, MemberRole.CHILD, years_later(retained, -6))
        history = [(to, _at(created + timedelta(days=d))) for to, d in items]
        await arrange.history(ref.id, _at(created), history, reason=reason)
        lease = next((created + timedelta(days=d) for to, d in items if to == "lease"), None)
        if lease is not None:
            unit = await arrange.unit(rooms=4)
            await arrange.allocation(ref.id, unit, AllocationStatus.LEASE_SIGNED, lease_signed=lease, move_in=lease)
        await arrange.set_household(ref.id, last_contact_date=created + timedelta(days=items[-1][1]))
        households.append(ref.id)
        if created >= _RECENT:
            recent.append(ref.id)
    return households, recent, teens


QUERIES: list[tuple[str, dict[str, str]]] = [
    (PROGRAMME, {}),
    (PROGRAMME, {"group_by": "retention_year"}),
    (PROGRAMME, {"group_by": "referring_organisation"}),
    (PROGRAMME, {"referring_organisation_kind": "operator"}),
    (PROGRAMME, {"retained_since": "2022-12-20", "retained_before": "2024-01-01"}),
    (FUNNEL, {}),
    (FUNNEL, {"group_by": "retention_year"}),
    (FUNNEL, {"submitted_since": "2023-01-01"}),
]


async def _reports(client: AsyncClient, manager: Actor) -> list[dict[str, Any]]:
    answers = []
    for url, params in QUERIES:
        r = await client.get(url, params=params, headers=manager.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        body.pop("as_of")
        answers.append(body)
    return answers


async def test_reports_are_the_same_after_the_whole_cohort_is_anonymised(
    client: AsyncClient, arrange: Factory, admin: Actor, service_manager: Actor, db: AsyncSession
) -> None:
    operator = await arrange.organisation(OrganisationKind.OPERATOR, "Aurore Cantal")
    households, recent, teens = await _cohort(arrange, operator)
    before = await _reports(client, service_manager)
    programme = before[0]
    assert programme["households_retained"] == 8
    assert programme["declined_at_diagnostic"] == 2
    assert programme["children"] == 16  # the members 17 on the retention day and the young children
    assert programme["adults"] == 8 + 12  # the adults born 18 years before the retention day, and the others

    r = await client.post("/api/v1/retention/runs", json={}, headers=admin.headers)
    assert r.status_code == 200, r.text
    for household_id in recent:
        r = await client.post(
            f"/api/v1/households/{household_id}/anonymise",
            json={"reason": "erasure_request"},
            headers={**service_manager.headers, "If-Match": await etag(client, service_manager, household_id)},
        )
        assert r.status_code == 200, r.text
    for household_id in households:
        assert (await arrange.fetch(Household, household_id)).anonymised_at is not None
    for teen in teens:
        member = await arrange.fetch(Member, teen)
        assert (member.first_name, member.birth_date.month, member.birth_date.day) == ("", 12, 31)

    assert await _reports(client, service_manager) == before
    # Anonymisation flags the summary rows instead of recomputing them (privacy.repository._FLAG_REPORTS): the
    # anonymised birth dates themselves keep the split, so the summary rebuilt from them is the same, row for row,
    # and gives the same figures.
    summary = await _summary(db)
    assert all(row["anonymised"] for row in summary[0])
    await db.execute(text("DELETE FROM report_stage_passes"))
    await db.execute(text("DELETE FROM report_households"))
    await db.execute(text("SELECT report_refresh(array_agg(id)) FROM households"))
    await db.commit()
    assert await _summary(db) == summary
    assert await _reports(client, service_manager) == before


async def _summary(db: AsyncSession) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both per-household summary tables, every column, in key order."""
    households = await db.execute(text("SELECT * FROM report_households ORDER BY household_id"))
    passes = await db.execute(text("SELECT * FROM report_stage_passes ORDER BY household_id, pass_number"))
    return [dict(r._mapping) for r in households], [dict(r._mapping) for r in passes]


def test_the_teens_are_17_on_the_retention_day() -> None:
    for created, items, _ in PLANS:
        retained = next((created + timedelta(days=d) for to, d in items if to == "matching"), created)
        assert age_on(years_later(retained, -18) + timedelta(days=1), retained) == 17
        assert age_on(years_later(retained, -18), retained) == 18
