"""Argon2id hashing for people's passwords and API clients' secrets (run off the event loop).

The cost (time, memory, parallelism) comes from the settings: `create_app` and the CLI call `configure(settings)`.
Verification accepts any Argon2 hash whatever its parameters (they are encoded in the hash itself), so changing the
cost never locks anyone out.
"""

from __future__ import annotations

import secrets
from functools import cached_property

from anyio import CapacityLimiter, to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from toit_emploi_api.core.settings import Settings

MIN_PASSWORD_LENGTH = 12


class SecretHasher:
    """An Argon2id hasher with a given cost, and a real hash of its own cost to verify against when the account does
    not exist (so timing does not reveal it)."""

    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self.argon2 = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretHasher:
        return cls(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        )

    @cached_property
    def _dummy_hash(self) -> str:
        return self.argon2.hash(secrets.token_urlsafe(16))

    def hash(self, secret: str) -> str:
        return self.argon2.hash(secret)

    def verify(self, stored_hash: str | None, candidate: str) -> bool:
        try:
            return self.argon2.verify(stored_hash or self._dummy_hash, candidate) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False


def _default_hasher() -> SecretHasher:
    """The settings' defaults (the production cost), without reading the environment at import time."""
    fields = Settings.model_fields
    return SecretHasher(
        time_cost=fields["argon2_time_cost"].default,
        memory_cost=fields["argon2_memory_cost"].default,
        parallelism=fields["argon2_parallelism"].default,
    )


# The production cost until `configure` is called (create_app and the CLI call it with their settings).
_hasher = _default_hasher()


def configure(settings: Settings) -> None:
    """Use the Argon2 cost of these settings for every hash made from now on in this process."""
    global _hasher
    _hasher = SecretHasher.from_settings(settings)


def current_hasher() -> SecretHasher:
    return _hasher


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


# Each Argon2 run takes its memory cost (64 MiB by default); cap how many run at once per process so a burst of
# sign-ins cannot exhaust memory.
_MAX_CONCURRENT_HASHES = 4
_limiter: CapacityLimiter | None = None


def _hash_limiter() -> CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = CapacityLimiter(_MAX_CONCURRENT_HASHES)
    return _limiter


async def hash_secret_async(secret: str) -> str:
    return await to_thread.run_sync(_hasher.hash, secret, limiter=_hash_limiter())


def _verify(stored_hash: str | None, candidate: str) -> bool:
    return _hasher.verify(stored_hash, candidate)


async def verify_secret(stored_hash: str | None, candidate: str) -> bool:
    """True when `candidate` matches. With `stored_hash=None`, spends the same time and returns False."""
    return await to_thread.run_sync(_hasher.verify, stored_hash, candidate, limiter=_hash_limiter())


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def generate_password() -> str:
    return secrets.token_urlsafe(15)
