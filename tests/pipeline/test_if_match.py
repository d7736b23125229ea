"""One If-Match policy: every pipeline route that changes an existing record answers 428 without the header and 412
with a stale one, and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from httpx import AsyncClient

from tests.factories import Actor, Factory, book_stay
from toit_emploi_api.core.clock import today
from toit_emploi_api.vocab.stages import Stage


@pytest.mark.parametrize("if_match", [None, '"999"'], ids=["missing", "stale"])
async def test_changes_of_existing_records_need_their_etag(
    client: AsyncClient, arrange: Factory, service_manager: Actor, if_match: str | None
) -> None:
    h = await arrange.household(stage=Stage.RELAY_STAY)
    r = await client.post(
        f"/api/v1/households/{h.id}/allocation",
        json={"unit_id": str(await arrange.unit())},
        headers=service_manager.headers,
    )
    assert r.status_code == 201, r.text
    r = await book_stay(client, service_manager, h.id, await arrange.unit(relay=True), today() - timedelta(days=5))
    assert r.status_code == 201, r.text
    stay = r.json()["id"]
    headers = {**service_manager.headers, **({"If-Match": if_match} if if_match else {})}
    expected = 428 if if_match is None else 412
    calls = [
        client.post(f"/api/v1/relay-stays/{stay}/cancel", headers=headers),
        client.put(
            f"/api/v1/relay-stays/{stay}/outcome",
            json={"family_agrees": True, "employer_agrees": True, "note": "Fine."},
            headers=headers,
        ),
        client.post(f"/api/v1/households/{h.id}/allocation/cancel", headers=headers),
        client.patch(
            f"/api/v1/households/{h.id}/allocation",
            json={"lease_signed_date": today().isoformat(), "move_in_date": today().isoformat()},
            headers=headers,
        ),
    ]
    for call in calls:
        r = await call
        assert r.status_code == expected, r.text
    assert (await client.get(f"/api/v1/relay-stays/{stay}", headers=service_manager.headers)).json()[
        "status"
    ] == "booked"
    allocation = (await client.get(f"/api/v1/households/{h.id}/allocation", headers=service_manager.headers)).json()
    assert allocation["status"] == "reserved"
