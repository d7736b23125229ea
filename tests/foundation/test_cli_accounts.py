"""The command line's account tools: list-users, reset-password, unlock-account, deactivate-user (through the
CLI, checked through the HTTP API)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from httpx import AsyncClient

from tests.factories import TEST_PASSWORD, Actor, Factory
from toit_emploi_api.accounts import passwords
from toit_emploi_api.cli import main
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.vocab.roles import Role

TOKEN = "/api/v1/auth/token"
NEW_PASSWORD = "a brand new long passphrase"


@pytest.fixture
def cli_env(database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TOIT_EMPLOI_ARGON2_TIME_COST", str(settings.argon2_time_cost))
    monkeypatch.setenv("TOIT_EMPLOI_ARGON2_MEMORY_COST", str(settings.argon2_memory_cost))
    monkeypatch.setenv("TOIT_EMPLOI_ARGON2_PARALLELISM", str(settings.argon2_parallelism))
    yield
    passwords.configure(settings)


async def _cli(*argv: str) -> int:
    # The CLI runs its own event loop: in a thread, next to the tests' loop.
    return await asyncio.to_thread(main, list(argv))


async def _login(client: AsyncClient, email: str, password: str = TEST_PASSWORD) -> int:
    r = await client.post(TOKEN, data={"grant_type": "password", "username": email, "password": password})
    return r.status_code


async def test_list_users(
    client: AsyncClient, admin: Actor, actors: Factory, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = await actors.user(Role.PARTNER_WORKER)
    capsys.readouterr()
    assert await _cli("list-users") == 0
    out = capsys.readouterr()
    assert admin.email in out.out
    assert worker.email in out.out
    assert "2 user(s)" in out.err
    assert await _cli("list-users", "--json") == 0
    users = json.loads(capsys.readouterr().out)
    assert {u["email"]: u["role"] for u in users} == {admin.email: "admin", worker.email: "partner_worker"}
    assert all(u["active"] for u in users)


async def test_reset_password_changes_it_and_revokes_sign_ins(
    client: AsyncClient, actors: Factory, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    user = await actors.user(Role.SERVICE_MANAGER)
    r = await client.post(TOKEN, data={"grant_type": "password", "username": user.email, "password": TEST_PASSWORD})
    refresh = r.json()["refresh_token"]
    assert await _cli("reset-password", "--email", user.email.upper(), "--password", NEW_PASSWORD) == 0
    assert "Password changed" in capsys.readouterr().out
    assert await _login(client, user.email) == 400
    assert await _login(client, user.email, NEW_PASSWORD) == 200
    r = await client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh})
    assert r.status_code == 400
    # The API's rules: a short password, an unknown email are errors without a traceback.
    assert await _cli("reset-password", "--email", user.email, "--password", "short") == 2
    assert await _cli("reset-password", "--email", "nobody@example.org", "--password", NEW_PASSWORD) == 2
    assert "No user with this email" in capsys.readouterr().err


async def test_unlock_account_lifts_the_lock_from_every_address(
    client: AsyncClient, actors: Factory, settings: Settings, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    user = await actors.user(Role.PARIS_REFERENT)
    for _ in range(settings.login_max_failures):
        await _login(client, user.email, "not the password at all")
    locked = await client.post(
        TOKEN, data={"grant_type": "password", "username": user.email, "password": TEST_PASSWORD}
    )
    assert locked.status_code == 400
    assert "retry-after" in locked.headers
    assert await _cli("unlock-account", "--email", user.email) == 0
    assert "Unlocked: 2" in capsys.readouterr().out  # the address's counter and the account-wide one
    assert await _login(client, user.email) == 200


async def test_unlock_an_api_client(client: AsyncClient, actors: Factory, settings: Settings, cli_env: None) -> None:
    creds = await actors.api_client(Role.LANDLORD)
    wrong = {"grant_type": "client_credentials", "client_id": creds.client_id, "client_secret": "wrong" * 5}
    for _ in range(settings.login_max_failures):
        await client.post(TOKEN, data=wrong)
    right = {**wrong, "client_secret": creds.client_secret}
    assert (await client.post(TOKEN, data=right)).status_code == 401
    assert await _cli("unlock-account", "--client-id", creds.client_id) == 0
    assert (await client.post(TOKEN, data=right)).status_code == 200


async def test_deactivate_user_ends_access_now(
    client: AsyncClient, admin: Actor, actors: Factory, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    user = await actors.user(Role.SERVICE_MANAGER)
    assert (await client.get("/api/v1/me", headers=user.headers)).status_code == 200
    assert await _cli("deactivate-user", "--email", user.email) == 0
    assert "Deactivated" in capsys.readouterr().out
    assert (await client.get("/api/v1/me", headers=user.headers)).status_code == 401
    assert await _login(client, user.email) == 400
    listed = await client.get(f"/api/v1/users/{user.id}", headers=admin.headers)
    assert listed.json()["active"] is False
    # The last active admin cannot be deactivated.
    assert await _cli("deactivate-user", "--email", admin.email) == 2
    assert "last active admin" in capsys.readouterr().err
