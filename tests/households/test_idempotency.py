"""Idempotency-Key on POST /households: replay, mismatch, per caller, concurrency, expiry."""

from __future__ import annotations

import asyncio
import uuid

from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory
from tests.households.conftest import BASE, family_body
from toit_emploi_api.core.idempotency import request_fingerprint
from toit_emploi_api.households.models import Household, Member
from toit_emploi_api.vocab.roles import OrganisationKind, Role


async def _households(db: AsyncSession) -> int:
    await db.rollback()  # fresh snapshot
    return int((await db.execute(select(func.count()).select_from(Household))).scalar_one())


async def test_same_key_and_body_replays_first_response_without_creating(
    client: AsyncClient, actors: Factory, db: AsyncSession
) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    headers = partner.headers | {"Idempotency-Key": "create-traore-1"}
    first = await client.post(BASE, json=family_body(), headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers

    second = await client.post(BASE, json=family_body(), headers=headers)
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["ETag"] == first.headers["ETag"]
    assert await _households(db) == 1
    assert (await db.execute(select(func.count()).select_from(Member))).scalar_one() == 5


async def test_key_order_and_spacing_of_the_body_do_not_matter(client: AsyncClient, actors: Factory) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    headers = partner.headers | {"Idempotency-Key": "k-order", "Content-Type": "application/json"}
    first = await client.post(
        BASE, content=b'{"housing_situation": "street", "last_contact_date": null}', headers=headers
    )
    second = await client.post(
        BASE, content=b'{"last_contact_date":null,"housing_situation":"street"}', headers=headers
    )
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"


async def test_same_key_with_another_body_is_422(client: AsyncClient, actors: Factory, db: AsyncSession) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    headers = partner.headers | {"Idempotency-Key": "reused"}
    assert (await client.post(BASE, json=family_body(), headers=headers)).status_code == 201
    r = await client.post(BASE, json=family_body(housing_situation="street"), headers=headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "urn:toit-emploi:problem:idempotency-key-reused"
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await _households(db) == 1


async def test_keys_belong_to_one_caller(client: AsyncClient, actors: Factory, db: AsyncSession) -> None:
    org = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    alice = await actors.user(Role.PARTNER_WORKER, org)
    bob = await actors.user(Role.PARTNER_WORKER, org)
    a = await client.post(BASE, json=family_body(), headers=alice.headers | {"Idempotency-Key": "same"})
    b = await client.post(BASE, json=family_body(), headers=bob.headers | {"Idempotency-Key": "same"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "Idempotent-Replayed" not in b.headers
    assert await _households(db) == 2


async def test_without_key_each_post_creates(client: AsyncClient, actors: Factory, db: AsyncSession) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    for _ in range(2):
        assert (await client.post(BASE, json=family_body(), headers=partner.headers)).status_code == 201
    assert await _households(db) == 2


async def test_failed_request_does_not_keep_the_key(client: AsyncClient, actors: Factory, db: AsyncSession) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    headers = partner.headers | {"Idempotency-Key": "after-error"}
    bad = family_body()
    bad["members"][2]["rome_codes"] = ["F1703"]  # a child with a professional profile: 422 from the service
    assert (await client.post(BASE, json=bad, headers=headers)).status_code == 422
    assert (await client.post(BASE, json=family_body(), headers=headers)).status_code == 201
    assert await _households(db) == 1


async def test_concurrent_first_use_creates_one_household(
    client: AsyncClient, actors: Factory, db: AsyncSession
) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    headers = partner.headers | {"Idempotency-Key": "race"}
    responses = await asyncio.gather(*[client.post(BASE, json=family_body(), headers=headers) for _ in range(6)])
    assert [r.status_code for r in responses] == [201] * 6
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert await _households(db) == 1


async def test_key_is_kept_24_hours_then_purged_and_reusable(
    client: AsyncClient, actors: Factory, db: AsyncSession
) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    headers = partner.headers | {"Idempotency-Key": "old"}
    first = await client.post(BASE, json=family_body(), headers=headers)
    await db.execute(text("UPDATE idempotency_keys SET created_at = now() - interval '23 hours'"))
    await db.commit()
    kept = await client.post(BASE, json=family_body(), headers=headers)
    assert kept.headers.get("Idempotent-Replayed") == "true"

    # Older than the retention (48 h by default, never under 24 h): a new use of the key is a new request.
    await db.execute(text("UPDATE idempotency_keys SET created_at = now() - interval '49 hours'"))
    await db.commit()
    again = await client.post(BASE, json=family_body(housing_situation="street"), headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again.headers

    # Expired keys of anyone are purged opportunistically by later claims.
    await db.execute(text("UPDATE idempotency_keys SET created_at = now() - interval '49 hours'"))
    await db.commit()
    other = await actors.user(Role.PARTNER_WORKER)
    await client.post(BASE, json=family_body(), headers=other.headers | {"Idempotency-Key": "fresh"})
    await db.rollback()
    keys = (await db.execute(text("SELECT key FROM idempotency_keys"))).scalars().all()
    assert keys == ["fresh"]


async def test_key_bounds(client: AsyncClient, actors: Factory) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    ok = await client.post(BASE, json=family_body(), headers=partner.headers | {"Idempotency-Key": "k" * 200})
    assert ok.status_code == 201
    too_long = await client.post(BASE, json=family_body(), headers=partner.headers | {"Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422
    assert "Idempotency-Key" in too_long.json()["errors"][0]["field"]
    empty = await client.post(BASE, json=family_body(), headers=partner.headers | {"Idempotency-Key": ""})
    assert empty.status_code == 422


async def test_stored_row_holds_identity_fingerprint_and_response(
    client: AsyncClient, actors: Factory, db: AsyncSession
) -> None:
    partner: Actor = await actors.user(Role.PARTNER_WORKER)
    r = await client.post(BASE, json=family_body(), headers=partner.headers | {"Idempotency-Key": "row"})
    row = (
        await db.execute(
            text(
                "SELECT principal_kind, principal_id, request_fingerprint, response_status, response_body"
                " FROM idempotency_keys"
            )
        )
    ).one()
    assert row.principal_kind == "user"
    assert row.principal_id == partner.id
    assert row.response_status == 201
    assert row.response_body == r.json()
    assert len(row.request_fingerprint) == 64
    assert row.request_fingerprint == request_fingerprint("POST", BASE, r.request.content)
    assert uuid.UUID(r.json()["id"])


async def test_replay_shows_the_household_as_the_caller_may_see_it_now(client: AsyncClient, actors: Factory) -> None:
    """The replay keeps the first status and Location but re-renders the household for the caller as of now."""
    partner = await actors.user(Role.PARTNER_WORKER)
    manager = await actors.user(Role.SERVICE_MANAGER)
    headers = partner.headers | {"Idempotency-Key": "then-matching"}
    first = await client.post(BASE, json=family_body(), headers=headers)
    assert first.status_code == 201
    await actors.set_stage(first.json()["id"], "matching")

    replay = await client.post(BASE, json=family_body(), headers=headers)
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == first.headers["Location"]
    assert replay.headers["ETag"] == '"2"'  # the current version, matching the body
    assert replay.json()["stage"] == "matching"
    assert "members" not in replay.json()  # the partner's status view after diagnostic
    assert "Traoré" not in replay.text

    # Moved to another organisation: no longer visible to the partner, the replay is a 404 like a read.
    other = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    tag = (await client.get(first.headers["Location"], headers=manager.headers)).headers["ETag"]
    r = await client.patch(
        first.headers["Location"],
        json={"referring_organisation_id": str(other)},
        headers=manager.headers | {"If-Match": tag},
    )
    assert r.status_code == 200, r.text
    gone = await client.post(BASE, json=family_body(), headers=headers)
    assert gone.status_code == 404
    assert gone.json()["type"] == "urn:toit-emploi:problem:not-found"


async def test_replay_after_deletion_is_404(client: AsyncClient, actors: Factory, db: AsyncSession) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    headers = partner.headers | {"Idempotency-Key": "then-deleted"}
    first = await client.post(BASE, json=family_body(), headers=headers)
    deleted = await client.delete(
        first.headers["Location"], headers=partner.headers | {"If-Match": first.headers["ETag"]}
    )
    assert deleted.status_code == 204
    r = await client.post(BASE, json=family_body(), headers=headers)
    assert r.status_code == 404
    assert await _households(db) == 0
