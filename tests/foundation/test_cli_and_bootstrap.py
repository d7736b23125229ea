"""The `toit-emploi` command and the first-admin bootstrap, against the test database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from toit_emploi_api.accounts import passwords
from toit_emploi_api.cli import main
from toit_emploi_api.core.settings import Settings, to_async_url


def _sql(url: str, statement: str) -> list[tuple[object, ...]]:
    async def run() -> list[tuple[object, ...]]:
        engine = create_async_engine(to_async_url(url))
        async with engine.begin() as conn:
            result = await conn.execute(text(statement))
            rows = [tuple(r) for r in result] if result.returns_rows else []
        await engine.dispose()
        return rows

    return asyncio.run(run())


@pytest.fixture
def cli_db(database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    # The CLI reads its settings from the environment and configures the hasher with them: the tests' cost.
    monkeypatch.setenv("TOIT_EMPLOI_ARGON2_TIME_COST", str(settings.argon2_time_cost))
    monkeypatch.setenv("TOIT_EMPLOI_ARGON2_MEMORY_COST", str(settings.argon2_memory_cost))
    monkeypatch.setenv("TOIT_EMPLOI_ARGON2_PARALLELISM", str(settings.argon2_parallelism))
    _sql(database_url, "TRUNCATE organisations, users, api_clients, login_throttle CASCADE")
    yield database_url
    passwords.configure(settings)


def test_cli_creates_organisation_user_and_client(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-organisation", "--name", "Polygone", "--kind", "landlord"]) == 0
    org = json.loads(capsys.readouterr().out)
    assert org["kind"] == "landlord"
    assert (
        main(
            [
                "create-user",
                "--email",
                "Agent@Polygone.example",
                "--full-name",
                "Agent Polygone",
                "--role",
                "landlord",
                "--organisation-id",
                org["id"],
                "--password",
                "a long enough password",
            ]
        )
        == 0
    )
    user = json.loads(capsys.readouterr().out)
    assert user["email"] == "agent@polygone.example"
    assert main(["create-client", "--name", "Sync", "--role", "landlord", "--organisation-id", org["id"]]) == 0
    client = json.loads(capsys.readouterr().out)
    assert client["client_secret"]
    rows = _sql(cli_db, "SELECT count(*) FROM api_clients")
    assert rows[0][0] == 1


def test_cli_reports_invalid_input_without_a_traceback(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-organisation", "--name", "Polygone", "--kind", "landlord"]) == 0
    assert main(["create-organisation", "--name", "polygone", "--kind", "landlord"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_bootstrap_creates_one_admin_with_given_credentials(cli_db: str) -> None:
    from toit_emploi_api.accounts.bootstrap import ensure_first_admin
    from toit_emploi_api.cli import _run_db

    settings = Settings(
        DATABASE_URL=cli_db,
        bootstrap_admin_email="Chef@Aurore.example",
        bootstrap_admin_password="the bootstrap password",
    )
    created = _run_db(settings, lambda s: ensure_first_admin(s, settings))
    assert created == ("chef@aurore.example", None)
    again = _run_db(settings, lambda s: ensure_first_admin(s, settings))
    assert again is None
    assert _sql(cli_db, "SELECT count(*) FROM users WHERE role = 'admin'")[0][0] == 1


def test_bootstrap_generates_a_password_when_none_is_configured(cli_db: str) -> None:
    from toit_emploi_api.accounts.bootstrap import ensure_first_admin
    from toit_emploi_api.accounts.passwords import _verify
    from toit_emploi_api.cli import _run_db

    settings = Settings(DATABASE_URL=cli_db)
    created = _run_db(settings, lambda s: ensure_first_admin(s, settings))
    assert created is not None
    email, password = created
    assert password
    assert len(password) >= 16
    stored = _sql(cli_db, f"SELECT password_hash FROM users WHERE email = '{email}'")[0][0]
    assert str(stored).startswith("$argon2id$")
    assert _verify(str(stored), password)


def test_migrate_can_create_the_first_admin_from_the_environment(
    cli_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--bootstrap-admin"]) == 0
    assert "No first admin created" in capsys.readouterr().err
    assert _sql(cli_db, "SELECT count(*) FROM users")[0][0] == 0
    monkeypatch.setenv("TOIT_EMPLOI_BOOTSTRAP_ADMIN_EMAIL", "ops@aurore.example")
    monkeypatch.setenv("TOIT_EMPLOI_BOOTSTRAP_ADMIN_PASSWORD", "a password from the orchestrator")
    assert main(["migrate", "--bootstrap-admin"]) == 0
    assert "First admin created: ops@aurore.example" in capsys.readouterr().out
    assert main(["migrate", "--bootstrap-admin"]) == 0  # a second start changes nothing
    assert _sql(cli_db, "SELECT count(*) FROM users WHERE role = 'admin'")[0][0] == 1
