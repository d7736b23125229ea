"""Argon2id hashing for people's passwords and API clients' secrets (run off the event loop)."""

from __future__ import annotations

import secrets

from anyio import CapacityLimiter, to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)
# A real hash to verify against when the account does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 12


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


# Each Argon2 run takes 64 MiB; cap how many run at once per process so a burst of sign-ins cannot exhaust memory.
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
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, candidate) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_secret(stored_hash: str | None, candidate: str) -> bool:
    """True when `candidate` matches. With `stored_hash=None`, spends the same time and returns False."""
    return await to_thread.run_sync(_verify, stored_hash, candidate, limiter=_hash_limiter())


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def generate_password() -> str:
    return secrets.token_urlsafe(15)
