"""Retention: last contact maintained by the API, the due list, runs (dry, real, locked), anonymisation's
content and the statistics that survive it."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Actor, Factory, move
from tests.privacy.conftest import SECRET_LAST_NAME, SECRET_NOTE, figures, old_file
from toit_emploi_api.core.clock import age_on, today, years_later
from toit_emploi_api.core.idempotency_models import IdempotencyKey
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.households.models import Household, Member
from toit_emploi_api.pipeline.models import FollowUpEntry, StageTransition
from toit_emploi_api.privacy import repository, retention
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import Stage

RUNS = "/api/v1/retention/runs"
DUE = "/api/v1/retention/due"


# --- last contact ---------------------------------------------------------------------------------------------
async def test_pipeline_writes_and_manager_updates_touch_the_last_contact(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    h = await arrange.household(stage=Stage.DIAGNOSTIC)
    old = today() - timedelta(days=400)
    await arrange.set_household(h.id, last_contact_date=old)
    r = await client.get(f"/api/v1/households/{h.id}", headers=service_manager.headers)
    assert r.json()["last_contact_date"] == old.isoformat()

    # A stage move is a contact.
    r = await move(client, service_manager, h.id, "withdrawn", reason="household_declined", note="n")
    assert r.status_code == 201, r.text
    assert (await arrange.fetch(Household, h.id)).last_contact_date == today()

    # A follow-up entry's date is a contact: the later of the two stays.
    f = await arrange.household(stage=Stage.FOLLOW_UP)
    await arrange.set_household(f.id, last_contact_date=old)
    entry_day = today() - timedelta(days=10)
    r = await client.post(
        f"/api/v1/households/{f.id}/follow-up-entries",
        json={"entry_date": entry_day.isoformat(), "domain": "schooling", "note": "École"},
        headers=service_manager.headers,
    )
    assert r.status_code == 201, r.text
    assert (await arrange.fetch(Household, f.id)).last_contact_date == entry_day
    r = await client.post(
        f"/api/v1/households/{f.id}/follow-up-entries",
        json={"entry_date": (today() - timedelta(days=100)).isoformat(), "domain": "schooling", "note": "Older"},
        headers=service_manager.headers,
    )
    assert (await arrange.fetch(Household, f.id)).last_contact_date == entry_day

    # A placement proposed is a contact.
    m = await arrange.household(stage=Stage.MATCHING)
    await arrange.set_household(m.id, last_contact_date=old)
    opening = await arrange.opening()
    r = await client.post(
        f"/api/v1/households/{m.id}/placements",
        json={"member_id": str(m.adults[0]), "job_opening_id": str(opening)},
        headers=service_manager.headers,
    )
    assert r.status_code == 201, r.text
    assert (await arrange.fetch(Household, m.id)).last_contact_date == today()

    # The service manager's update is a contact; a set date is kept as set, never in the future.
    d = await arrange.household()
    await arrange.set_household(d.id, last_contact_date=old)
    r = await client.get(f"/api/v1/households/{d.id}", headers=service_manager.headers)
    tag = r.headers["ETag"]
    r = await client.patch(
        f"/api/v1/households/{d.id}",
        json={"housing_situation": "shelter"},
        headers={**service_manager.headers, "If-Match": tag},
    )
    assert r.status_code == 200, r.text
    assert r.json()["last_contact_date"] == today().isoformat()
    chosen = today() - timedelta(days=3)
    r = await client.patch(
        f"/api/v1/households/{d.id}",
        json={"last_contact_date": chosen.isoformat()},
        headers={**service_manager.headers, "If-Match": r.headers["ETag"]},
    )
    assert r.json()["last_contact_date"] == chosen.isoformat()
    r = await client.patch(
        f"/api/v1/households/{d.id}",
        json={"last_contact_date": (today() + timedelta(days=1)).isoformat()},
        headers={**service_manager.headers, "If-Match": r.headers["ETag"]},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "last_contact_date"


# --- the due list ---------------------------------------------------------------------------------------------
async def test_due_list_shows_files_30_days_ahead_and_marks_active_ones(
    client: AsyncClient, arrange: Factory, service_manager: Actor, actors: Factory
) -> None:
    two_years_ago = years_later(today(), -2)
    done = await arrange.household(stage=Stage.COMPLETED)
    await arrange.set_household(done.id, last_contact_date=two_years_ago - timedelta(days=5))
    active = await arrange.household(stage=Stage.FOLLOW_UP)
    await arrange.set_household(active.id, last_contact_date=two_years_ago - timedelta(days=1))
    soon = await arrange.household(stage=Stage.WITHDRAWN)
    await arrange.set_household(soon.id, last_contact_date=two_years_ago + timedelta(days=20))
    later = await arrange.household(stage=Stage.WITHDRAWN)
    await arrange.set_household(later.id, last_contact_date=two_years_ago + timedelta(days=40))
    recent = await arrange.household(stage=Stage.COMPLETED)
    await arrange.set_household(recent.id, last_contact_date=today())

    r = await client.get(DUE, headers=service_manager.headers)
    assert r.status_code == 200, r.text
    items = {i["household_id"]: i for i in r.json()["items"]}
    assert set(items) == {str(done.id), str(active.id), str(soon.id)}
    assert r.json()["total"] == 3
    assert items[str(done.id)]["is_due"] is True
    assert items[str(done.id)]["decision_needed"] is False
    assert (
        items[str(done.id)]["due_on"] == (years_later(two_years_ago - timedelta(days=5), 2) + timedelta(1)).isoformat()
    )
    assert items[str(active.id)]["is_due"] is True
    assert items[str(active.id)]["decision_needed"] is True
    assert items[str(soon.id)]["is_due"] is False
    assert r.json()["items"][0]["household_id"] == str(done.id)  # soonest first
    events = await arrange.fetch_events("retention.due_list")
    assert set(events[0].household_ids or []) == {done.id, active.id, soon.id}

    for role in (Role.PARIS_REFERENT, Role.PARTNER_WORKER, Role.FUNDER, Role.LANDLORD):
        other = await actors.user(role)
        assert (await client.get(DUE, headers=other.headers)).status_code == 403
    admin = await actors.user(Role.ADMIN)
    assert (await client.get(DUE, headers=admin.headers)).status_code == 200


# --- runs -----------------------------------------------------------------------------------------------------
async def test_dry_run_lists_and_changes_nothing_as_of_only_when_dry(
    client: AsyncClient, arrange: Factory, admin: Actor, actors: Factory
) -> None:
    old = await old_file(arrange)
    active = await old_file(arrange, stage=Stage.MATCHING)
    r = await client.post(RUNS, json={"dry_run": True}, headers=admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is True
    assert body["count"] == 1
    assert [h["household_id"] for h in body["households"]] == [str(old.ref.id)]
    assert (await arrange.fetch(Household, old.ref.id)).anonymised_at is None

    # As of four years ago nothing was due yet.
    past = years_later(today(), -4).isoformat()
    r = await client.post(RUNS, json={"dry_run": True, "as_of": past}, headers=admin.headers)
    assert r.json()["count"] == 0
    assert r.json()["as_of"] == past
    r = await client.post(RUNS, json={"as_of": past}, headers=admin.headers)
    assert r.status_code == 422
    assert str(active.ref.id) not in r.text

    for role in (Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER, Role.FUNDER, Role.LANDLORD):
        other = await actors.user(role)
        assert (await client.post(RUNS, json={"dry_run": True}, headers=other.headers)).status_code == 403


async def test_run_anonymises_closed_files_only_and_keeps_the_statistics(
    client: AsyncClient, arrange: Factory, admin: Actor, db: AsyncSession
) -> None:
    withdrawn = await old_file(arrange)
    completed = await old_file(arrange, stage=Stage.COMPLETED)
    active = await old_file(arrange, stage=Stage.FOLLOW_UP)
    recent = await old_file(arrange, years_ago=1)
    await arrange.follow_up_entry(completed.ref.id, years_later(today(), -3), SECRET_NOTE)
    db.add(
        IdempotencyKey(
            principal_kind="user",
            principal_id=admin.id,
            key="k1",
            request_fingerprint="0" * 64,
            response_status=201,
            response_body={"id": str(withdrawn.ref.id), "members": [{"last_name": SECRET_LAST_NAME}]},
        )
    )
    await db.commit()
    teen = await arrange.fetch(Member, withdrawn.teen)
    retained_day = years_later(today(), -3)
    assert age_on(teen.birth_date, retained_day) == 17
    before = await figures(db)

    r = await client.post(RUNS, json={}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert {h["household_id"] for h in r.json()["households"]} == {str(withdrawn.ref.id), str(completed.ref.id)}
    assert r.json()["count"] == 2

    assert await figures(db) == before  # the funders' figures are the same after anonymisation

    household = await arrange.fetch(Household, withdrawn.ref.id)
    assert household.anonymised_at is not None
    assert household.manager_notes is None
    assert household.needs_constraints is None
    assert household.consent_scope is None
    assert household.consent_date is not None
    assert household.withdrawal_reason == household.withdrawal_reason
    members = (
        await db.execute(
            select(
                Member.first_name, Member.last_name, Member.birth_date, Member.rome_codes, Member.qualifications
            ).where(Member.household_id == withdrawn.ref.id)
        )
    ).all()
    assert len(members) == 4
    for first, last, birth, _, qualifications in members:
        assert first == last == ""
        assert qualifications is None
        assert (birth.month, birth.day) in ((1, 1), (12, 31))
    assert any(m.rome_codes == ["F1703"] for m in members)
    teen = await arrange.fetch(Member, withdrawn.teen)
    assert teen.birth_date.year == retained_day.year - 18
    assert age_on(teen.birth_date, retained_day) == 17  # still a child on the day the household was retained
    moves = (
        (await db.execute(select(StageTransition).where(StageTransition.household_id == withdrawn.ref.id)))
        .scalars()
        .all()
    )
    assert all(m.note is None for m in moves)
    assert {m.reason for m in moves} == {None, "household_declined"}
    entries = (
        (await db.execute(select(FollowUpEntry).where(FollowUpEntry.household_id == completed.ref.id))).scalars().all()
    )
    assert [e.note for e in entries] == [""]
    assert (await db.execute(select(IdempotencyKey))).scalars().all() == []

    for untouched in (active, recent):
        assert (await arrange.fetch(Household, untouched.ref.id)).anonymised_at is None
    events = await arrange.fetch_events("household.anonymise")
    assert {e.household_id for e in events} == {withdrawn.ref.id, completed.ref.id}
    assert all(
        e.actor_id == admin.id and e.details == {"cause": "retention", "as_of": today().isoformat()} for e in events
    )
    assert len(await arrange.fetch_events("retention.run")) == 1

    # Nothing is left in the database that names the family or quotes its notes.
    gone = [withdrawn.ref.id, completed.ref.id]
    for table, column in (
        ("households", "id"),
        ("household_members", "household_id"),
        ("stage_transitions", "household_id"),
        ("follow_up_entries", "household_id"),
        ("audit_events", "household_id"),
    ):
        stmt = text(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t WHERE {column} = ANY(:ids)")
        dump = (await db.execute(stmt, {"ids": gone})).scalar_one()
        assert SECRET_NOTE not in dump, table
        assert SECRET_LAST_NAME not in dump, table

    # A second run has nothing left to do; the anonymised household is closed to writes.
    r = await client.post(RUNS, json={}, headers=admin.headers)
    assert r.json()["count"] == 0
    r = await client.get(f"/api/v1/households/{withdrawn.ref.id}", headers=admin.headers)
    assert r.status_code == 200
    assert r.json()["members"][0]["first_name"] == ""


async def test_one_run_at_a_time(
    client: AsyncClient,
    arrange: Factory,
    admin: Actor,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    old = await old_file(arrange)
    async with sessionmaker() as holder:
        assert await repository.try_advisory_lock(holder)
        r = await client.post(RUNS, json={}, headers=admin.headers)
        assert r.status_code == 409
        assert r.json()["type"].endswith(":retention-run-in-progress")
        skipped = await retention.run(sessionmaker, settings)
        assert skipped.skipped is True
        await repository.advisory_unlock(holder)
        await holder.commit()
    assert (await arrange.fetch(Household, old.ref.id)).anonymised_at is None

    # Two runs at once (two workers): each household is anonymised once.
    results = await asyncio.gather(retention.run(sessionmaker, settings), retention.run(sessionmaker, settings))
    assert sorted(r.count for r in results) == [0, 1]
    assert len(await arrange.fetch_events("household.anonymise")) == 1


def test_the_daily_run_is_on_by_itself_in_production() -> None:
    production = {"environment": "production", "DATABASE_URL": "postgresql://db/x", "jwt_secret": "s" * 40}
    assert Settings(**production).runs_retention is True  # type: ignore[arg-type]
    assert Settings(**production, retention_scheduler=False).runs_retention is False  # type: ignore[arg-type]
    assert Settings(environment="test").runs_retention is False
    assert Settings(environment="local", retention_scheduler=True).runs_retention is True


@pytest.mark.parametrize("months", [23])
def test_retention_period_is_at_least_24_months(months: int) -> None:
    with pytest.raises(ValueError, match="retention_months"):
        Settings(environment="test", retention_months=months)


async def test_due_date_follows_the_setting(arrange: Factory, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    h = await arrange.household(stage=Stage.WITHDRAWN)
    await arrange.set_household(h.id, last_contact_date=date(2020, 1, 31))
    async with sessionmaker() as session:
        rows = await repository.automatic_candidates(session, 36, date(2023, 2, 1))
        assert [r.due_on for r in rows] == [date(2023, 2, 1)]
        assert await repository.automatic_candidates(session, 36, date(2023, 1, 31)) == []
