"""Refresh tokens for people (rotation, replay detection, idle expiry) and RFC 7009 revocation (signing out)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TEST_PASSWORD, Actor, Factory
from toit_emploi_api.vocab.roles import OrganisationKind, Role

TOKEN = "/api/v1/auth/token"
REVOKE = "/api/v1/auth/revoke"


async def _login(client: AsyncClient, email: str) -> dict[str, Any]:
    r = await client.post(TOKEN, data={"grant_type": "password", "username": email, "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _refresh(client: AsyncClient, refresh_token: str) -> Response:
    return await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh_token})


async def _me(client: AsyncClient, access_token: str) -> int:
    return (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {access_token}"})).status_code


def _refused(r: Response) -> None:
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant"
    assert r.json()["type"] == "urn:toit-emploi:problem:oauth-invalid-grant"


async def test_password_grant_returns_a_refresh_token_stored_hashed(
    client: AsyncClient, service_manager: Actor, db: AsyncSession
) -> None:
    body = await _login(client, service_manager.email)
    refresh = body["refresh_token"]
    assert refresh.startswith("ter_")
    assert len(refresh) > 40
    stored = (await db.execute(text("SELECT token_hash FROM refresh_tokens"))).scalars().all()
    assert stored == [hashlib.sha256(refresh.encode()).hexdigest()]  # never the token itself


async def test_refresh_rotates_and_the_new_tokens_work(client: AsyncClient, service_manager: Actor) -> None:
    first = await _login(client, service_manager.email)
    r = await _refresh(client, first["refresh_token"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    second = r.json()
    assert second["token_type"] == "bearer"
    assert second["expires_in"] == 15 * 60
    assert second["refresh_token"] != first["refresh_token"]
    assert await _me(client, second["access_token"]) == 200
    third = await _refresh(client, second["refresh_token"])
    assert third.status_code == 200, third.text


async def test_replaying_a_used_refresh_token_revokes_the_whole_family(
    client: AsyncClient, service_manager: Actor
) -> None:
    first = await _login(client, service_manager.email)
    second = (await _refresh(client, first["refresh_token"])).json()
    _refused(await _refresh(client, first["refresh_token"]))  # a replay: someone else has a copy
    _refused(await _refresh(client, second["refresh_token"]))  # the legitimate newest one is revoked too
    assert await _me(client, second["access_token"]) == 401  # and the access tokens of that sign-in
    # Another sign-in of the same person is not affected.
    other = await _login(client, service_manager.email)
    assert (await _refresh(client, other["refresh_token"])).status_code == 200


async def test_two_parallel_uses_of_one_token_give_one_success_and_revoke_the_family(
    client: AsyncClient, service_manager: Actor
) -> None:
    first = await _login(client, service_manager.email)
    answers = await asyncio.gather(*(_refresh(client, first["refresh_token"]) for _ in range(2)))
    assert sorted(r.status_code for r in answers) == [200, 400]
    winner = next(r for r in answers if r.status_code == 200).json()
    _refused(await _refresh(client, winner["refresh_token"]))


async def test_unknown_and_expired_refresh_tokens_are_refused(
    client: AsyncClient, service_manager: Actor, db: AsyncSession
) -> None:
    _refused(await _refresh(client, "ter_unknown"))
    _refused(await _refresh(client, "x" * 256))
    r = await client.post(TOKEN, data={"grant_type": "refresh_token"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    body = await _login(client, service_manager.email)
    await db.execute(text("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'"))
    await db.commit()
    _refused(await _refresh(client, body["refresh_token"]))


async def test_idle_lifetime_is_30_days_by_default(
    client: AsyncClient, service_manager: Actor, db: AsyncSession
) -> None:
    body = await _login(client, service_manager.email)
    days = await db.execute(text("SELECT extract(epoch FROM expires_at - created_at) / 86400 FROM refresh_tokens"))
    assert round(float(days.scalar_one())) == 30
    assert body["refresh_token"]


async def test_client_credentials_get_no_refresh_token(client: AsyncClient, actors: Factory) -> None:
    creds = await actors.api_client(Role.LANDLORD)
    r = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": creds.client_secret},
    )
    assert r.status_code == 200, r.text
    assert "refresh_token" not in r.json()


async def test_revoking_a_refresh_token_signs_out(client: AsyncClient, service_manager: Actor) -> None:
    body = await _login(client, service_manager.email)
    r = await client.post(REVOKE, data={"token": body["refresh_token"], "token_type_hint": "refresh_token"})
    assert r.status_code == 200
    assert r.content == b""
    _refused(await _refresh(client, body["refresh_token"]))
    assert await _me(client, body["access_token"]) == 401  # the sign-in's access token ends at once


async def test_revoking_an_access_token_revokes_its_sign_in(client: AsyncClient, service_manager: Actor) -> None:
    body = await _login(client, service_manager.email)
    r = await client.post(REVOKE, data={"token": body["access_token"]})  # no hint: both kinds are tried
    assert r.status_code == 200
    assert await _me(client, body["access_token"]) == 401
    _refused(await _refresh(client, body["refresh_token"]))


async def test_signing_out_ends_the_access_token_on_the_one_statement_household_reads(
    client: AsyncClient, service_manager: Actor, actors: Factory
) -> None:
    """`GET /households` and `GET /households/{id}` check the account inside their own statement: a signed-out
    sign-in is refused there too, at once."""
    household = await actors.household()
    body = await _login(client, service_manager.email)
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    one, many = f"/api/v1/households/{household.id}", "/api/v1/households"
    assert [(await client.get(url, headers=auth)).status_code for url in (one, many)] == [200, 200]
    assert (await client.post(REVOKE, data={"token": body["refresh_token"]})).status_code == 200
    assert [(await client.get(url, headers=auth)).status_code for url in (one, many)] == [401, 401]
    other = await _login(client, service_manager.email)  # another sign-in of the same person is not affected
    assert (await client.get(one, headers={"Authorization": f"Bearer {other['access_token']}"})).status_code == 200


async def test_revoke_answers_200_for_unknown_tokens_and_422_without_a_token(
    client: AsyncClient, service_manager: Actor
) -> None:
    for data in ({"token": "ter_nothing"}, {"token": "not.a.jwt"}, {"token": "x", "token_type_hint": "strange"}):
        assert (await client.post(REVOKE, data=data)).status_code == 200
    # An API client's token (no sign-in to revoke) and an already revoked one: the same 200.
    assert (await client.post(REVOKE, data={"token": service_manager.token})).status_code == 200
    assert await _me(client, service_manager.token) == 200
    r = await client.post(REVOKE, data={})
    assert r.status_code == 422
    assert r.json()["type"] == "urn:toit-emploi:problem:validation-error"


async def test_deactivating_a_user_revokes_its_refresh_tokens(
    client: AsyncClient, admin: Actor, actors: Factory
) -> None:
    worker = await actors.user(Role.SERVICE_MANAGER)
    body = await _login(client, worker.email)
    user = await client.get(f"/api/v1/users/{worker.id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/users/{worker.id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": user.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    _refused(await _refresh(client, body["refresh_token"]))
    # Reactivated, the old sign-in stays revoked: the person signs in again.
    user = await client.get(f"/api/v1/users/{worker.id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/users/{worker.id}",
        json={"active": True},
        headers={**admin.headers, "If-Match": user.headers["etag"]},
    )
    assert r.status_code == 200
    _refused(await _refresh(client, body["refresh_token"]))


async def test_a_new_password_revokes_refresh_tokens(client: AsyncClient, admin: Actor, actors: Factory) -> None:
    worker = await actors.user(Role.PARIS_REFERENT)
    body = await _login(client, worker.email)
    user = await client.get(f"/api/v1/users/{worker.id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/users/{worker.id}",
        json={"password": "another long passphrase"},
        headers={**admin.headers, "If-Match": user.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    _refused(await _refresh(client, body["refresh_token"]))


async def test_a_deactivated_organisation_cannot_refresh(
    client: AsyncClient, service_manager: Actor, db: AsyncSession
) -> None:
    body = await _login(client, service_manager.email)
    await db.execute(
        text("UPDATE organisations SET active = false WHERE id = :id"), {"id": service_manager.organisation_id}
    )
    await db.commit()
    _refused(await _refresh(client, body["refresh_token"]))


async def test_deactivating_an_organisation_revokes_its_peoples_refresh_tokens(
    client: AsyncClient, admin: Actor, actors: Factory
) -> None:
    org = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    worker = await actors.user(Role.PARTNER_WORKER, org)
    body = await _login(client, worker.email)
    for active in (False, True):  # deactivated, then reactivated: the old sign-in stays revoked
        current = await client.get(f"/api/v1/organisations/{org}", headers=admin.headers)
        r = await client.patch(
            f"/api/v1/organisations/{org}",
            json={"active": active},
            headers={**admin.headers, "If-Match": current.headers["etag"]},
        )
        assert r.status_code == 200, r.text
    _refused(await _refresh(client, body["refresh_token"]))
    assert (await _refresh(client, (await _login(client, worker.email))["refresh_token"])).status_code == 200


async def test_openapi_declares_both_oauth2_flows(client: AsyncClient) -> None:
    schemes = (await client.get("/openapi.json")).json()["components"]["securitySchemes"]
    flows = schemes["OAuth2"]["flows"]
    assert flows["password"]["tokenUrl"] == TOKEN
    assert flows["password"]["refreshUrl"] == TOKEN
    assert flows["clientCredentials"]["tokenUrl"] == TOKEN


async def test_refreshes_replays_and_sign_outs_are_audited_without_the_token(
    client: AsyncClient, service_manager: Actor, db: AsyncSession
) -> None:
    first = await _login(client, service_manager.email)
    second = (await _refresh(client, first["refresh_token"])).json()
    _refused(await _refresh(client, first["refresh_token"]))  # replay
    other = await _login(client, service_manager.email)
    assert (await client.post(REVOKE, data={"token": other["refresh_token"]})).status_code == 200
    rows = (
        await db.execute(
            text("SELECT action, details::text FROM audit_events WHERE entity_id = :id ORDER BY at, id"),
            {"id": service_manager.id},
        )
    ).all()
    events = [(action, details) for action, details in rows]
    assert ("auth.sign_in", '{"grant": "refresh_token"}') in events
    assert ("auth.token_revoked", '{"cause": "refresh_token_replayed"}') in events
    assert ("auth.token_revoked", '{"cause": "signed_out"}') in events
    everything = " ".join(details or "" for _, details in events)
    for token in (first["refresh_token"], second["refresh_token"], other["refresh_token"]):
        assert token not in everything
