"""The only module that touches JWTs: issue and decode access tokens with python-jose.

Decoding pins the algorithm list, audience and issuer, and requires exp, nbf, iat, jti and sub. `VerifiedTokens`
keeps what a process has verified, so that a client's next requests with the same token skip the signature check.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from jose import JWTError, jwt

from toit_emploi_api.core.settings import Settings

SubjectKind = Literal["user", "client"]


@dataclass(frozen=True)
class AccessClaims:
    subject_kind: SubjectKind
    subject_id: uuid.UUID
    role: str
    organisation_id: uuid.UUID
    jti: str
    expires_at: datetime
    session_id: uuid.UUID | None = None
    """The refresh-token family (sign-in) this access token belongs to (`sid`); None for API clients."""


class InvalidTokenError(Exception):
    """The token is missing, malformed, forged, expired, not yet valid or meant for someone else."""


def issue_access_token(
    settings: Settings,
    *,
    subject_kind: SubjectKind,
    subject_id: uuid.UUID,
    role: str,
    organisation_id: uuid.UUID,
    now: datetime | None = None,
    lifetime: timedelta | None = None,
    session_id: uuid.UUID | None = None,
) -> tuple[str, int]:
    """Return `(token, expires_in_seconds)`."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    ttl = lifetime or timedelta(minutes=settings.access_token_minutes)
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": f"{subject_kind}:{subject_id}",
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
        "role": role,
        "org": str(organisation_id),
    }
    if session_id is not None:
        claims["sid"] = str(session_id)  # revoking the sign-in also ends this access token
    token = jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
    return token, int(ttl.total_seconds())


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    return _verify(settings, token)[0]


def _verify(settings: Settings, token: str) -> tuple[AccessClaims, int, int]:
    """The token's claims, with its `nbf` and `exp` (seconds since the epoch), or InvalidTokenError."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != settings.jwt_algorithm:
            raise InvalidTokenError("unexpected algorithm")
        payload = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={
                "require_exp": True,
                "require_nbf": True,
                "require_iat": True,
                "require_jti": True,
                "require_sub": True,
                "require_aud": True,
                "require_iss": True,
                "leeway": 0,
            },
        )
        kind, _, raw_id = str(payload["sub"]).partition(":")
        if kind not in ("user", "client"):
            raise InvalidTokenError("bad subject")
        expires = int(payload["exp"])
        claims = AccessClaims(
            subject_kind="user" if kind == "user" else "client",
            subject_id=uuid.UUID(raw_id),
            role=str(payload["role"]),
            organisation_id=uuid.UUID(str(payload["org"])),
            jti=str(payload["jti"]),
            expires_at=datetime.fromtimestamp(expires, UTC),
            session_id=uuid.UUID(str(payload["sid"])) if payload.get("sid") else None,
        )
        return claims, int(payload["nbf"]), expires
    except InvalidTokenError:
        raise
    except (JWTError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidTokenError(str(exc)) from None


class VerifiedTokens:
    """The claims of the access tokens this process has verified, so that the next requests with the same token skip
    python-jose (base64, HMAC, JSON and the claims' checks: ≈ 60 µs a request, docs/performance.md).

    What the signature check proves depends on the token's bytes alone, so it is done once; the time checks are made
    again on every use, exactly as python-jose makes them (whole seconds, no leeway): an expired token is refused
    and dropped. Keyed by the token's SHA-256, so no bearer token outlives its request in memory; bounded (`size`
    entries, the oldest out first; 0 turns it off). Per process and per app: several workers each verify a token
    once; revocation and deactivation are checked in the database on every request, as without it."""

    def __init__(self, settings: Settings, size: int) -> None:
        self._settings = settings
        self._size = size
        self._claims: dict[bytes, tuple[AccessClaims, int, int]] = {}

    def decode(self, token: str, now: float | None = None) -> AccessClaims:
        """The token's claims, or InvalidTokenError; `now` (seconds since the epoch) is for tests."""
        key = hashlib.sha256(token.encode()).digest()
        known = self._claims.get(key)
        if known is None:
            known = _verify(self._settings, token)
            if self._size:
                if len(self._claims) >= self._size:
                    self._claims.pop(next(iter(self._claims)), None)
                self._claims[key] = known
            return known[0]
        claims, not_before, expires = known
        second = int(time.time() if now is None else now)
        if second > expires:
            self._claims.pop(key, None)
            raise InvalidTokenError("Signature has expired.")
        if second < not_before:  # only if the clock went back since the token was verified
            raise InvalidTokenError("The token is not yet valid (nbf)")
        return claims
