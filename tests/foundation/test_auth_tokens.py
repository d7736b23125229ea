"""POST /api/v1/auth/token and the JWT checks every protected route relies on."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from jose import jwt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import TEST_PASSWORD, Actor, Factory
from toit_emploi_api.auth.tokens import issue_access_token
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.vocab.roles import Role

TOKEN = "/api/v1/auth/token"
PROBLEM = "application/problem+json"


async def _login(client: AsyncClient, email: str, password: str = TEST_PASSWORD) -> Response:
    return await client.post(TOKEN, data={"grant_type": "password", "username": email, "password": password})


async def test_password_grant_returns_a_working_bearer_token(client: AsyncClient, admin: Actor) -> None:
    r = await _login(client, admin.email)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert r.headers["cache-control"] == "no-store"
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == admin.email
    assert me.json()["role"] == "admin"


async def test_email_is_case_insensitive(client: AsyncClient, admin: Actor) -> None:
    r = await _login(client, admin.email.upper())
    assert r.status_code == 200, r.text


async def test_wrong_password_and_unknown_user_get_the_same_rfc6749_error(client: AsyncClient, admin: Actor) -> None:
    wrong = await _login(client, admin.email, "not the password at all")
    unknown = await _login(client, "nobody@example.org", "not the password at all")
    for r in (wrong, unknown):
        assert r.status_code == 400
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["error"] == "invalid_grant"
        assert r.json()["type"] == "urn:toit-emploi:problem:oauth-invalid-grant"
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_unsupported_and_missing_grant_type(client: AsyncClient) -> None:
    r = await client.post(TOKEN, data={"grant_type": "authorization_code", "code": "x"})
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"
    r = await client.post(TOKEN, data={"username": "a@b.fr", "password": "x"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


async def test_repeated_failures_lock_the_account_for_a_while(
    client: AsyncClient, admin: Actor, db: AsyncSession, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures):
        r = await _login(client, admin.email, "wrong password 123")
        assert r.status_code == 400
    # Locked now: even the right password is refused, with Retry-After.
    r = await _login(client, admin.email)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert "try again later" in r.json()["detail"]
    assert int(r.headers["retry-after"]) > 0
    # The counters live in PostgreSQL (shared by every worker), keyed by hashes: no email address stored.
    rows = (await db.execute(text("SELECT identifier, locked_until FROM login_throttle"))).all()
    assert any(locked is not None and locked > datetime.now(UTC) for _, locked in rows)
    assert all(admin.email not in identifier for identifier, _ in rows)
    # Once the lock has passed, the right password works again.
    await db.execute(text("UPDATE login_throttle SET locked_until = now() - interval '1 second'"))
    await db.commit()
    r = await _login(client, admin.email)
    assert r.status_code == 200, r.text


async def test_a_burst_of_parallel_guesses_is_counted_one_by_one(
    client: AsyncClient, admin: Actor, settings: Settings
) -> None:
    """Parallel attempts cannot all slip past the check before any failure is counted."""
    guesses = [_login(client, admin.email, f"wrong guess {i:04d}") for i in range(4 * settings.login_max_failures)]
    answers = await asyncio.gather(*guesses)
    checked = [r for r in answers if r.json()["detail"] == "Invalid email or password."]
    assert len(checked) == settings.login_max_failures
    r = await _login(client, admin.email)
    assert "try again later" in r.json()["detail"]


async def test_a_lock_from_one_address_does_not_lock_the_user_out_elsewhere(
    app: FastAPI, client: AsyncClient, admin: Actor, settings: Settings
) -> None:
    for _ in range(settings.login_max_failures):
        await _login(client, admin.email, "wrong password 123")
    assert "try again later" in (await _login(client, admin.email)).json()["detail"]
    elsewhere = ASGITransport(app=app, client=("203.0.113.7", 5000))
    async with AsyncClient(transport=elsewhere, base_url="http://testserver") as other:
        r = await _login(other, admin.email)
    assert r.status_code == 200, r.text


async def test_guessing_from_many_addresses_locks_the_account(
    app: FastAPI, client: AsyncClient, admin: Actor, settings: Settings
) -> None:
    for i in range(4 * settings.login_max_failures):
        transport = ASGITransport(app=app, client=(f"198.51.100.{i}", 5000))
        async with AsyncClient(transport=transport, base_url="http://testserver") as c:
            await _login(c, admin.email, "wrong password 123")
    r = await _login(client, admin.email)
    assert "try again later" in r.json()["detail"]


async def test_unknown_accounts_are_throttled_too(client: AsyncClient, settings: Settings) -> None:
    for _ in range(settings.login_max_failures):
        await _login(client, "ghost@example.org", "whatever 12345")
    r = await _login(client, "ghost@example.org", "whatever 12345")
    assert "try again later" in r.json()["detail"]


async def test_deactivated_user_cannot_sign_in(client: AsyncClient, actors: Factory) -> None:
    user = await actors.user(Role.SERVICE_MANAGER, active=False)
    r = await _login(client, user.email)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


async def _make_client(client: AsyncClient, admin: Actor, role: str = "landlord") -> dict[str, str]:
    org = await client.post(
        "/api/v1/organisations", json={"name": "Polygone", "kind": "landlord"}, headers=admin.headers
    )
    assert org.status_code == 201, org.text
    r = await client.post(
        "/api/v1/api-clients",
        json={"name": "Polygone sync", "role": role, "organisation_id": org.json()["id"]},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_client_credentials_in_form_and_in_basic_auth(client: AsyncClient, admin: Actor) -> None:
    created = await _make_client(client, admin)
    r = await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert r.status_code == 200, r.text
    basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()
    r2 = await client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert r2.status_code == 200, r2.text
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {r2.json()['access_token']}"})
    assert me.json()["kind"] == "client"
    assert me.json()["role"] == "landlord"
    assert me.json()["client_id"] == created["client_id"]


async def test_wrong_client_secret_is_invalid_client(client: AsyncClient, admin: Actor) -> None:
    created = await _make_client(client, admin)
    r = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": "nope"},
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


async def test_nul_bytes_in_credentials_are_refused_cleanly(client: AsyncClient) -> None:
    r = await client.post(TOKEN, data={"grant_type": "password", "username": "a\x00b@x.fr", "password": "x"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    basic = base64.b64encode(b"a\x00b:secret").decode()
    r = await client.post(TOKEN, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"


async def test_hostile_token_requests_never_500(client: AsyncClient) -> None:
    cases: list[tuple[dict[str, str], dict[str, Any]]] = [
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic \u00e9\u00e9".encode("latin-1")}),
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic !!!not-base64"}),
        ({"grant_type": "password", "username": "u" * 255, "password": "x"}, {}),
        ({"grant_type": "password", "username": "u" * 5000, "password": "x"}, {}),
        ({"grant_type": "client_credentials", "client_id": "c" * 250, "client_secret": "s"}, {}),
        ({"grant_type": "password", "username": "a@b.fr", "password": "p" * 5000}, {}),
    ]
    for data, headers in cases:
        r = await client.post(TOKEN, data=data, headers=headers)
        assert r.status_code in (400, 401, 422), (data, headers, r.status_code, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)


# --- JWT validation: every way a token can be wrong is a 401 ----------------------------------------------


def _claims(settings: Settings, actor: Actor, **override: object) -> dict[str, object]:
    now = int(datetime.now(UTC).timestamp())
    claims: dict[str, object] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": f"user:{actor.id}",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "role": actor.role.value,
        "org": str(actor.organisation_id),
    }
    claims.update(override)
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def _me_status(client: AsyncClient, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    r = await client.get("/api/v1/me", headers=headers)
    if r.status_code == 401:
        assert r.headers["content-type"].startswith(PROBLEM)
        assert r.headers["www-authenticate"].startswith("Bearer")
    return r.status_code


async def test_a_good_token_works(client: AsyncClient, admin: Actor, settings: Settings) -> None:
    token = jwt.encode(_claims(settings, admin), settings.jwt_secret, algorithm="HS256")
    assert await _me_status(client, token) == 200


async def test_no_token(client: AsyncClient) -> None:
    assert await _me_status(client, None) == 401


async def test_malformed_token(client: AsyncClient) -> None:
    assert await _me_status(client, "not-a-jwt") == 401
    assert await _me_status(client, "a.b.c") == 401


async def test_alg_none_token(client: AsyncClient, admin: Actor, settings: Settings) -> None:
    import json

    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(settings, admin)).encode())
    assert await _me_status(client, f"{header}.{payload}.") == 401


async def test_wrong_signature(client: AsyncClient, admin: Actor, settings: Settings) -> None:
    token = jwt.encode(_claims(settings, admin), "another-secret-" + "y" * 40, algorithm="HS256")
    assert await _me_status(client, token) == 401


async def test_other_hmac_algorithm_with_right_key_is_refused(
    client: AsyncClient, admin: Actor, settings: Settings
) -> None:
    token = jwt.encode(_claims(settings, admin), settings.jwt_secret, algorithm="HS512")
    assert await _me_status(client, token) == 401


async def test_expired(client: AsyncClient, admin: Actor, settings: Settings) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    token, _ = issue_access_token(
        settings,
        subject_kind="user",
        subject_id=admin.id,
        role="admin",
        organisation_id=admin.organisation_id,
        now=past,
    )
    assert await _me_status(client, token) == 401


async def test_not_yet_valid(client: AsyncClient, admin: Actor, settings: Settings) -> None:
    future = int(datetime.now(UTC).timestamp()) + 3600
    token = jwt.encode(
        _claims(settings, admin, nbf=future, iat=future, exp=future + 600), settings.jwt_secret, algorithm="HS256"
    )
    assert await _me_status(client, token) == 401


async def test_wrong_audience_and_wrong_issuer(client: AsyncClient, admin: Actor, settings: Settings) -> None:
    for override in ({"aud": "someone-else"}, {"iss": "https://evil.example"}):
        token = jwt.encode(_claims(settings, admin, **override), settings.jwt_secret, algorithm="HS256")
        assert await _me_status(client, token) == 401


async def test_missing_required_claims(client: AsyncClient, admin: Actor, settings: Settings) -> None:
    for missing in ("exp", "nbf", "iat", "jti", "sub", "aud", "iss"):
        claims = _claims(settings, admin)
        del claims[missing]
        token = jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
        assert await _me_status(client, token) == 401, missing


async def test_deactivated_user_token_stops_working(client: AsyncClient, admin: Actor, actors: Factory) -> None:
    manager = await actors.user(Role.SERVICE_MANAGER)
    assert await _me_status(client, manager.token) == 200
    current = await client.get(f"/api/v1/users/{manager.id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/users/{manager.id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert await _me_status(client, manager.token) == 401


async def test_deactivated_organisation_stops_its_tokens(client: AsyncClient, admin: Actor, actors: Factory) -> None:
    worker = await actors.user(Role.PARTNER_WORKER)
    current = await client.get(f"/api/v1/organisations/{worker.organisation_id}", headers=admin.headers)
    r = await client.patch(
        f"/api/v1/organisations/{worker.organisation_id}",
        json={"active": False},
        headers={**admin.headers, "If-Match": current.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert await _me_status(client, worker.token) == 401


def test_tokens_work_without_the_cryptography_package() -> None:
    """The production install has python-jose without `cryptography` (its native HMAC backend; the dev tools bring
    `cryptography` for other tests): issue and check a token in a process where `cryptography` cannot be imported."""
    script = """
import sys, uuid
sys.modules["cryptography"] = None  # ImportError for the package and its submodules
from toit_emploi_api.auth import tokens
from toit_emploi_api.core.settings import Settings
import jose.backends
assert jose.backends.HMACKey.__module__ == "jose.backends.native", jose.backends.HMACKey
settings = Settings(environment="test", DATABASE_URL="postgresql+asyncpg://u@localhost/db", jwt_secret="s" * 48)
subject = uuid.uuid4()
token, _ = tokens.issue_access_token(
    settings, subject_kind="user", subject_id=subject, role="admin", organisation_id=uuid.uuid4()
)
assert tokens.decode_access_token(settings, token).subject_id == subject
try:
    tokens.decode_access_token(settings, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
except tokens.InvalidTokenError:
    print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "ok", done.stderr
