"""households: idempotency keys (generic, used first by POST /households) and member profile constraints.

Reviewed by hand.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("principal_kind", sa.String(length=10), nullable=False),
        sa.Column("principal_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("response_headers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "response_status IS NULL OR response_status BETWEEN 100 AND 599",
            name=op.f("ck_idempotency_keys_response_status_range"),
        ),
        sa.PrimaryKeyConstraint("principal_kind", "principal_id", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False)

    op.create_check_constraint(
        "schooling_children_only", "household_members", "role = 'child' OR schooling_level IS NULL"
    )
    op.create_check_constraint(
        "profile_adults_only",
        "household_members",
        "role <> 'child' OR (cardinality(rome_codes) = 0 AND years_of_experience IS NULL"
        " AND driving_licence IS NULL AND french_level IS NULL AND qualifications IS NULL"
        " AND right_to_work_expiry IS NULL)",
    )
    op.create_check_constraint("rome_codes_max", "household_members", "cardinality(rome_codes) <= 10")


def downgrade() -> None:
    op.drop_constraint("rome_codes_max", "household_members", type_="check")
    op.drop_constraint("profile_adults_only", "household_members", type_="check")
    op.drop_constraint("schooling_children_only", "household_members", type_="check")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
