"""privacy: the audit trail append-only and readable, retention's index.

- `audit_events` loses its foreign key to `households` (the trail outlives a deleted household: its id stays),
  gains `request_id` (the HTTP request that made the event) and `household_ids` (the households a list or an
  export showed, GIN-indexed for a household's access log), and indexes for the admin's filters.
- A trigger makes `audit_events` append-only: UPDATE and DELETE are refused, except an UPDATE that changes only
  `details` inside a transaction where the retention job set `toit_emploi.audit_anonymising` to `on`
  (`set_config(..., true)`: transaction-local).
- `households`: a partial index on `last_contact_date` of the files not yet anonymised (the retention due list).

Revision ID: 20261202_privacy
Revises: 20261202_baseline
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261202_privacy"
down_revision: str | None = "20261202_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEPT_COLUMNS = (
    "id",
    "at",
    "actor_kind",
    "actor_id",
    "actor_role",
    "actor_organisation_id",
    "action",
    "entity_type",
    "entity_id",
    "household_id",
    "request_id",
    "household_ids",
)
_NEW = ", ".join(f"NEW.{c}" for c in _KEPT_COLUMNS)
_OLD = ", ".join(f"OLD.{c}" for c in _KEPT_COLUMNS)

APPEND_ONLY_FUNCTION = f"""
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND coalesce(current_setting('toit_emploi.audit_anonymising', true), '') = 'on'
       AND ROW({_NEW}) IS NOT DISTINCT FROM ROW({_OLD}) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.drop_constraint(op.f("fk_audit_events_household_id_households"), "audit_events", type_="foreignkey")
    op.add_column("audit_events", sa.Column("request_id", sa.String(length=64), nullable=True))
    op.add_column("audit_events", sa.Column("household_ids", postgresql.ARRAY(sa.Uuid()), nullable=True))
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"])
    op.create_index(op.f("ix_audit_events_actor_id_at"), "audit_events", ["actor_id", "at"])
    op.create_index(op.f("ix_audit_events_household_ids"), "audit_events", ["household_ids"], postgresql_using="gin")
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    )
    op.create_index(
        op.f("ix_households_last_contact_date"),
        "households",
        ["last_contact_date"],
        postgresql_where=sa.text("anonymised_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_households_last_contact_date"), table_name="households")
    op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
    op.execute("DROP FUNCTION audit_events_append_only()")
    op.drop_index(op.f("ix_audit_events_household_ids"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_actor_id_at"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_at"), table_name="audit_events")
    op.drop_column("audit_events", "household_ids")
    op.drop_column("audit_events", "request_id")
    # Events of households deleted since keep no id under the foreign key.
    op.execute(
        "UPDATE audit_events SET household_id = NULL WHERE household_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM households h WHERE h.id = audit_events.household_id)"
    )
    op.create_foreign_key(
        op.f("fk_audit_events_household_id_households"),
        "audit_events",
        "households",
        ["household_id"],
        ["id"],
        ondelete="SET NULL",
    )
