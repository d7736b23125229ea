"""The audit trail: who read or changed which household's personal data, and every write, recorded inside the
request's transaction (a rolled-back write leaves no trace). `details` holds field names, ids and codes only:
never names, birth dates or notes. The actions are the `AuditAction` vocabulary (`toit_emploi_api.vocab.audit`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ForeignKey, Index, String, func, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from toit_emploi_api.core.models import Base, UUIDPrimaryKey


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
    household_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"))
    # Field names and codes only: never names, birth dates or notes.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        Index("ix_audit_events_household_id_at", "household_id", "at"),
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
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


async def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | None,
    *,
    household_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one audit event (`action`: an `AuditAction`). `details` holds field names and codes only."""
    session.add(
        AuditEvent(
            actor_kind=actor.kind if actor else "system",
            actor_id=actor.id if actor else None,
            actor_role=str(actor.role) if actor else None,
            actor_organisation_id=actor.organisation_id if actor else None,
            action=str(action),
            entity_type=entity_type,
            entity_id=entity_id,
            household_id=household_id,
            details=details,
        )
    )


async def record_many(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    entity_type: str,
    events: list[tuple[uuid.UUID | None, uuid.UUID | None, dict[str, Any] | None]],
) -> None:
    """Add one audit event per (entity id, household id, details), in one executemany (bulk imports)."""
    if not events:
        return
    common = {
        "actor_kind": actor.kind if actor else "system",
        "actor_id": actor.id if actor else None,
        "actor_role": str(actor.role) if actor else None,
        "actor_organisation_id": actor.organisation_id if actor else None,
        "action": str(action),
        "entity_type": entity_type,
    }
    rows = [
        {**common, "id": uuid.uuid4(), "entity_id": entity_id, "household_id": household_id, "details": details}
        for entity_id, household_id, details in events
    ]
    await session.execute(insert(AuditEvent), rows)
