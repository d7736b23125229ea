"""The ROME reference table, filled by the migration baseline (literal rows equal to ``rome_codes.csv``)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from toit_emploi_api.core.models import Base


class RomeCodeEntry(Base):
    """One ROME code the API knows. Reference data: written by migrations only, never by the API."""

    __tablename__ = "rome_codes"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    # fold(label): lower case, no accents; searched with LIKE.
    label_folded: Mapped[str] = mapped_column(String(400))  # folding can lengthen text

    __table_args__ = (CheckConstraint("code ~ '^[A-N][0-9]{4}$'", name="code_format"),)
