"""housing: bounds of the housing unit facts enforced by the database too (API and sync validate the same).

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_check_constraint("floor_range", "housing_units", "floor IS NULL OR floor BETWEEN -5 AND 99")
    op.create_check_constraint(
        "coordinates_range",
        "housing_units",
        "(latitude IS NULL OR latitude BETWEEN -90 AND 90) AND (longitude IS NULL OR longitude BETWEEN -180 AND 180)",
    )
    op.create_check_constraint("reference_not_blank", "housing_units", "length(btrim(landlord_reference)) > 0")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_housing_units_reference_not_blank"), "housing_units", type_="check")
    op.drop_constraint(op.f("ck_housing_units_coordinates_range"), "housing_units", type_="check")
    op.drop_constraint(op.f("ck_housing_units_floor_range"), "housing_units", type_="check")
