"""pipeline_fixes: a placement names who declined it only when it is declined.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows written before the fix could carry declined_by on a placement that is not declined: drop that value
    # (the placement's status is the fact; the stray party was accepted by mistake).
    op.execute("UPDATE placements SET declined_by = NULL WHERE declined_by IS NOT NULL AND status <> 'declined'")
    op.create_check_constraint(
        op.f("ck_placements_declined_by_only_when_declined"), "placements", "declined_by IS NULL OR status = 'declined'"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_placements_declined_by_only_when_declined"), "placements", type_="check")
