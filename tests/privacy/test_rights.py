"""The data subject's rights: the access export, erasure on request; the CLI and the daily run."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Actor, Factory
from tests.privacy.conftest import SECRET_LAST_NAME, SECRET_NOTE, old_file
from toit_emploi_api.cli import main
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.households.models import Household
from toit_emploi_api.privacy import scheduler
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import Stage


def export_url(household_id: object) -> str:
    return f"/api/v1/households/{household_id}/export"


def erase_url(household_id: object) -> str:
    return f"/api/v1/households/{household_id}/anonymise"


async def test_export_holds_everything_and_is_audited(
    client: AsyncClient, arrange: Factory, service_manager: Actor, actors: Factory
) -> None:
    h = await arrange.household(stage=Stage.FOLLOW_UP, manager_notes=SECRET_NOTE, last_name=SECRET_LAST_NAME)
    await arrange.transition(h.id, Stage.DIAGNOSTIC, Stage.MATCHING, datetime(2025, 3, 1, tzinfo=UTC), note="Retenu")
    await arrange.follow_up_entry(h.id, datetime(2026, 1, 5).date(), "Inscription école")
    opening = await arrange.opening()
    from toit_emploi_api.vocab.statuses import PlacementStatus

    await arrange.placement(h, opening, PlacementStatus.PROPOSED)
    await client.get(f"/api/v1/households/{h.id}", headers=service_manager.headers)

    r = await client.get(export_url(h.id), headers=service_manager.headers)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["household"]["id"] == str(h.id)
    assert doc["household"]["manager_notes"] == SECRET_NOTE
    assert {m["last_name"] for m in doc["household"]["members"]} == {SECRET_LAST_NAME}
    assert doc["stage_history"][0]["note"] == "Retenu"
    assert [item["kind"] for item in doc["stage_history"]] == ["move"]
    assert doc["follow_up_entries"][0]["note"] == "Inscription école"
    assert len(doc["placements"]) == 1
    assert doc["relay_stays"] == []
    assert doc["allocations"] == []
    assert doc["anonymised_at"] is None
    assert [e["action"] for e in doc["access_log"]] == ["household.read"]

    r = await client.get(f"/api/v1/households/{h.id}/access-log", headers=service_manager.headers)
    export_event = r.json()["items"][0]
    assert export_event["action"] == "household.export"

    for role in (Role.PARIS_REFERENT, Role.PARTNER_WORKER, Role.FUNDER, Role.LANDLORD):
        user = await actors.user(role)
        assert (await client.get(export_url(h.id), headers=user.headers)).status_code == 403
    admin = await actors.user(Role.ADMIN)
    assert (await client.get(export_url(h.id), headers=admin.headers)).status_code == 200
    assert (await client.get(export_url(uuid.uuid4()), headers=admin.headers)).status_code == 404
    # The application's steps are exported as what they are (the same mapping as the stage history's).
    draft = await arrange.household()
    await arrange.history(draft.id, datetime(2025, 1, 6, tzinfo=UTC), [("submitted", datetime(2025, 1, 8, tzinfo=UTC))])
    r = await client.get(export_url(draft.id), headers=service_manager.headers)
    assert [item["kind"] for item in r.json()["stage_history"]] == ["application_submitted"]


async def test_erasure_on_request(
    client: AsyncClient, arrange: Factory, service_manager: Actor, actors: Factory
) -> None:
    active = await arrange.household(stage=Stage.MATCHING)
    r = await client.get(f"/api/v1/households/{active.id}", headers=service_manager.headers)
    body = {"reason": "erasure_request"}
    r = await client.post(
        erase_url(active.id), json=body, headers={**service_manager.headers, "If-Match": r.headers["ETag"]}
    )
    assert r.status_code == 409
    assert r.json()["type"].endswith(":household-still-active")

    recent = await old_file(arrange, years_ago=0)  # withdrawn today: not due, erased on request
    r = await client.get(f"/api/v1/households/{recent.ref.id}", headers=service_manager.headers)
    tag = r.headers["ETag"]
    assert (await client.post(erase_url(recent.ref.id), json=body, headers=service_manager.headers)).status_code == 428
    r = await client.post(
        erase_url(recent.ref.id), json={"reason": "because"}, headers={**service_manager.headers, "If-Match": tag}
    )
    assert r.status_code == 422
    r = await client.post(erase_url(recent.ref.id), json=body, headers={**service_manager.headers, "If-Match": tag})
    assert r.status_code == 200, r.text
    assert r.json()["household_id"] == str(recent.ref.id)
    new_tag = r.headers["ETag"]
    assert new_tag != tag
    r = await client.get(f"/api/v1/households/{recent.ref.id}", headers=service_manager.headers)
    assert r.headers["ETag"] == new_tag
    assert SECRET_LAST_NAME not in r.text
    assert SECRET_NOTE not in r.text
    r = await client.post(erase_url(recent.ref.id), json=body, headers={**service_manager.headers, "If-Match": new_tag})
    assert r.status_code == 409
    assert r.json()["type"].endswith(":household-anonymised")

    r = await client.get(f"/api/v1/households/{recent.ref.id}/access-log", headers=service_manager.headers)
    erasure = next(e for e in r.json()["items"] if e["action"] == "household.anonymise")
    assert erasure["details"] == {"cause": "erasure_request"}
    assert erasure["actor"]["id"] == str(service_manager.id)

    partner = await actors.user(Role.PARTNER_WORKER)
    for role in (Role.PARIS_REFERENT, Role.FUNDER, Role.LANDLORD):
        user = await actors.user(role)
        assert (
            await client.post(erase_url(active.id), json=body, headers={**user.headers, "If-Match": "*"})
        ).status_code == 403
    assert (
        await client.post(erase_url(active.id), json=body, headers={**partner.headers, "If-Match": "*"})
    ).status_code == 403
    admin = await actors.user(Role.ADMIN)
    r = await client.post(erase_url(uuid.uuid4()), json=body, headers={**admin.headers, "If-Match": "*"})
    assert r.status_code == 404


async def test_partner_of_another_organisation_never_learns_of_the_file(
    client: AsyncClient, arrange: Factory, actors: Factory
) -> None:
    other_org = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    h = await arrange.household(org=other_org)
    partner = await actors.user(Role.PARTNER_WORKER)
    assert (await client.get(f"/api/v1/households/{h.id}/access-log", headers=partner.headers)).status_code == 404


# --- the CLI and the daily run ----------------------------------------------------------------------------------
@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TOIT_EMPLOI_ENVIRONMENT", "test")


async def test_cli_retention_run(
    cli_env: None, arrange: Factory, capsys: pytest.CaptureFixture[str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    old = await old_file(arrange)

    def run(*argv: str) -> int:
        return main(["retention", "run", *argv])

    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(None, run, "--as-of", "2020-01-01") == 2  # --as-of only with --dry-run
    assert await loop.run_in_executor(None, run, "--dry-run", "--as-of", "2020-01-01") == 0
    assert json.loads(capsys.readouterr().out) | {"households": []} == {
        "dry_run": True,
        "as_of": "2020-01-01",
        "count": 0,
        "households": [],
        "skipped": False,
    }
    assert await loop.run_in_executor(None, run, "--dry-run") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dry_run"] is True
    assert [h["household_id"] for h in out["households"]] == [str(old.ref.id)]
    assert (await arrange.fetch(Household, old.ref.id)).anonymised_at is None
    assert await loop.run_in_executor(None, run) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 1
    assert (await arrange.fetch(Household, old.ref.id)).anonymised_at is not None
    [event] = await arrange.fetch_events("household.anonymise")
    assert event.actor_kind == "system"


async def test_daily_run(arrange: Factory, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    paris = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 in Paris (summer time began at 02:00)
    assert scheduler.seconds_until_next_run(paris, 3) == pytest.approx(23.5 * 3600)
    assert scheduler.seconds_until_next_run(datetime(2026, 12, 2, 1, 0, tzinfo=UTC), 3) == 3600
    old = await old_file(arrange)
    result = await scheduler.run_once(sessionmaker, settings)
    assert result is not None
    assert result.count == 1
    assert (await arrange.fetch(Household, old.ref.id)).anonymised_at is not None


async def test_the_service_runs_retention_from_its_lifespan_when_told(arrange: Factory, settings: Settings) -> None:
    from toit_emploi_api.main import create_app

    old = await old_file(arrange)
    app = create_app(settings.model_copy(update={"retention_scheduler": True}))
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if (await arrange.fetch(Household, old.ref.id)).anonymised_at is not None:
                break
            await asyncio.sleep(0.05)
    assert (await arrange.fetch(Household, old.ref.id)).anonymised_at is not None
