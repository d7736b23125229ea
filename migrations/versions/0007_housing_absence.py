"""housing: remember that a landlord's snapshot dropped a unit the programme holds.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("housing_units", sa.Column("held_absent_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("housing_units", "held_absent_since")
