"""The only module that touches JWTs: issue and decode access tokens with python-jose.

Decoding pins the algorithm list, audience and issuer, and requires exp, nbf, iat, jti and sub.
"""

from __future__ import annotations

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
        return AccessClaims(
            subject_kind="user" if kind == "user" else "client",
            subject_id=uuid.UUID(raw_id),
            role=str(payload["role"]),
            organisation_id=uuid.UUID(str(payload["org"])),
            jti=str(payload["jti"]),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            session_id=uuid.UUID(str(payload["sid"])) if payload.get("sid") else None,
        )
    except InvalidTokenError:
        raise
    except (JWTError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidTokenError(str(exc)) from None
