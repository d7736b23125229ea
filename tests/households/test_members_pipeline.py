"""Member edits that would break the pipeline's records: members with placements, the last profiled adult."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory
from tests.households.conftest import BASE, adult, child, create_household
from toit_emploi_api.households.models import Member
from toit_emploi_api.vocab.statuses import PlacementStatus

HAS_PLACEMENTS = "urn:toit-emploi:problem:member-has-placements"
LAST_PROFILED = "urn:toit-emploi:problem:last-profiled-adult"


async def _patch_member(client: AsyncClient, actor: Actor, url: str, body: dict[str, Any]) -> Response:
    tag = (await client.get(url, headers=actor.headers)).headers["ETag"]
    return await client.patch(url, json=body, headers=actor.headers | {"If-Match": tag})


@pytest.mark.parametrize("status", [PlacementStatus.PROPOSED, PlacementStatus.DECLINED])
async def test_a_member_with_placements_keeps_its_identity_and_stays(
    client: AsyncClient,
    service_manager: Actor,
    db: AsyncSession,
    factory: Factory,
    status: PlacementStatus,
) -> None:
    h = await create_household(
        client, service_manager, members=[adult(), adult("Mariam", role="partner", rome_codes=["K1304"])]
    )
    member_id = h["members"][0]["id"]
    await factory.set_stage(h["id"], "matching")
    placement_id = str(await factory.placement(h["id"], await factory.opening(), status, member=member_id))
    url = f"{BASE}/{h['id']}/members/{member_id}"

    for body in (
        {"role": "child", "rome_codes": None, "schooling_level": "lycee", "birth_date": "2010-01-01"},
        {"birth_date": "1980-01-01"},
        {"role": "other_relative"},
    ):
        r = await _patch_member(client, service_manager, url, body)
        assert r.status_code == 409, (body, r.text)
        assert r.json()["type"] == HAS_PLACEMENTS
        assert r.json()["placement_ids"] == [placement_id]
    r = await client.delete(url, headers=service_manager.headers | {"If-Match": "*"})
    assert r.status_code == 409, r.text
    assert (r.json()["type"], r.json()["placement_ids"]) == (HAS_PLACEMENTS, [placement_id])
    assert (await db.execute(select(func.count()).select_from(Member))).scalar_one() == 2

    # Other fields of that member may still change.
    r = await _patch_member(client, service_manager, url, {"driving_licence": True, "french_level": "b1"})
    assert r.status_code == 200, r.text


async def test_the_last_profiled_adult_stays_once_out_of_diagnostic(
    client: AsyncClient, service_manager: Actor, factory: Factory
) -> None:
    h = await create_household(
        client,
        service_manager,
        members=[adult(), adult("Mariam", role="partner", rome_codes=None), child()],
    )
    head, partner, kid = (m["id"] for m in h["members"])
    head_url = f"{BASE}/{h['id']}/members/{head}"

    # In diagnostic the file is still being built: anything goes (here: clear then restore the profile).
    assert (await _patch_member(client, service_manager, head_url, {"rome_codes": None})).status_code == 200
    assert (await _patch_member(client, service_manager, head_url, {"rome_codes": ["F1703"]})).status_code == 200

    await factory.set_stage(h["id"], "matching")
    young = {"role": "child", "rome_codes": None, "birth_date": "2010-01-01", "schooling_level": "lycee"}
    bodies: tuple[dict[str, Any], ...] = (young, {"rome_codes": None}, {"rome_codes": []})
    for body in bodies:
        r = await _patch_member(client, service_manager, head_url, body)
        assert r.status_code == 409, (body, r.text)
        assert r.json()["type"] == LAST_PROFILED
        assert r.json()["member_id"] == head
    r = await client.delete(head_url, headers=service_manager.headers | {"If-Match": "*"})
    assert (r.status_code, r.json()["type"]) == (409, LAST_PROFILED)

    # Members without a profile go freely; once another adult has a profile, the first one may go too.
    assert (
        await client.delete(f"{BASE}/{h['id']}/members/{kid}", headers=service_manager.headers | {"If-Match": '"1"'})
    ).status_code == 204
    partner_url = f"{BASE}/{h['id']}/members/{partner}"
    assert (await _patch_member(client, service_manager, partner_url, {"rome_codes": ["K1304"]})).status_code == 200
    assert (await client.delete(head_url, headers=service_manager.headers | {"If-Match": "*"})).status_code == 204
    r = await client.delete(partner_url, headers=service_manager.headers | {"If-Match": "*"})
    assert (r.status_code, r.json()["type"]) == (409, LAST_PROFILED)
