"""domain core: households and members, employers and job openings, housing units.

Reviewed by hand. The API and rules of each domain may extend these tables in later revisions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 22:58:48.382062
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE household_reference_seq")
    op.create_table(
        "employers",
        sa.Column("siret", sa.String(length=14), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("trade_name", sa.String(length=200), nullable=True),
        sa.Column("sector", sa.String(length=100), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("postcode", sa.String(length=5), nullable=True),
        sa.Column("commune_insee", sa.String(length=5), nullable=False),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("contact_name", sa.String(length=200), nullable=True),
        sa.Column("contact_phone", sa.String(length=30), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("notes", sa.String(length=4000), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employers")),
        sa.UniqueConstraint("siret", name=op.f("uq_employers_siret")),
    )
    op.create_index("ix_employers_commune_insee", "employers", ["commune_insee"], unique=False)
    op.create_table(
        "housing_units",
        sa.Column("landlord_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("landlord_reference", sa.String(length=64), nullable=False),
        sa.Column("street_number", sa.String(length=10), nullable=True),
        sa.Column("street_type", sa.String(length=20), nullable=True),
        sa.Column("street_name", sa.String(length=200), nullable=True),
        sa.Column("postcode", sa.String(length=5), nullable=False),
        sa.Column("commune_insee", sa.String(length=5), nullable=False),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("rooms", sa.Integer(), nullable=False),
        sa.Column("living_area_m2", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("floor", sa.Integer(), nullable=True),
        sa.Column("elevator", sa.Boolean(), nullable=True),
        sa.Column("rent", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("charges", sa.Numeric(precision=8, scale=2), server_default=sa.text("0"), nullable=False),
        sa.Column("dpe_class", sa.Enum("A", "B", "C", "D", "E", "F", "G", name="dpe_class"), nullable=True),
        sa.Column("construction_year", sa.Integer(), nullable=True),
        sa.Column("available_from", sa.Date(), nullable=True),
        sa.Column("step_free_access", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "status",
            sa.Enum("vacant", "reserved", "let", "unavailable", name="unit_status"),
            server_default="vacant",
            nullable=False,
        ),
        sa.Column("is_relay", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "construction_year IS NULL OR construction_year BETWEEN 1500 AND 2100",
            name=op.f("ck_housing_units_year_range"),
        ),
        sa.CheckConstraint("living_area_m2 IS NULL OR living_area_m2 > 0", name=op.f("ck_housing_units_area_positive")),
        sa.CheckConstraint("rent >= 0 AND charges >= 0", name=op.f("ck_housing_units_money_non_negative")),
        sa.CheckConstraint("rooms BETWEEN 1 AND 10", name=op.f("ck_housing_units_rooms_range")),
        sa.ForeignKeyConstraint(
            ["landlord_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_housing_units_landlord_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_units")),
        sa.UniqueConstraint(
            "landlord_organisation_id",
            "landlord_reference",
            name=op.f("uq_housing_units_landlord_organisation_id_landlord_reference"),
        ),
    )
    op.create_index("ix_housing_units_commune_insee", "housing_units", ["commune_insee"], unique=False)
    op.create_index("ix_housing_units_status", "housing_units", ["status"], unique=False)
    op.create_table(
        "job_openings",
        sa.Column("employer_id", sa.Uuid(), nullable=False),
        sa.Column("rome_code", sa.String(length=5), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "contract_type",
            sa.Enum("cdi", "cdd", "interim", "apprenticeship", name="contract_type"),
            nullable=False,
        ),
        sa.Column("hours_per_week", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("monthly_gross_wage", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("open_positions", sa.Integer(), nullable=False),
        sa.Column("hires_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("description", sa.String(length=4000), nullable=True),
        sa.Column(
            "status",
            sa.Enum("open", "filled", "closed", name="job_opening_status"),
            server_default="open",
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "hires_count >= 0 AND hires_count <= open_positions",
            name=op.f("ck_job_openings_hires_within_positions"),
        ),
        sa.CheckConstraint(
            "hours_per_week IS NULL OR (hours_per_week > 0 AND hours_per_week <= 48)",
            name=op.f("ck_job_openings_hours_range"),
        ),
        sa.CheckConstraint(
            "monthly_gross_wage IS NULL OR monthly_gross_wage >= 0",
            name=op.f("ck_job_openings_wage_non_negative"),
        ),
        sa.CheckConstraint("open_positions >= 1", name=op.f("ck_job_openings_open_positions_positive")),
        sa.ForeignKeyConstraint(
            ["employer_id"],
            ["employers.id"],
            name=op.f("fk_job_openings_employer_id_employers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_openings")),
    )
    op.create_index("ix_job_openings_employer_id", "job_openings", ["employer_id"], unique=False)
    op.create_index("ix_job_openings_rome_code", "job_openings", ["rome_code"], unique=False)
    op.create_index("ix_job_openings_status", "job_openings", ["status"], unique=False)
    op.create_table(
        "households",
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("referring_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "housing_situation",
            sa.Enum("hotel_115", "shelter", "hosted_by_relatives", "street", "other", name="housing_situation"),
            nullable=False,
        ),
        sa.Column("needs_constraints", sa.String(length=1000), nullable=True),
        sa.Column("consent_date", sa.Date(), nullable=True),
        sa.Column("consent_scope", sa.String(length=500), nullable=True),
        sa.Column(
            "stage",
            sa.Enum(
                "diagnostic",
                "matching",
                "relay_stay",
                "lease",
                "follow_up",
                "completed",
                "withdrawn",
                name="stage",
            ),
            server_default="diagnostic",
            nullable=False,
        ),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_contact_date", sa.Date(), nullable=True),
        sa.Column("manager_notes", sa.String(length=4000), nullable=True),
        sa.Column("closure_date", sa.Date(), nullable=True),
        sa.Column("closure_note", sa.String(length=4000), nullable=True),
        sa.Column("withdrawal_reason", sa.String(length=40), nullable=True),
        sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_households_created_by_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_households_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["referring_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_households_referring_organisation_id_organisations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
        sa.UniqueConstraint("reference", name=op.f("uq_households_reference")),
    )
    op.create_index("ix_households_created_at", "households", ["created_at"], unique=False)
    op.create_index(
        "ix_households_referring_organisation_id", "households", ["referring_organisation_id"], unique=False
    )
    op.create_index("ix_households_stage", "households", ["stage"], unique=False)
    op.create_table(
        "household_members",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name_folded", sa.String(length=100), nullable=False),
        sa.Column("last_name_folded", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("role", sa.Enum("head", "partner", "child", "other_relative", name="member_role"), nullable=False),
        sa.Column("rome_codes", sa.ARRAY(sa.String(length=5)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("years_of_experience", sa.Integer(), nullable=True),
        sa.Column("driving_licence", sa.Boolean(), nullable=True),
        sa.Column(
            "french_level",
            sa.Enum("none", "a1", "a2", "b1", "b2", "c1", "c2", "native", name="french_level"),
            nullable=True,
        ),
        sa.Column("qualifications", sa.String(length=1000), nullable=True),
        sa.Column("right_to_work_expiry", sa.Date(), nullable=True),
        sa.Column(
            "schooling_level",
            sa.Enum(
                "none",
                "creche",
                "maternelle",
                "elementaire",
                "college",
                "lycee",
                "other",
                name="schooling_level",
            ),
            nullable=True,
        ),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "years_of_experience IS NULL OR years_of_experience BETWEEN 0 AND 60",
            name=op.f("ck_household_members_experience_range"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_household_members_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_members")),
    )
    op.create_index("ix_household_members_household_id", "household_members", ["household_id"], unique=False)
    op.create_index(
        "ix_household_members_identity",
        "household_members",
        ["last_name_folded", "first_name_folded", "birth_date"],
        unique=False,
    )
    op.create_index(
        "ix_household_members_rome_codes",
        "household_members",
        ["rome_codes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "audit_events",
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=30), nullable=True),
        sa.Column("actor_organisation_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=True),
        sa.Column("household_id", sa.Uuid(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_audit_events_household_id_households"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_entity", "audit_events", ["entity_type", "entity_id"], unique=False)
    op.create_index("ix_audit_events_household_id_at", "audit_events", ["household_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_index("ix_household_members_rome_codes", table_name="household_members", postgresql_using="gin")
    op.drop_index("ix_household_members_identity", table_name="household_members")
    op.drop_index("ix_household_members_household_id", table_name="household_members")
    op.drop_table("household_members")
    op.drop_index("ix_households_stage", table_name="households")
    op.drop_index("ix_households_referring_organisation_id", table_name="households")
    op.drop_index("ix_households_created_at", table_name="households")
    op.drop_table("households")
    op.drop_index("ix_job_openings_status", table_name="job_openings")
    op.drop_index("ix_job_openings_rome_code", table_name="job_openings")
    op.drop_index("ix_job_openings_employer_id", table_name="job_openings")
    op.drop_table("job_openings")
    op.drop_index("ix_housing_units_status", table_name="housing_units")
    op.drop_index("ix_housing_units_commune_insee", table_name="housing_units")
    op.drop_table("housing_units")
    op.drop_index("ix_employers_commune_insee", table_name="employers")
    op.drop_table("employers")
    sa.Enum(name="dpe_class").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="unit_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="contract_type").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="job_opening_status").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="housing_situation").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="stage").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="member_role").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="french_level").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="schooling_level").drop(op.get_bind(), checkfirst=True)
    op.execute("DROP SEQUENCE household_reference_seq")
