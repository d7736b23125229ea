"""imports: the `imports` table and the nullable `import_id` of every fact a history import can add.

Reviewed by hand; names follow the naming convention (wrapped in ``op.f()``). No application import.

Revision ID: 20261202_imports
Revises: 20261202_reports
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261202_imports"
down_revision: str | None = "20261202_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IMPORTED_TABLES = (
    "households",
    "household_members",
    "stage_transitions",
    "placements",
    "relay_stays",
    "housing_allocations",
    "follow_up_entries",
)


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    for table in IMPORTED_TABLES:
        op.add_column(table, sa.Column("import_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_import_id_imports"), table, "imports", ["import_id"], ["id"], ondelete="RESTRICT"
        )
        op.create_index(op.f(f"ix_{table}_import_id"), table, ["import_id"])


def downgrade() -> None:
    for table in reversed(IMPORTED_TABLES):
        op.drop_index(op.f(f"ix_{table}_import_id"), table_name=table)
        op.drop_constraint(op.f(f"fk_{table}_import_id_imports"), table, type_="foreignkey")
        op.drop_column(table, "import_id")
    op.drop_table("imports")
