"""The `imports` table: one row per bulk import of past facts (the programme's history), and the `Imported` mixin
that marks each imported row with its import (`import_id`; null: recorded live). Reports can then be read with or
without history, and an import can be rolled back whole (`integration.history_service`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from toit_emploi_api.core.models import Base, Timestamps, UUIDPrimaryKey, Versioned


class ImportBatch(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """One import: who ran it, what it added (counts), and whether it was rolled back."""

    __tablename__ = "imports"

    kind: Mapped[str] = mapped_column(String(20))  # history
    status: Mapped[str] = mapped_column(String(20))  # applied | rolled_back
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[uuid.UUID | None]
    households: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    rolled_back_at: Mapped[datetime | None]


class Imported:
    """A row that may come from an import: `import_id` names it (null for facts recorded live)."""

    @declared_attr
    def import_id(cls) -> Mapped[uuid.UUID | None]:
        return mapped_column(ForeignKey("imports.id", ondelete="RESTRICT"), index=True, default=None)
