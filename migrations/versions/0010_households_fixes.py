"""households_fixes: folded search columns widened to 400 characters (folding can lengthen text: "ß" → "ss").

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, length before this revision, nullable)
_FOLDED_COLUMNS = (
    ("household_members", "first_name_folded", 100, False),
    ("household_members", "last_name_folded", 100, False),
    ("employers", "sector_folded", 100, True),
    ("rome_codes", "label_folded", 200, False),
)
FOLDED_MAX = 400


def upgrade() -> None:
    for table, column, before, nullable in _FOLDED_COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.String(length=before),
            type_=sa.String(length=FOLDED_MAX),
            existing_nullable=nullable,
        )


def downgrade() -> None:
    # Folded values longer than the old width are cut (they are derived data, used for search only).
    for table, column, before, nullable in _FOLDED_COLUMNS:
        op.alter_column(
            table,
            column,
            existing_type=sa.String(length=FOLDED_MAX),
            type_=sa.String(length=before),
            existing_nullable=nullable,
            postgresql_using=f"left({column}, {before})",
        )
