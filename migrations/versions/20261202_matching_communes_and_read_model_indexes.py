"""matching: the communes reference table (loaded from the package's communes.csv) and the read models' indexes.

Reviewed by hand. The communes are read from ``src/toit_emploi_api/reference/communes.csv`` (package data, found
without importing the application); ``name_folded`` uses the frozen copy of ``reference.text.fold`` below, and
tests/matching/test_communes.py checks that the table equals the file folded by the application's ``fold``.
A later change of the file needs its own revision.

Indexes for the suggestions (vacant units by commune, open job openings by ROME code) and the manager's desk
(open placements by last change, relay stays by dates, right-to-work expiry dates).

Revision ID: 20261202_matching
Revises: 20261202_speed
Create Date: 2026-12-02
"""

import csv
import importlib.util
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "20261202_matching"
down_revision: str | None = "20261202_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEPARATORS = "'`\u00b4\u02bc\u2018\u2019\u201b-\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2212_"
_LIGATURES = {"œ": "oe", "æ": "ae", "ø": "o", "ß": "ss", "ł": "l", "đ": "d"}
_FOLD = str.maketrans({**dict.fromkeys(_SEPARATORS, " "), **_LIGATURES})


def _fold(value: str) -> str:
    """Frozen copy of reference.text.fold (2026-12-02)."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.translate(_FOLD).split())


def _communes_csv() -> Path:
    """The package's communes.csv: next to this repository's sources, else in the installed package."""
    local = Path(__file__).resolve().parents[2] / "src" / "toit_emploi_api" / "reference" / "communes.csv"
    if local.exists():
        return local
    spec = importlib.util.find_spec("toit_emploi_api")  # locates the package without running it
    if spec is None or spec.origin is None:
        raise RuntimeError("Cannot find toit_emploi_api/reference/communes.csv")
    return Path(spec.origin).parent / "reference" / "communes.csv"


def upgrade() -> None:
    communes = op.create_table(
        "communes",
        sa.Column("insee_code", sa.String(length=5), nullable=False),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_folded", sa.String(length=400), nullable=False),
        sa.Column("postcodes", sa.ARRAY(sa.String(length=5)), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=False),
        sa.Column("longitude", sa.Double(), nullable=False),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180",
            name=op.f("ck_communes_coordinates_range"),
        ),
        sa.CheckConstraint("insee_code ~ '^([0-9]{2}|2A|2B)[0-9]{3}$'", name=op.f("ck_communes_insee_code_format")),
        sa.PrimaryKeyConstraint("insee_code", name=op.f("pk_communes")),
    )
    op.create_index(op.f("ix_communes_department"), "communes", ["department"])
    op.create_index(op.f("ix_communes_name_folded"), "communes", ["name_folded"])
    with _communes_csv().open(encoding="utf-8", newline="") as handle:
        rows = [
            {
                "insee_code": row["insee_code"],
                "department": row["department"],
                "name": row["name"],
                "name_folded": _fold(row["name"]),
                "postcodes": row["postcodes"].split(),
                "latitude": float(row["lat"]),
                "longitude": float(row["lng"]),
                "population": int(row["population_2021"]),
            }
            for row in csv.DictReader(handle)
        ]
    op.bulk_insert(communes, rows)

    # Read models: suggestions and candidates.
    op.create_index(
        op.f("ix_housing_units_vacant_commune"),
        "housing_units",
        ["commune_insee", "rooms"],
        postgresql_where=sa.text("status = 'vacant' AND NOT is_relay"),
    )
    op.create_index(
        op.f("ix_job_openings_open_rome_code"),
        "job_openings",
        ["rome_code"],
        postgresql_where=sa.text("status = 'open'"),
    )
    # The manager's desk.
    op.create_index(
        op.f("ix_placements_open_updated_at"),
        "placements",
        ["updated_at"],
        postgresql_where=sa.text("status IN ('proposed', 'interview', 'offered')"),
    )
    op.create_index(op.f("ix_relay_stays_start_date"), "relay_stays", ["start_date"])
    op.create_index(op.f("ix_relay_stays_end_date"), "relay_stays", ["end_date"])
    op.create_index(
        op.f("ix_household_members_right_to_work_expiry"),
        "household_members",
        ["right_to_work_expiry"],
        postgresql_where=sa.text("right_to_work_expiry IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_household_members_right_to_work_expiry"), table_name="household_members")
    op.drop_index(op.f("ix_relay_stays_end_date"), table_name="relay_stays")
    op.drop_index(op.f("ix_relay_stays_start_date"), table_name="relay_stays")
    op.drop_index(op.f("ix_placements_open_updated_at"), table_name="placements")
    op.drop_index(op.f("ix_job_openings_open_rome_code"), table_name="job_openings")
    op.drop_index(op.f("ix_housing_units_vacant_commune"), table_name="housing_units")
    op.drop_index(op.f("ix_communes_name_folded"), table_name="communes")
    op.drop_index(op.f("ix_communes_department"), table_name="communes")
    op.drop_table("communes")
