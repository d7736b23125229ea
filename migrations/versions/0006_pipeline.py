"""pipeline: stage transitions, placements, relay stays, housing allocations, follow-up entries.

Reviewed by hand. Reuses the `stage` and `contract_type` enums of revision 0002 (not created/dropped here).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAGE = postgresql.ENUM(name="stage", create_type=False)
_CONTRACT_TYPE = postgresql.ENUM(name="contract_type", create_type=False)
_NEW_ENUMS = ("placement_status", "placement_party", "relay_stay_status", "allocation_status", "follow_up_domain")


def _common() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def _household_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["household_id"], ["households.id"], name=f"fk_{table}_household_id_households", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "stage_transitions",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("from_stage", _STAGE, nullable=False),
        sa.Column("to_stage", _STAGE, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=30), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("note", sa.String(length=4000), nullable=True),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        _household_fk("stage_transitions"),
        sa.PrimaryKeyConstraint("id", name="pk_stage_transitions"),
    )
    op.create_index("ix_stage_transitions_household_id_at", "stage_transitions", ["household_id", "at"])

    op.create_table(
        "placements",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("job_opening_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("proposed", "interview", "offered", "hired", "declined", "cancelled", name="placement_status"),
            server_default="proposed",
            nullable=False,
        ),
        sa.Column("declined_by", sa.Enum("household", "employer", name="placement_party"), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("contract_type", _CONTRACT_TYPE, nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("note", sa.String(length=4000), nullable=True),
        *_common(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status <> 'hired' OR (contract_type IS NOT NULL AND start_date IS NOT NULL)",
            name="ck_placements_hired_has_contract",
        ),
        sa.CheckConstraint("status <> 'declined' OR declined_by IS NOT NULL", name="ck_placements_declined_has_party"),
        _household_fk("placements"),
        sa.ForeignKeyConstraint(
            ["member_id"], ["household_members.id"], name="fk_placements_member_id_household_members"
        ),
        sa.ForeignKeyConstraint(
            ["job_opening_id"], ["job_openings.id"], name="fk_placements_job_opening_id_job_openings"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_placements"),
    )
    op.create_index("ix_placements_household_id", "placements", ["household_id"])
    op.create_index("ix_placements_job_opening_id", "placements", ["job_opening_id"])
    op.create_index(
        "uq_placements_member_opening_open",
        "placements",
        ["member_id", "job_opening_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('proposed', 'interview', 'offered')"),
    )

    op.create_table(
        "relay_stays",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("booked", "ended", "cancelled", name="relay_stay_status"),
            server_default="booked",
            nullable=False,
        ),
        sa.Column("family_agrees", sa.Boolean(), nullable=True),
        sa.Column("employer_agrees", sa.Boolean(), nullable=True),
        sa.Column("outcome_note", sa.String(length=4000), nullable=True),
        sa.Column("outcome_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        *_common(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("end_date - start_date BETWEEN 2 AND 4", name="ck_relay_stays_three_to_five_days"),
        _household_fk("relay_stays"),
        sa.ForeignKeyConstraint(["unit_id"], ["housing_units.id"], name="fk_relay_stays_unit_id_housing_units"),
        sa.PrimaryKeyConstraint("id", name="pk_relay_stays"),
        postgresql.ExcludeConstraint(
            ("unit_id", "="),
            (sa.text("daterange(start_date, end_date, '[]')"), "&&"),
            name="ex_relay_stays_unit_overlap",
            using="gist",
            where=sa.text("status <> 'cancelled'"),
        ),
    )
    op.create_index("ix_relay_stays_household_id", "relay_stays", ["household_id"])

    op.create_table(
        "housing_allocations",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("reserved", "lease_signed", "ended", "cancelled", name="allocation_status"),
            server_default="reserved",
            nullable=False,
        ),
        sa.Column("override_reason", sa.String(length=200), nullable=True),
        sa.Column("lease_signed_date", sa.Date(), nullable=True),
        sa.Column("move_in_date", sa.Date(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        *_common(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status <> 'lease_signed' OR (lease_signed_date IS NOT NULL AND move_in_date IS NOT NULL)",
            name="ck_housing_allocations_lease_signed_has_dates",
        ),
        _household_fk("housing_allocations"),
        sa.ForeignKeyConstraint(["unit_id"], ["housing_units.id"], name="fk_housing_allocations_unit_id_housing_units"),
        sa.PrimaryKeyConstraint("id", name="pk_housing_allocations"),
    )
    for name, column in (
        ("uq_housing_allocations_unit_active", "unit_id"),
        ("uq_housing_allocations_household_active", "household_id"),
    ):
        op.create_index(
            name,
            "housing_allocations",
            [column],
            unique=True,
            postgresql_where=sa.text("status IN ('reserved', 'lease_signed')"),
        )

    op.create_table(
        "follow_up_entries",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column(
            "domain",
            sa.Enum(
                "employment",
                "housing",
                "schooling",
                "health_insurance",
                "benefits",
                "administrative",
                "other",
                name="follow_up_domain",
            ),
            nullable=False,
        ),
        sa.Column("note", sa.String(length=4000), nullable=False),
        sa.Column("author_kind", sa.String(length=10), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("author_role", sa.String(length=30), nullable=True),
        *_common(),
        _household_fk("follow_up_entries"),
        sa.PrimaryKeyConstraint("id", name="pk_follow_up_entries"),
    )
    op.create_index("ix_follow_up_entries_household_id_entry_date", "follow_up_entries", ["household_id", "entry_date"])


def downgrade() -> None:
    op.drop_table("follow_up_entries")
    op.drop_table("housing_allocations")
    op.drop_table("relay_stays")
    op.drop_table("placements")
    op.drop_table("stage_transitions")
    for name in _NEW_ENUMS:
        sa.Enum(name=name).drop(op.get_bind(), checkfirst=True)
