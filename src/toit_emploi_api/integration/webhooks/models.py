"""Webhook subscriptions, their deliveries (one per event and subscription) and each delivery's attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from toit_emploi_api.core.models import Base, Timestamps, UUIDPrimaryKey, Versioned

URL_MAX_LENGTH = 2000


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at (or being posted right now by a worker)
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # no 2xx before expires_at: given up (redeliver starts again)


class WebhookSubscription(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """Where one organisation's system wants which events, signed with its secret."""

    __tablename__ = "webhook_subscriptions"

    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(URL_MAX_LENGTH))
    description: Mapped[str | None] = mapped_column(String(200))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(60)))
    # Signing needs the secret itself (HMAC): it is stored as is, never returned after the answer that made it.
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Set when the worker disabled the subscription (every delivery failing for days); cleared on re-activation.
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[datetime | None]
    # The first failed attempt since the last successful one (None: the last attempt succeeded).
    failing_since: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_webhook_subscriptions_organisation_id", "organisation_id"),
        CheckConstraint("cardinality(event_types) > 0", name="has_event_types"),
    )


class WebhookDelivery(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """One event for one subscription: its payload (built once, scoped to the organisation) and its state.

    Its id is the `webhook-id` the receiver sees on every attempt (the same on a retry or a redelivery)."""

    __tablename__ = "webhook_deliveries"

    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(60))
    event_seq: Mapped[int] = mapped_column(BigInteger)
    household_id: Mapped[uuid.UUID | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(10), server_default=DeliveryStatus.PENDING.value)
    attempts_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    last_latency_ms: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None]

    attempts: Mapped[list[WebhookDeliveryAttempt]] = relationship(
        order_by="WebhookDeliveryAttempt.at", lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_known"),
        CheckConstraint("status <> 'pending' OR next_attempt_at IS NOT NULL", name="pending_has_next_attempt"),
        # The queue: what is due.
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        # Order per household: an earlier pending delivery of the same household holds the later ones back.
        Index(
            "ix_webhook_deliveries_pending_order",
            "subscription_id",
            "household_id",
            "event_seq",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_subscription_id_created_at", "subscription_id", "created_at"),
        Index("ix_webhook_deliveries_event_id", "event_id"),
    )


class WebhookDeliveryAttempt(UUIDPrimaryKey, Base):
    """One POST of a delivery: when, the receiver's status code (None: no answer), how long, what went wrong."""

    __tablename__ = "webhook_delivery_attempts"

    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_webhook_delivery_attempts_delivery_id_at", "delivery_id", "at"),)
