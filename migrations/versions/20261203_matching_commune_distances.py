"""matching: the great-circle distance between every two communes of the reference within 30 km, precomputed.

Reviewed by hand. ``commune_distances`` holds one row per ordered pair (both directions, and each commune with
itself at 0) of communes at most 30 km apart: ``km10`` is the haversine distance between their coordinates in tenths
of a km, rounded to an integer, the expression below (the same as ``reference.communes.distance_km_sql``, written
out here so that the migration imports no application code). The suggestions read it instead of computing the
trigonometry for every pair of communes of a request; a commute limit above 30 km falls back to the computation.
tests/matching/test_communes.py checks that the table equals the computation over the ``communes`` table.
About 250,000 rows; filled in about a second by one INSERT … SELECT (a bounding box first: 0.3° of latitude is
33 km, 0.5° of longitude at least 33 km in France).

Revision ID: 20261203_matching_distances
Revises: 20261202_privacy_refresh
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261203_matching_distances"
down_revision: str | None = "20261202_privacy_refresh"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_KM = 30
EARTH_RADIUS_KM = 6371.0088
_HAVERSINE = (
    "power(sin(radians(b.latitude - a.latitude) / 2), 2)"
    " + cos(radians(a.latitude)) * cos(radians(b.latitude)) * power(sin(radians(b.longitude - a.longitude) / 2), 2)"
)
_KM = f"({2 * EARTH_RADIUS_KM} * asin(least(1.0, sqrt({_HAVERSINE}))))"


def upgrade() -> None:
    # Rows first, then the key, the checks and the index: one pass each instead of a check per inserted row.
    op.create_table(
        "commune_distances",
        sa.Column("from_insee", sa.String(length=5), nullable=False),
        sa.Column("to_insee", sa.String(length=5), nullable=False),
        sa.Column("km10", sa.Integer(), nullable=False),
    )
    op.execute(
        f"""INSERT INTO commune_distances (from_insee, to_insee, km10)
        SELECT from_insee, to_insee, km10 FROM (
            SELECT a.insee_code AS from_insee, b.insee_code AS to_insee, round(10 * {_KM})::int AS km10
            FROM communes a JOIN communes b
              ON abs(a.latitude - b.latitude) <= 0.3 AND abs(a.longitude - b.longitude) <= 0.5
        ) d
        WHERE km10 <= {TABLE_KM * 10}"""  # noqa: S608 - module constants only
    )
    op.create_primary_key(op.f("pk_commune_distances"), "commune_distances", ["from_insee", "to_insee"])
    op.create_check_constraint(
        op.f("ck_commune_distances_km10_range"), "commune_distances", f"km10 BETWEEN 0 AND {TABLE_KM * 10}"
    )
    for column in ("from_insee", "to_insee"):
        op.create_foreign_key(
            op.f(f"fk_commune_distances_{column}_communes"),
            "commune_distances",
            "communes",
            [column],
            ["insee_code"],
            ondelete="CASCADE",
        )
    # The suggestions' lookup: the communes within a distance of one commune, read from the index alone.
    op.create_index(
        op.f("ix_commune_distances_from_insee_km10_to_insee"), "commune_distances", ["from_insee", "km10", "to_insee"]
    )
    op.execute("ANALYZE commune_distances")


def downgrade() -> None:
    op.drop_index(op.f("ix_commune_distances_from_insee_km10_to_insee"), table_name="commune_distances")
    op.drop_table("commune_distances")
