"""The audit trail: who read or changed which household's personal data, and every write, recorded inside the
request's transaction (a rolled-back write leaves no trace). `details` holds field names, ids and codes only:
never names, birth dates or notes. The actions are the `AuditAction` vocabulary (`toit_emploi_api.vocab.audit`).

Each event names its actor (user, API client or `system`, with role and organisation), the request id of the HTTP
request that made it, the object, and for lists and exports the households shown (`household_ids`), so that a
household's access log finds the lists that showed it. The table is append-only in the database: a trigger refuses
UPDATE and DELETE, except the retention job's own anonymisation, which says so with the transaction-local setting
`ANONYMISING_SETTING` (see `allow_anonymisation`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Index, String, Uuid, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from toit_emploi_api.core.models import Base, UUIDPrimaryKey
from toit_emploi_api.core.request_context import current_request_id

ANONYMISING_SETTING = "toit_emploi.audit_anonymising"
"""The transaction-local setting the append-only trigger checks: only the retention job's anonymisation sets it."""


class AuditEvent(UUIDPrimaryKey, Base):
    __tablename__ = "audit_events"

    at: Mapped[datetime] = mapped_column(server_default=func.now())
    actor_kind: Mapped[str] = mapped_column(String(10))  # user | client | system
    actor_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str | None] = mapped_column(String(30))
    actor_organisation_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(String(60))  # e.g. household.read, household.update, placement.create
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID | None]
    # No foreign key: the trail outlives a deleted household (its id stays, pointing at nothing).
    household_id: Mapped[uuid.UUID | None]
    # The request that made the event (X-Request-ID), None outside HTTP (CLI, scheduler).
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Lists and exports: the households whose data was shown.
    household_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid()))
    # Field names and codes only: never names, birth dates or notes.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        Index("ix_audit_events_household_id_at", "household_id", "at"),
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_actor_id_at", "actor_id", "at"),
        Index("ix_audit_events_household_ids", "household_ids", postgresql_using="gin"),
    )


class Actor(Protocol):
    """Who acts: a user or an API client (`auth.policy.Principal` is one)."""

    @property
    def kind(self) -> str: ...
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def role(self) -> Any: ...
    @property
    def organisation_id(self) -> uuid.UUID: ...


def _request_id() -> str | None:
    value = current_request_id()
    return None if value == "-" else value


async def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | None,
    *,
    household_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    shown: Iterable[uuid.UUID] | None = None,
    actor_kind: str | None = None,
) -> None:
    """Add one audit event (`action`: an `AuditAction`). `details` holds field names and codes only; `shown`
    lists the households a list or an export showed. `actor` None is the system (the retention job), or whoever
    `actor_kind` says (`anonymous`: a failed sign-in)."""
    session.add(
        AuditEvent(
            actor_kind=actor_kind or (actor.kind if actor else "system"),
            actor_id=actor.id if actor else None,
            actor_role=str(actor.role) if actor else None,
            actor_organisation_id=actor.organisation_id if actor else None,
            action=str(action),
            entity_type=entity_type,
            entity_id=entity_id,
            household_id=household_id,
            request_id=_request_id(),
            household_ids=list(shown) if shown is not None else None,
            details=details,
        )
    )


async def allow_anonymisation(session: AsyncSession) -> None:
    """Let this transaction (only) rewrite audit events: the retention job's anonymisation of old events."""
    await session.execute(text(f"SELECT set_config('{ANONYMISING_SETTING}', 'on', true)"))
