"""The Argon2 cost: strong by default, configurable, and verification independent of the configured cost."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from toit_emploi_api.accounts import passwords
from toit_emploi_api.accounts.passwords import SecretHasher
from toit_emploi_api.core.settings import Settings


def test_production_defaults_are_the_strong_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIME_COST", "MEMORY_COST", "PARALLELISM"):
        monkeypatch.delenv(f"TOIT_EMPLOI_ARGON2_{name}", raising=False)
    s = Settings(environment="production", DATABASE_URL="postgresql://db/x", jwt_secret="s" * 40)
    assert (s.argon2_time_cost, s.argon2_memory_cost, s.argon2_parallelism) == (3, 65_536, 4)
    profile = RFC_9106_LOW_MEMORY
    assert (s.argon2_time_cost, s.argon2_memory_cost, s.argon2_parallelism) == (
        profile.time_cost,
        profile.memory_cost,
        profile.parallelism,
    )
    params = SecretHasher.from_settings(s).hash("a passphrase").split("$")[3]
    assert params == "m=65536,t=3,p=4"


def test_the_module_hasher_starts_with_the_strong_cost() -> None:
    default = passwords._default_hasher()
    assert (default.argon2.time_cost, default.argon2.memory_cost, default.argon2.parallelism) == (3, 65_536, 4)


def test_the_cost_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOIT_EMPLOI_ARGON2_TIME_COST", "2")
    monkeypatch.setenv("TOIT_EMPLOI_ARGON2_MEMORY_COST", "19456")
    monkeypatch.setenv("TOIT_EMPLOI_ARGON2_PARALLELISM", "1")
    s = Settings()
    assert SecretHasher.from_settings(s).hash("a passphrase").split("$")[3] == "m=19456,t=2,p=1"


def test_memory_must_cover_the_lanes() -> None:
    with pytest.raises(ValueError, match="MEMORY_COST"):
        Settings(argon2_memory_cost=8, argon2_parallelism=2)


def test_the_tests_run_at_the_minimum_cost(settings: Settings) -> None:
    assert (settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism) == (1, 8, 1)


def test_verification_accepts_hashes_made_with_another_cost() -> None:
    cheap = SecretHasher(time_cost=1, memory_cost=8, parallelism=1)
    strong_hash = PasswordHasher().hash("correct horse")  # argon2-cffi's defaults: the production cost
    assert cheap.verify(strong_hash, "correct horse")
    assert not cheap.verify(strong_hash, "wrong horse")
    strong = SecretHasher(time_cost=3, memory_cost=65_536, parallelism=4)
    assert strong.verify(cheap.hash("correct horse"), "correct horse")


def test_unknown_accounts_spend_a_hash_of_the_configured_cost() -> None:
    cheap = SecretHasher(time_cost=1, memory_cost=8, parallelism=1)
    assert not cheap.verify(None, "anything")
    assert not cheap.verify("not a hash", "anything")
    assert "m=8,t=1,p=1" in cheap._dummy_hash


async def test_configure_switches_the_hasher_the_services_use(settings: Settings) -> None:
    previous = passwords.current_hasher()
    try:
        passwords.configure(settings.model_copy(update={"argon2_time_cost": 2, "argon2_memory_cost": 16}))
        stored = await passwords.hash_secret_async("a passphrase")
        assert "m=16,t=2,p=1" in stored
        assert await passwords.verify_secret(stored, "a passphrase")
    finally:
        passwords.configure(settings)
    assert passwords.current_hasher() is not previous
    assert "m=8,t=1,p=1" in passwords.hash_secret("x")
