"""baseline: the whole schema in one reviewed revision (replaces revisions 0001-0010, nothing was in production).

Reviewed by hand. Every constraint and index carries its final name, the one the models' naming convention
(toit_emploi_api.core.models.NAMING_CONVENTION) gives: names are wrapped in ``op.f()`` so that Alembic does not
apply the convention a second time (``ck_x_ck_x_...``). The revision imports no application code: the ROME
reference rows are literal rows below.

Sections, in creation order: extensions; enum types and sequence; accounts; households; employers and ROME
reference; housing; pipeline; audit and idempotency. The downgrade drops them in reverse order.

Revision ID: 20261202_baseline
Revises:
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261202_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# ------------------------------------------------------------------------------------------------ enum types
# Created once in upgrade(); the columns use them with create_type=False, so create_table never re-creates them.


def _enum(name: str, *values: str) -> postgresql.ENUM:
    return postgresql.ENUM(*values, name=name, create_type=False)


ROLE = _enum("role", "admin", "service_manager", "paris_referent", "partner_worker", "landlord", "funder")
ORGANISATION_KIND = _enum("organisation_kind", "operator", "referral_partner", "landlord", "funder")
HOUSING_SITUATION = _enum("housing_situation", "hotel_115", "shelter", "hosted_by_relatives", "street", "other")
STAGE = _enum("stage", "diagnostic", "matching", "relay_stay", "lease", "follow_up", "completed", "withdrawn")
MEMBER_ROLE = _enum("member_role", "head", "partner", "child", "other_relative")
FRENCH_LEVEL = _enum("french_level", "none", "a1", "a2", "b1", "b2", "c1", "c2", "native")
SCHOOLING_LEVEL = _enum("schooling_level", "none", "creche", "maternelle", "elementaire", "college", "lycee", "other")
CONTRACT_TYPE = _enum("contract_type", "cdi", "cdd", "interim", "apprenticeship")
JOB_OPENING_STATUS = _enum("job_opening_status", "open", "filled", "closed")
DPE_CLASS = _enum("dpe_class", "A", "B", "C", "D", "E", "F", "G")
UNIT_STATUS = _enum("unit_status", "vacant", "reserved", "let", "unavailable")
PLACEMENT_STATUS = _enum("placement_status", "proposed", "interview", "offered", "hired", "declined", "cancelled")
PLACEMENT_PARTY = _enum("placement_party", "household", "employer")
RELAY_STAY_STATUS = _enum("relay_stay_status", "booked", "ended", "cancelled")
ALLOCATION_STATUS = _enum("allocation_status", "reserved", "lease_signed", "ended", "cancelled")
FOLLOW_UP_DOMAIN = _enum(
    "follow_up_domain",
    "employment",
    "housing",
    "schooling",
    "health_insurance",
    "benefits",
    "administrative",
    "other",
)

ENUMS = (
    ROLE,
    ORGANISATION_KIND,
    HOUSING_SITUATION,
    STAGE,
    MEMBER_ROLE,
    FRENCH_LEVEL,
    SCHOOLING_LEVEL,
    CONTRACT_TYPE,
    JOB_OPENING_STATUS,
    DPE_CLASS,
    UNIT_STATUS,
    PLACEMENT_STATUS,
    PLACEMENT_PARTY,
    RELAY_STAY_STATUS,
    ALLOCATION_STATUS,
    FOLLOW_UP_DOMAIN,
)

# ----------------------------------------------------------------------------------------- ROME reference rows
# France Travail's ROME codes the programme works with: (code, label, label_folded). A snapshot of
# src/toit_emploi_api/reference/rome_codes.csv (which the API reads at run time for labels); label_folded is
# reference.text.fold(label). tests/api/test_migrations.py checks that the table equals the CSV. A later change
# of the CSV needs its own revision.
ROME_CODES = (
    ("F1501", "Montage de structures et de charpentes bois", "montage de structures et de charpentes bois"),
    ("F1602", "Électricité bâtiment", "electricite batiment"),
    (
        "F1603",
        "Installation d'équipements sanitaires et thermiques",
        "installation d equipements sanitaires et thermiques",
    ),
    ("F1604", "Montage d'agencements", "montage d agencements"),
    ("F1606", "Peinture en bâtiment", "peinture en batiment"),
    ("F1607", "Pose de fermetures menuisées", "pose de fermetures menuisees"),
    ("F1608", "Pose de revêtements rigides", "pose de revetements rigides"),
    ("F1610", "Pose et restauration de couvertures", "pose et restauration de couvertures"),
    ("F1613", "Travaux d'étanchéité et d'isolation", "travaux d etancheite et d isolation"),
    ("F1701", "Construction en béton", "construction en beton"),
    ("F1703", "Maçonnerie", "maconnerie"),
    (
        "F1704",
        "Préparation du gros oeuvre et des travaux publics",
        "preparation du gros oeuvre et des travaux publics",
    ),
    ("G1602", "Personnel de cuisine", "personnel de cuisine"),
    ("G1603", "Personnel polyvalent en restauration", "personnel polyvalent en restauration"),
    ("G1605", "Plonge en restauration", "plonge en restauration"),
    ("G1801", "Café, bar brasserie", "cafe, bar brasserie"),
    ("G1803", "Service en restauration", "service en restauration"),
    ("H2206", "Réalisation de menuiserie bois et tonnellerie", "realisation de menuiserie bois et tonnellerie"),
    ("H2207", "Réalisation de meubles en bois", "realisation de meubles en bois"),
    ("I1203", "Maintenance des bâtiments et des locaux", "maintenance des batiments et des locaux"),
    ("K1302", "Assistance auprès d'adultes", "assistance aupres d adultes"),
    ("K1303", "Assistance auprès d'enfants", "assistance aupres d enfants"),
    ("K1304", "Services domestiques", "services domestiques"),
    ("K1305", "Intervention sociale et familiale", "intervention sociale et familiale"),
    ("K2204", "Nettoyage de locaux", "nettoyage de locaux"),
    (
        "N4101",
        "Conduite de transport de marchandises sur longue distance",
        "conduite de transport de marchandises sur longue distance",
    ),
    (
        "N4105",
        "Conduite et livraison par tournées sur courte distance",
        "conduite et livraison par tournees sur courte distance",
    ),
)

# Folded search columns are wider than their source: folding can lengthen text ("ß" -> "ss"); reference.text.FOLDED_MAX.
FOLDED_MAX = 400


# -------------------------------------------------------------------------------------------- column helpers


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False)


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    ]


def _version() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("version", sa.Integer(), nullable=False)


def _entity() -> list[sa.Column]:  # type: ignore[type-arg]
    """id, created_at, updated_at, version: the UUIDPrimaryKey, Timestamps and Versioned mixins."""
    return [_id(), *_timestamps(), _version()]


def _fk(table: str, column: str, referred: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


# ------------------------------------------------------------------------------------------------- upgrade


def upgrade() -> None:
    bind = op.get_bind()

    # Extensions. btree_gist: the exclusion constraint ex_relay_stays_unit_overlap mixes = (uuid) and && (range)
    # in one GiST index. unaccent: kept from the first revisions (the README asks for it; no object uses it yet).
    # gen_random_uuid() is built into PostgreSQL 13+, so pgcrypto is not needed.
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")

    for enum in ENUMS:
        enum.create(bind, checkfirst=False)
    # Household references TE-<year>-<n>: numbered from this sequence (households.repository).
    op.execute("CREATE SEQUENCE household_reference_seq")

    _accounts()
    _households()
    _employers()
    _housing()
    _pipeline()
    _audit_and_idempotency()


def _accounts() -> None:
    op.create_table(
        "organisations",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", ORGANISATION_KIND, nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *_entity(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    op.create_index(
        op.f("uq_organisations_lower_name"), "organisations", [sa.literal_column("lower(name)")], unique=True
    )

    op.create_table(
        "users",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("role", ROLE, nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        *_entity(),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lowercase")),
        _fk("users", "organisation_id", "organisations", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_index(op.f("ix_users_organisation_id"), "users", ["organisation_id"])
    op.create_index(op.f("uq_users_lower_email"), "users", [sa.literal_column("lower(email)")], unique=True)

    op.create_table(
        "api_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", ROLE, nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        *_entity(),
        _fk("api_clients", "organisation_id", "organisations", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_api_clients_client_id")),
    )
    op.create_index(op.f("ix_api_clients_organisation_id"), "api_clients", ["organisation_id"])

    # Failed sign-ins per identifier (email or client id), shared by every worker.
    op.create_table(
        "login_throttle",
        sa.Column("identifier", sa.String(length=254), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("identifier", name=op.f("pk_login_throttle")),
    )


def _households() -> None:
    op.create_table(
        "households",
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("referring_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("housing_situation", HOUSING_SITUATION, nullable=False),
        sa.Column("needs_constraints", sa.String(length=1000), nullable=True),
        sa.Column("consent_date", sa.Date(), nullable=True),
        sa.Column("consent_scope", sa.String(length=500), nullable=True),
        sa.Column("stage", STAGE, server_default="diagnostic", nullable=False),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_contact_date", sa.Date(), nullable=True),
        sa.Column("manager_notes", sa.String(length=4000), nullable=True),
        sa.Column("closure_date", sa.Date(), nullable=True),
        sa.Column("closure_note", sa.String(length=4000), nullable=True),
        sa.Column("withdrawal_reason", sa.String(length=40), nullable=True),
        sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True),
        *_entity(),
        _fk("households", "referring_organisation_id", "organisations", ondelete="RESTRICT"),
        _fk("households", "created_by_organisation_id", "organisations", ondelete="RESTRICT"),
        _fk("households", "created_by_user_id", "users", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
        sa.UniqueConstraint("reference", name=op.f("uq_households_reference")),
    )
    op.create_index(op.f("ix_households_referring_organisation_id"), "households", ["referring_organisation_id"])
    op.create_index(op.f("ix_households_stage"), "households", ["stage"])
    op.create_index(op.f("ix_households_created_at"), "households", ["created_at"])

    op.create_table(
        "household_members",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name_folded", sa.String(length=FOLDED_MAX), nullable=False),
        sa.Column("last_name_folded", sa.String(length=FOLDED_MAX), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("role", MEMBER_ROLE, nullable=False),
        # Adults: professional profile.
        sa.Column("rome_codes", sa.ARRAY(sa.String(length=5)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("years_of_experience", sa.Integer(), nullable=True),
        sa.Column("driving_licence", sa.Boolean(), nullable=True),
        sa.Column("french_level", FRENCH_LEVEL, nullable=True),
        sa.Column("qualifications", sa.String(length=1000), nullable=True),
        sa.Column("right_to_work_expiry", sa.Date(), nullable=True),
        # Children: schooling level.
        sa.Column("schooling_level", SCHOOLING_LEVEL, nullable=True),
        *_entity(),
        sa.CheckConstraint(
            "years_of_experience IS NULL OR years_of_experience BETWEEN 0 AND 60",
            name=op.f("ck_household_members_experience_range"),
        ),
        sa.CheckConstraint(
            "role = 'child' OR schooling_level IS NULL", name=op.f("ck_household_members_schooling_children_only")
        ),
        sa.CheckConstraint(
            "role <> 'child' OR (cardinality(rome_codes) = 0 AND years_of_experience IS NULL"
            " AND driving_licence IS NULL AND french_level IS NULL AND qualifications IS NULL"
            " AND right_to_work_expiry IS NULL)",
            name=op.f("ck_household_members_profile_adults_only"),
        ),
        sa.CheckConstraint("cardinality(rome_codes) <= 10", name=op.f("ck_household_members_rome_codes_max")),
        _fk("household_members", "household_id", "households", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_members")),
    )
    op.create_index(op.f("ix_household_members_household_id"), "household_members", ["household_id"])
    op.create_index(
        op.f("ix_household_members_identity"),
        "household_members",
        ["last_name_folded", "first_name_folded", "birth_date"],
    )
    op.create_index(
        op.f("ix_household_members_rome_codes"), "household_members", ["rome_codes"], postgresql_using="gin"
    )


def _employers() -> None:
    op.create_table(
        "employers",
        sa.Column("siret", sa.String(length=14), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("trade_name", sa.String(length=200), nullable=True),
        sa.Column("sector", sa.String(length=100), nullable=True),
        sa.Column("sector_folded", sa.String(length=FOLDED_MAX), nullable=True),
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
        *_entity(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employers")),
        sa.UniqueConstraint("siret", name=op.f("uq_employers_siret")),
    )
    op.create_index(op.f("ix_employers_commune_insee"), "employers", ["commune_insee"])
    op.create_index(op.f("ix_employers_sector_folded"), "employers", ["sector_folded"])
    op.create_index(op.f("ix_employers_created_at"), "employers", ["created_at"])

    op.create_table(
        "job_openings",
        sa.Column("employer_id", sa.Uuid(), nullable=False),
        sa.Column("rome_code", sa.String(length=5), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("contract_type", CONTRACT_TYPE, nullable=False),
        sa.Column("hours_per_week", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("monthly_gross_wage", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("open_positions", sa.Integer(), nullable=False),
        sa.Column("hires_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("description", sa.String(length=4000), nullable=True),
        sa.Column("status", JOB_OPENING_STATUS, server_default="open", nullable=False),
        *_entity(),
        sa.CheckConstraint("open_positions >= 1", name=op.f("ck_job_openings_open_positions_positive")),
        sa.CheckConstraint(
            "hires_count >= 0 AND hires_count <= open_positions", name=op.f("ck_job_openings_hires_within_positions")
        ),
        sa.CheckConstraint(
            "monthly_gross_wage IS NULL OR monthly_gross_wage >= 0", name=op.f("ck_job_openings_wage_non_negative")
        ),
        sa.CheckConstraint(
            "hours_per_week IS NULL OR (hours_per_week > 0 AND hours_per_week <= 48)",
            name=op.f("ck_job_openings_hours_range"),
        ),
        _fk("job_openings", "employer_id", "employers", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_openings")),
    )
    op.create_index(op.f("ix_job_openings_employer_id"), "job_openings", ["employer_id"])
    op.create_index(op.f("ix_job_openings_rome_code"), "job_openings", ["rome_code"])
    op.create_index(op.f("ix_job_openings_status"), "job_openings", ["status"])
    op.create_index(op.f("ix_job_openings_created_at"), "job_openings", ["created_at"])

    # ROME reference: written by migrations only, never by the API.
    rome_codes = op.create_table(
        "rome_codes",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("label_folded", sa.String(length=FOLDED_MAX), nullable=False),
        sa.CheckConstraint("code ~ '^[A-N][0-9]{4}$'", name=op.f("ck_rome_codes_code_format")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_rome_codes")),
    )
    op.bulk_insert(
        rome_codes, [{"code": code, "label": label, "label_folded": folded} for code, label, folded in ROME_CODES]
    )


def _housing() -> None:
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
        sa.Column("dpe_class", DPE_CLASS, nullable=True),
        sa.Column("construction_year", sa.Integer(), nullable=True),
        sa.Column("available_from", sa.Date(), nullable=True),
        sa.Column("step_free_access", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("status", UNIT_STATUS, server_default="vacant", nullable=False),
        sa.Column("is_relay", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        # A landlord's snapshot no longer lists a unit the programme holds (reserved/let).
        sa.Column("held_absent_since", sa.DateTime(timezone=True), nullable=True),
        # Last day of a booked relay stay in this relay apartment.
        sa.Column("relay_held_until", sa.Date(), nullable=True),
        *_entity(),
        sa.CheckConstraint("rooms BETWEEN 1 AND 10", name=op.f("ck_housing_units_rooms_range")),
        sa.CheckConstraint("rent >= 0 AND charges >= 0", name=op.f("ck_housing_units_money_non_negative")),
        sa.CheckConstraint("living_area_m2 IS NULL OR living_area_m2 > 0", name=op.f("ck_housing_units_area_positive")),
        sa.CheckConstraint(
            "construction_year IS NULL OR construction_year BETWEEN 1500 AND 2100",
            name=op.f("ck_housing_units_year_range"),
        ),
        sa.CheckConstraint("floor IS NULL OR floor BETWEEN -5 AND 99", name=op.f("ck_housing_units_floor_range")),
        sa.CheckConstraint(
            "(latitude IS NULL OR latitude BETWEEN -90 AND 90) AND (longitude IS NULL OR longitude BETWEEN -180 AND 180)",
            name=op.f("ck_housing_units_coordinates_range"),
        ),
        sa.CheckConstraint("length(btrim(landlord_reference)) > 0", name=op.f("ck_housing_units_reference_not_blank")),
        _fk("housing_units", "landlord_organisation_id", "organisations", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_units")),
        sa.UniqueConstraint(
            "landlord_organisation_id",
            "landlord_reference",
            name=op.f("uq_housing_units_landlord_organisation_id_landlord_reference"),
        ),
    )
    op.create_index(op.f("ix_housing_units_status"), "housing_units", ["status"])
    op.create_index(op.f("ix_housing_units_commune_insee"), "housing_units", ["commune_insee"])


def _pipeline() -> None:
    op.create_table(
        "stage_transitions",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("from_stage", STAGE, nullable=False),
        sa.Column("to_stage", STAGE, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=30), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("note", sa.String(length=4000), nullable=True),
        _id(),
        _fk("stage_transitions", "household_id", "households", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_transitions")),
    )
    op.create_index(op.f("ix_stage_transitions_household_id_at"), "stage_transitions", ["household_id", "at"])

    op.create_table(
        "placements",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("job_opening_id", sa.Uuid(), nullable=False),
        sa.Column("status", PLACEMENT_STATUS, server_default="proposed", nullable=False),
        sa.Column("declined_by", PLACEMENT_PARTY, nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("contract_type", CONTRACT_TYPE, nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("note", sa.String(length=4000), nullable=True),
        *_entity(),
        sa.CheckConstraint(
            "status <> 'hired' OR (contract_type IS NOT NULL AND start_date IS NOT NULL)",
            name=op.f("ck_placements_hired_has_contract"),
        ),
        sa.CheckConstraint(
            "status <> 'declined' OR declined_by IS NOT NULL", name=op.f("ck_placements_declined_has_party")
        ),
        sa.CheckConstraint(
            "declined_by IS NULL OR status = 'declined'", name=op.f("ck_placements_declined_by_only_when_declined")
        ),
        _fk("placements", "household_id", "households", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["member_id"], ["household_members.id"], name=op.f("fk_placements_member_id_household_members")
        ),
        sa.ForeignKeyConstraint(
            ["job_opening_id"], ["job_openings.id"], name=op.f("fk_placements_job_opening_id_job_openings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_placements")),
    )
    op.create_index(op.f("ix_placements_household_id"), "placements", ["household_id"])
    op.create_index(op.f("ix_placements_job_opening_id"), "placements", ["job_opening_id"])
    # One open proposal per adult and opening (pipeline.models.PLACEMENT_OPEN_INDEX, reported as a 409).
    op.create_index(
        op.f("uq_placements_member_opening_open"),
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
        sa.Column("status", RELAY_STAY_STATUS, server_default="booked", nullable=False),
        sa.Column("family_agrees", sa.Boolean(), nullable=True),
        sa.Column("employer_agrees", sa.Boolean(), nullable=True),
        sa.Column("outcome_note", sa.String(length=4000), nullable=True),
        sa.Column("outcome_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        *_entity(),
        sa.CheckConstraint("end_date - start_date BETWEEN 2 AND 4", name=op.f("ck_relay_stays_three_to_five_days")),
        _fk("relay_stays", "household_id", "households", ondelete="CASCADE"),
        _fk("relay_stays", "unit_id", "housing_units"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relay_stays")),
        # No two stays in the same unit on overlapping days, cancelled ones aside (needs btree_gist; reported
        # as a 409: pipeline.models.RELAY_STAY_OVERLAP_CONSTRAINT).
        postgresql.ExcludeConstraint(
            ("unit_id", "="),
            (sa.text("daterange(start_date, end_date, '[]')"), "&&"),
            name=op.f("ex_relay_stays_unit_overlap"),
            using="gist",
            where=sa.text("status <> 'cancelled'"),
        ),
    )
    op.create_index(op.f("ix_relay_stays_household_id"), "relay_stays", ["household_id"])

    op.create_table(
        "housing_allocations",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("status", ALLOCATION_STATUS, server_default="reserved", nullable=False),
        sa.Column("override_reason", sa.String(length=200), nullable=True),
        sa.Column("lease_signed_date", sa.Date(), nullable=True),
        sa.Column("move_in_date", sa.Date(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        *_entity(),
        sa.CheckConstraint(
            "status <> 'lease_signed' OR (lease_signed_date IS NOT NULL AND move_in_date IS NOT NULL)",
            name=op.f("ck_housing_allocations_lease_signed_has_dates"),
        ),
        _fk("housing_allocations", "household_id", "households", ondelete="CASCADE"),
        _fk("housing_allocations", "unit_id", "housing_units"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_allocations")),
    )
    # At most one active (reserved or lease signed) allocation per unit and per household (reported as 409s).
    for name, column in (
        ("uq_housing_allocations_unit_active", "unit_id"),
        ("uq_housing_allocations_household_active", "household_id"),
    ):
        op.create_index(
            op.f(name),
            "housing_allocations",
            [column],
            unique=True,
            postgresql_where=sa.text("status IN ('reserved', 'lease_signed')"),
        )

    op.create_table(
        "follow_up_entries",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("domain", FOLLOW_UP_DOMAIN, nullable=False),
        sa.Column("note", sa.String(length=4000), nullable=False),
        sa.Column("author_kind", sa.String(length=10), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("author_role", sa.String(length=30), nullable=True),
        _id(),
        *_timestamps(),
        _fk("follow_up_entries", "household_id", "households", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_entries")),
    )
    op.create_index(
        op.f("ix_follow_up_entries_household_id_entry_date"), "follow_up_entries", ["household_id", "entry_date"]
    )


def _audit_and_idempotency() -> None:
    # Who read or changed which household's data; details hold field names and codes only.
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
        _id(),
        _fk("audit_events", "household_id", "households", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_household_id_at"), "audit_events", ["household_id", "at"])
    op.create_index(op.f("ix_audit_events_entity"), "audit_events", ["entity_type", "entity_id"])

    # One row per (caller, Idempotency-Key), holding the first response.
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
        sa.PrimaryKeyConstraint("principal_kind", "principal_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"])


# ----------------------------------------------------------------------------------------------- downgrade


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints; children before parents.
    for table in (
        "idempotency_keys",
        "audit_events",
        "follow_up_entries",
        "housing_allocations",
        "relay_stays",
        "placements",
        "stage_transitions",
        "housing_units",
        "rome_codes",
        "job_openings",
        "employers",
        "household_members",
        "households",
        "login_throttle",
        "api_clients",
        "users",
        "organisations",
    ):
        op.drop_table(table)
    op.execute("DROP SEQUENCE household_reference_seq")
    bind = op.get_bind()
    for enum in reversed(ENUMS):
        enum.drop(bind, checkfirst=False)
    # The extensions stay, as before the squash: they may have been created beforehand by a role allowed to
    # (see README), and other objects of the database may use them.
