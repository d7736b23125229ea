"""The transactional outbox: events that leave the process (webhooks) are rows written by the service that makes
the change, in the request's transaction. A rolled-back change leaves no event; a committed change always has its
event. The delivery worker (`integration.webhooks`) reads the rows afterwards and fans them out to subscriptions.

`data` holds ids, stages, statuses, codes and dates only: never names, birth dates or notes (receivers fetch the
resource with their own token when they need more). Each service calls `emit` once per change:

    await outbox.emit(session, "household.created", household_id=h.id, organisation_id=h.referring_organisation_id,
                      data={...})
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from toit_emploi_api.core.models import Base, UUIDPrimaryKey


class OutboxEvent(UUIDPrimaryKey, Base):
    """One event, in the order the changes were made (`seq`); `dispatched_at` is set once the worker has made a
    delivery of it for every subscription that wants it."""

    __tablename__ = "outbox_events"

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    event_type: Mapped[str] = mapped_column(String(60))
    # The household concerned (no foreign key: an event outlives an erased household, and holds no personal data).
    household_id: Mapped[uuid.UUID | None]
    # The organisation the event belongs to: a household's referring organisation, a landlord for its sync.
    organisation_id: Mapped[uuid.UUID | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    dispatched_at: Mapped[datetime | None]

    __table_args__ = (
        # The worker's queue: undispatched events in order.
        Index("ix_outbox_events_undispatched", "seq", postgresql_where=text("dispatched_at IS NULL")),
    )


async def emit(
    session: AsyncSession,
    event_type: str,
    *,
    household_id: uuid.UUID | None = None,
    organisation_id: uuid.UUID | None = None,
    data: dict[str, Any],
) -> OutboxEvent:
    """Add one event to the outbox, in the caller's transaction (flushed with the change, committed with it)."""
    event = OutboxEvent(
        event_type=str(event_type), household_id=household_id, organisation_id=organisation_id, data=data
    )
    session.add(event)
    return event
