"""speed: trigram search on members' folded names, keyset pagination of households.

* ``pg_trgm`` (shipped with PostgreSQL's contrib modules; the embedded PostgreSQL 18 has it, an external server needs
  the ``postgresql-contrib`` package or equivalent, and a role allowed to ``CREATE EXTENSION``).
* ``ix_household_members_full_name_trgm``: a GIN trigram index on the folded "first last" name the list's ``q=``
  searches with ``LIKE '%word%'`` (no sequential scan over every member).
* ``ix_households_created_at_id`` / ``ix_households_reference``: (created_at, id) for the default sort's keyset
  pages; the reference is already unique (its unique constraint's index serves the reference sorts).
* ``ix_household_members_household_id_child``: the households with children (the ``has_children`` filter).
"""

from __future__ import annotations

from alembic import op

revision: str = "20261202_speed"
down_revision: str | None = "20261202_privacy"
branch_labels = None
depends_on = None

FULL_NAME = "((first_name_folded || ' ') || last_name_folded)"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        f"CREATE INDEX ix_household_members_full_name_trgm ON household_members USING gin ({FULL_NAME} gin_trgm_ops)"
    )
    op.execute("CREATE INDEX ix_households_created_at_id ON households (created_at, id)")
    op.execute(
        "CREATE INDEX ix_household_members_household_id_child ON household_members (household_id) WHERE role = 'child'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_household_members_household_id_child")
    op.execute("DROP INDEX ix_households_created_at_id")
    op.execute("DROP INDEX ix_household_members_full_name_trgm")
    # The extension stays (as the baseline's do): other objects of the database may use it.
