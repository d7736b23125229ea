"""Organisations, users (people) and API clients (partner systems)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from toit_emploi_api.core.models import Base, Timestamps, UUIDPrimaryKey, Versioned
from toit_emploi_api.vocab.roles import OrganisationKind, Role

role_enum = Enum(Role, name="role", values_callable=lambda e: [m.value for m in e])
organisation_kind_enum = Enum(
    OrganisationKind, name="organisation_kind", values_callable=lambda e: [m.value for m in e]
)


class Organisation(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "organisations"

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(organisation_kind_enum)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    __table_args__ = (Index("uq_organisations_lower_name", func.lower(name), unique=True),)


class Account:
    """What a user and an API client share: a role within an organisation, and whether the account may sign in
    (an inactive account, or one of an inactive organisation, is refused at once)."""

    role: Mapped[Role] = mapped_column(role_enum)
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class User(UUIDPrimaryKey, Timestamps, Versioned, Account, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    last_login_at: Mapped[datetime | None]

    __table_args__ = (
        Index("uq_users_lower_email", func.lower(email), unique=True),
        Index("ix_users_organisation_id", "organisation_id"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )


class ApiClient(UUIDPrimaryKey, Timestamps, Versioned, Account, Base):
    __tablename__ = "api_clients"

    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_api_clients_organisation_id", "organisation_id"),)


class LoginThrottle(Base):
    """Failed sign-in attempts per identifier (email or client id), kept in PostgreSQL for every worker.

    Unknown identifiers are counted too, so the answer never tells whether an account exists.
    """

    __tablename__ = "login_throttle"

    identifier: Mapped[str] = mapped_column(String(254), primary_key=True)
    # The account-wide counter's key, on every counter of the account: an admin can unlock it from every address.
    account_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    locked_until: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]


class RefreshToken(UUIDPrimaryKey, Base):
    """A person's refresh token (opaque; only its SHA-256 is stored), one row per issued token.

    The tokens of one sign-in form a family: each use rotates the token (the row is marked used and the next one is
    inserted in the same family); presenting a used token again revokes the whole family (someone replayed it).
    """

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_refresh_tokens_family_id", "family_id"),
        Index("ix_refresh_tokens_user_id", "user_id"),
    )
