"""Admin-only management of organisations, users and API clients; ETag / If-Match on updates."""

from __future__ import annotations

from httpx import AsyncClient, Response

from tests.factories import TEST_PASSWORD, Actor, Factory

PROBLEM = "application/problem+json"


async def _org(
    client: AsyncClient, admin: Actor, name: str = "Association Charonne", kind: str = "referral_partner"
) -> Response:
    r = await client.post("/api/v1/organisations", json={"name": name, "kind": kind}, headers=admin.headers)
    assert r.status_code == 201, r.text
    return r


async def test_create_read_list_organisation(client: AsyncClient, admin: Actor) -> None:
    created = await _org(client, admin)
    org = created.json()
    assert created.headers["location"] == f"/api/v1/organisations/{org['id']}"
    assert created.headers["etag"] == '"1"'
    assert org["kind"] == "referral_partner"
    assert org["active"] is True
    got = await client.get(f"/api/v1/organisations/{org['id']}", headers=admin.headers)
    assert got.json() == org
    listed = await client.get("/api/v1/organisations?limit=1&offset=0", headers=admin.headers)
    body = listed.json()
    assert body["limit"] == 1
    assert body["offset"] == 0
    assert body["total"] == 2  # the admin's own operator organisation + the new one
    assert len(body["items"]) == 1


async def test_duplicate_organisation_name_is_409_ignoring_case(client: AsyncClient, admin: Actor) -> None:
    await _org(client, admin)
    r = await client.post(
        "/api/v1/organisations",
        json={"name": "association CHARONNE", "kind": "referral_partner"},
        headers=admin.headers,
    )
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:organisation-name-taken"


async def test_update_requires_if_match_and_refuses_stale_etags(client: AsyncClient, admin: Actor) -> None:
    org = (await _org(client, admin)).json()
    url = f"/api/v1/organisations/{org['id']}"
    r = await client.patch(url, json={"name": "Charonne"}, headers=admin.headers)
    assert r.status_code == 428
    assert r.headers["content-type"].startswith(PROBLEM)
    r = await client.patch(url, json={"name": "Charonne"}, headers={**admin.headers, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Charonne"
    assert r.headers["etag"] == '"2"'
    stale = await client.patch(url, json={"name": "Charonne 2"}, headers={**admin.headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == '"2"'
    assert (await client.get(url, headers=admin.headers)).json()["name"] == "Charonne"


async def test_unknown_organisation_is_404(client: AsyncClient, admin: Actor) -> None:
    r = await client.get("/api/v1/organisations/00000000-0000-0000-0000-000000000000", headers=admin.headers)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM)


async def test_create_user_who_can_then_sign_in(client: AsyncClient, admin: Actor) -> None:
    org = (await _org(client, admin)).json()
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "Claire.Martin@Charonne.example",
            "full_name": "Claire Martin",
            "role": "partner_worker",
            "organisation_id": org["id"],
            "password": TEST_PASSWORD,
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == "claire.martin@charonne.example"
    assert "password" not in user
    assert "password_hash" not in user
    token = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "claire.martin@charonne.example", "password": TEST_PASSWORD},
    )
    assert token.status_code == 200, token.text
    dup = await client.post(
        "/api/v1/users",
        json={
            "email": "claire.martin@charonne.example",
            "full_name": "Other",
            "role": "partner_worker",
            "organisation_id": org["id"],
            "password": TEST_PASSWORD,
        },
        headers=admin.headers,
    )
    assert dup.status_code == 409


async def test_role_must_fit_the_organisation_kind(client: AsyncClient, admin: Actor) -> None:
    org = (await _org(client, admin)).json()
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "x@charonne.example",
            "full_name": "X",
            "role": "service_manager",
            "organisation_id": org["id"],
            "password": TEST_PASSWORD,
        },
        headers=admin.headers,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "role"


async def test_short_password_is_refused(client: AsyncClient, admin: Actor) -> None:
    org = (await _org(client, admin)).json()
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "x@charonne.example",
            "full_name": "X",
            "role": "partner_worker",
            "organisation_id": org["id"],
            "password": "short",
        },
        headers=admin.headers,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "password"


async def test_admin_cannot_deactivate_themselves(client: AsyncClient, admin: Actor) -> None:
    current = await client.get(f"/api/v1/users/{admin.id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/users/{admin.id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 409


async def test_api_client_secret_is_shown_once_and_can_be_rotated(client: AsyncClient, admin: Actor) -> None:
    org = (await _org(client, admin, "Polygone", "landlord")).json()
    created = await client.post(
        "/api/v1/api-clients",
        json={"name": "Polygone sync", "role": "landlord", "organisation_id": org["id"]},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["client_secret"]
    assert created.headers["cache-control"] == "no-store"
    read = await client.get(f"/api/v1/api-clients/{first['id']}", headers=admin.headers)
    assert "client_secret" not in read.json()
    listed = await client.get("/api/v1/api-clients", headers=admin.headers)
    assert all("client_secret" not in c for c in listed.json()["items"])

    url = f"/api/v1/api-clients/{first['id']}/secret"
    missing = await client.post(url, headers=admin.headers)
    assert missing.status_code == 428
    assert missing.json()["type"] == "urn:toit-emploi:problem:precondition-required"
    rotated = await client.post(url, headers={**admin.headers, "If-Match": created.headers["etag"]})
    assert rotated.status_code == 200
    assert rotated.headers["etag"] != created.headers["etag"]
    new_secret = rotated.json()["client_secret"]
    assert new_secret != first["client_secret"]
    old = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": first["client_id"],
            "client_secret": first["client_secret"],
        },
    )
    assert old.status_code == 401
    new = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", "client_id": first["client_id"], "client_secret": new_secret},
    )
    assert new.status_code == 200


async def test_deactivated_api_client_cannot_get_a_token(client: AsyncClient, admin: Actor) -> None:
    org = (await _org(client, admin, "Polygone", "landlord")).json()
    created = (
        await client.post(
            "/api/v1/api-clients",
            json={"name": "Polygone sync", "role": "landlord", "organisation_id": org["id"]},
            headers=admin.headers,
        )
    ).json()
    r = await client.patch(
        f"/api/v1/api-clients/{created['id']}",
        json={"active": False},
        headers={**admin.headers, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    token = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert token.status_code == 401


async def test_passwords_keep_their_spaces(client: AsyncClient, admin: Actor) -> None:
    org = (await _org(client, admin)).json()
    phrase = "  correct horse battery  "
    r = await client.post(
        "/api/v1/users",
        json={
            "email": "spaces@charonne.example",
            "full_name": "Spaces",
            "role": "partner_worker",
            "organisation_id": org["id"],
            "password": phrase,
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    ok = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": "spaces@charonne.example", "password": phrase}
    )
    assert ok.status_code == 200, ok.text


async def test_api_clients_cannot_be_admins(client: AsyncClient, admin: Actor) -> None:
    r = await client.post(
        "/api/v1/api-clients",
        json={"name": "Robot admin", "role": "admin", "organisation_id": str(admin.organisation_id)},
        headers=admin.headers,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "role"


async def test_the_last_admins_cannot_be_locked_out(client: AsyncClient, admin: Actor, actors: object) -> None:
    # Deactivating the organisation that holds the only admin: refused.
    current = await client.get(f"/api/v1/organisations/{admin.organisation_id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/organisations/{admin.organisation_id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 409
    assert r.json()["type"] == "urn:toit-emploi:problem:last-admin"
    assert (await client.get("/api/v1/me", headers=admin.headers)).status_code == 200


async def test_an_admin_can_demote_another_admin_but_not_the_last(
    client: AsyncClient, admin: Actor, actors: Factory
) -> None:
    from toit_emploi_api.vocab.roles import Role

    other = await actors.user(Role.ADMIN)
    current = await client.get(f"/api/v1/users/{other.id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/users/{other.id}",
        json={"role": "service_manager"},
        headers={**admin.headers, "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "service_manager"


async def test_weakened_etags_from_compressing_proxies_still_match(client: AsyncClient, admin: Actor) -> None:
    org = (await _org(client, admin)).json()
    url = f"/api/v1/organisations/{org['id']}"
    stale = await client.patch(url, json={"name": "Charonne"}, headers={**admin.headers, "If-Match": 'W/"7"'})
    assert stale.status_code == 412
    r = await client.patch(url, json={"name": "Charonne"}, headers={**admin.headers, "If-Match": 'W/"1"'})
    assert r.status_code == 200


async def test_role_null_on_oneself_is_not_a_self_lockout(client: AsyncClient, admin: Actor) -> None:
    # `role` cannot be cleared: null is a 422 naming it (not a self-lockout 409), and nothing changes.
    current = await client.get(f"/api/v1/users/{admin.id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/users/{admin.id}",
        json={"role": None, "full_name": "Renamed Admin"},
        headers={**admin.headers, "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["role"]
    assert (await client.get(f"/api/v1/users/{admin.id}", headers=admin.headers)).json()["role"] == "admin"
