"""The `idempotency_keys` table: one row per (caller, Idempotency-Key), holding the first response."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, PrimaryKeyConstraint, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from toit_emploi_api.core.models import Base

IDEMPOTENCY_KEY_MAX_LENGTH = 200


class IdempotencyKey(Base):
    """A caller's Idempotency-Key and the first successful response given for it.

    The primary key (caller kind, caller id, key) makes a first use atomic: concurrent requests with the
    same key queue on the row and the later ones replay what the first one stored. Rows live at least
    ``settings.idempotency_ttl_hours`` and are purged opportunistically afterwards.
    """

    __tablename__ = "idempotency_keys"

    principal_kind: Mapped[str] = mapped_column(String(10))  # user | client
    principal_id: Mapped[uuid.UUID]
    key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_MAX_LENGTH))
    # sha256 (hex) of method + path + canonical JSON body.
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    # NULL until the first request has produced its response (same transaction, so never visible as NULL).
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any | None] = mapped_column(JSONB)
    # A few response headers worth replaying (Location, ETag).
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        PrimaryKeyConstraint("principal_kind", "principal_id", "key", name="pk_idempotency_keys"),
        Index("ix_idempotency_keys_created_at", "created_at"),
        CheckConstraint("response_status IS NULL OR response_status BETWEEN 100 AND 599", name="response_status_range"),
    )
