"""`auth.tokens.VerifiedTokens`: a token's signature is checked once per process, its time limits on every use.

(That a revoked sign-in, a deactivated account or organisation stops a token already seen is checked through the
app in tests/foundation/test_auth_tokens.py: those checks are in the database, on every request.)"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from toit_emploi_api.auth import tokens
from toit_emploi_api.auth.tokens import InvalidTokenError, VerifiedTokens, issue_access_token
from toit_emploi_api.core.settings import Settings

SETTINGS = Settings(environment="test", DATABASE_URL="postgresql+asyncpg://u@localhost/db", jwt_secret="s" * 48)
ISSUED = datetime.now(UTC).replace(microsecond=0)


def _token(issued: datetime = ISSUED, lifetime: timedelta = timedelta(minutes=15)) -> tuple[str, int]:
    """A token and its `exp`."""
    token, _ = issue_access_token(
        SETTINGS,
        subject_kind="user",
        subject_id=uuid.uuid4(),
        role="service_manager",
        organisation_id=uuid.uuid4(),
        now=issued,
        lifetime=lifetime,
    )
    return token, int((issued + lifetime).timestamp())


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens python-jose was asked to verify, in order."""
    seen: list[str] = []
    verify = tokens._verify

    def counting(settings: Settings, token: str) -> tuple[tokens.AccessClaims, int, int]:
        seen.append(token)
        return verify(settings, token)

    monkeypatch.setattr(tokens, "_verify", counting)
    return seen


@pytest.fixture
def known() -> tuple[VerifiedTokens, str, int]:
    """A cache that has verified one token: the cache, the token and its `exp`."""
    verified = VerifiedTokens(SETTINGS, 16)
    token, expires = _token()
    verified.decode(token)
    return verified, token, expires


def test_a_token_is_verified_once_and_gives_the_same_claims(verifications: list[str]) -> None:
    verified = VerifiedTokens(SETTINGS, 16)
    token, _ = _token()
    first = verified.decode(token)
    assert verified.decode(token) == first
    assert verifications == [token]
    assert first == tokens.decode_access_token(SETTINGS, token)


def test_the_expiry_is_checked_on_every_use_to_the_second(
    known: tuple[VerifiedTokens, str, int], verifications: list[str]
) -> None:
    verified, token, expires = known
    assert verified.decode(token, now=expires + 0.9).subject_id  # python-jose's rule: whole seconds, exp included
    with pytest.raises(InvalidTokenError):
        verified.decode(token, now=expires + 1)
    # Dropped: the next use verifies it again (at the real time, before its expiry; `known` verified it before
    # `verifications` began counting).
    verified.decode(token)
    assert verifications == [token]


def test_a_clock_gone_back_before_not_before_refuses_the_token(known: tuple[VerifiedTokens, str, int]) -> None:
    verified, token, _ = known
    with pytest.raises(InvalidTokenError):
        verified.decode(token, now=ISSUED.timestamp() - 1)


def test_an_expired_or_forged_token_is_refused_and_not_kept(known: tuple[VerifiedTokens, str, int]) -> None:
    verified, token, _ = known
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    expired, _ = _token(issued=ISSUED - timedelta(hours=1))
    for bad in (forged, expired, "not-a-jwt"):
        for _ in range(2):
            with pytest.raises(InvalidTokenError):
                verified.decode(bad)
    assert len(verified._claims) == 1


def test_it_keeps_at_most_its_size_oldest_out_first(verifications: list[str]) -> None:
    verified = VerifiedTokens(SETTINGS, 2)
    first, second, third = (_token()[0] for _ in range(3))
    for token in (first, second, third, third, second, first):
        verified.decode(token)
    assert verifications == [first, second, third, first]
    assert len(verified._claims) == 2


def test_size_zero_verifies_every_request(verifications: list[str]) -> None:
    verified = VerifiedTokens(SETTINGS, 0)
    token, _ = _token()
    verified.decode(token)
    verified.decode(token)
    assert verifications == [token, token]


def test_no_bearer_token_is_kept_in_memory(known: tuple[VerifiedTokens, str, int]) -> None:
    verified, token, _ = known
    ((key, kept),) = verified._claims.items()
    assert key == hashlib.sha256(token.encode()).digest()
    assert token not in repr(kept)
