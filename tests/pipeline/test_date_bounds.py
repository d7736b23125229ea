"""Pipeline dates are sane: from the programme's launch (2014-01-01) to two years from today (never in the future
for what already happened), answered 422 on the field, never a generic database error."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from httpx import AsyncClient, Response

from tests.factories import Actor, Factory, move, patch_placement
from toit_emploi_api.core.clock import today
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import PlacementStatus

TOO_EARLY = date(2013, 12, 31)


def too_late() -> date:
    return today() + timedelta(days=2 * 366 + 1)


def fields(r: Response) -> list[str]:
    return [e["field"] for e in r.json()["errors"]]


@pytest.mark.parametrize("when", ["early", "late"])
async def test_lease_dates(client: AsyncClient, arrange: Factory, service_manager: Actor, when: str) -> None:
    h = await arrange.household(stage=Stage.LEASE)
    unit = await arrange.unit(rooms=4)
    url = f"/api/v1/households/{h.id}/allocation"
    r = await client.post(url, json={"unit_id": str(unit)}, headers=service_manager.headers)
    assert r.status_code == 201
    bad = TOO_EARLY if when == "early" else too_late()
    body = {"lease_signed_date": bad.isoformat(), "move_in_date": bad.isoformat()}
    r = await client.patch(url, json=body, headers={**service_manager.headers, "If-Match": '"1"'})
    assert r.status_code == 422, r.text
    assert fields(r) == ["lease_signed_date", "move_in_date"]
    body = {"lease_signed_date": today().isoformat(), "move_in_date": (today() + timedelta(days=30)).isoformat()}
    r = await client.patch(url, json=body, headers={**service_manager.headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("when", ["early", "late"])
async def test_placement_start_date(client: AsyncClient, arrange: Factory, service_manager: Actor, when: str) -> None:
    h = await arrange.household(stage=Stage.MATCHING)
    pid = await arrange.placement(h, await arrange.opening(), PlacementStatus.OFFERED)
    bad = TOO_EARLY if when == "early" else too_late()
    r = await patch_placement(client, service_manager, pid, status="hired", contract_type="cdi", start_date=str(bad))
    assert r.status_code == 422, r.text
    assert fields(r) == ["start_date"]


async def test_follow_up_and_closure_dates(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    h = await arrange.household(stage=Stage.FOLLOW_UP)
    url = f"/api/v1/households/{h.id}/follow-up-entries"
    for bad in (TOO_EARLY, today() + timedelta(days=1)):
        r = await client.post(
            url, json={"entry_date": bad.isoformat(), "domain": "housing", "note": "x"}, headers=service_manager.headers
        )
        assert r.status_code == 422, r.text
        assert fields(r) == ["entry_date"]
    r = await move(client, service_manager, h.id, "completed", closure_date=TOO_EARLY.isoformat(), note="Done.")
    assert r.status_code == 422, r.text
    assert fields(r) == ["closure_date"]
