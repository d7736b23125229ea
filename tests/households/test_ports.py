"""households.ports: what households asks of the pipeline comes through the slot the composition root fills."""

from __future__ import annotations

import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor
from tests.households.conftest import BASE, adult, create_household
from toit_emploi_api.households import ports


async def test_an_unconnected_port_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, db: AsyncSession) -> None:
    monkeypatch.setattr(ports, "_connected", {})
    with pytest.raises(RuntimeError, match=r"households\.ports is not connected"):
        await ports.member_placements(db, uuid.uuid4())


async def test_the_service_asks_the_connected_port(
    monkeypatch: pytest.MonkeyPatch, client: AsyncClient, service_manager: Actor
) -> None:
    h = await create_household(client, service_manager, members=[adult(), adult("Mariam", role="partner")])
    member_id = uuid.UUID(h["members"][0]["id"])
    placement_id = uuid.uuid4()
    asked: list[uuid.UUID] = []

    async def placements(session: AsyncSession, member: uuid.UUID) -> list[uuid.UUID]:
        asked.append(member)
        return [placement_id]

    monkeypatch.setitem(ports._connected, "member_placements", placements)
    url = f"{BASE}/{h['id']}/members/{member_id}"
    r = await client.delete(url, headers=service_manager.headers | {"If-Match": '"1"'})
    assert r.status_code == 409, r.text
    assert (r.json()["type"], r.json()["placement_ids"]) == (
        "urn:toit-emploi:problem:member-has-placements",
        [str(placement_id)],
    )
    assert asked == [member_id]
