"""reports: the application's steps inside diagnostic (households.application_status, stage history `kind`).

Reviewed by hand. Existing households are all `draft`: none is marked as presented (docs/pipeline.md says so), so a
household already in diagnostic needs its application submitted and presented before it can be retained. Existing
stage history rows are all moves (`kind` = move).

Revision ID: 20261202_reports
Revises: 20261202_baseline
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261202_reports"
down_revision: str | None = "20261202_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPLICATION_STATUS = postgresql.ENUM("draft", "submitted", "presented", name="application_status", create_type=False)
HISTORY_KIND = postgresql.ENUM(
    "move", "application_submitted", "application_presented", name="stage_history_kind", create_type=False
)


def upgrade() -> None:
    APPLICATION_STATUS.create(op.get_bind(), checkfirst=False)
    HISTORY_KIND.create(op.get_bind(), checkfirst=False)
    op.add_column(
        "households", sa.Column("application_status", APPLICATION_STATUS, server_default="draft", nullable=False)
    )
    op.add_column("stage_transitions", sa.Column("kind", HISTORY_KIND, server_default="move", nullable=False))
    op.create_check_constraint(
        op.f("ck_stage_transitions_application_step_in_diagnostic"),
        "stage_transitions",
        "kind = 'move' OR (from_stage = 'diagnostic' AND to_stage = 'diagnostic')",
    )
    op.create_check_constraint(
        op.f("ck_stage_transitions_move_changes_stage"), "stage_transitions", "kind <> 'move' OR from_stage <> to_stage"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_stage_transitions_move_changes_stage"), "stage_transitions", type_="check")
    op.drop_constraint(op.f("ck_stage_transitions_application_step_in_diagnostic"), "stage_transitions", type_="check")
    op.drop_column("stage_transitions", "kind")
    op.drop_column("households", "application_status")
    HISTORY_KIND.drop(op.get_bind(), checkfirst=False)
    APPLICATION_STATUS.drop(op.get_bind(), checkfirst=False)
