"""privacy: the reports' summary refreshed once per anonymisation batch, not once per statement.

`report_refresh_trigger()` (the statement-level triggers on stage_transitions, households, household_members and
housing_allocations that keep `report_households` exact) returns at once inside a transaction that set
`toit_emploi.report_refresh_deferred` to `on` (`set_config(..., true)`: transaction-local). Only the retention
job's anonymisation sets it, and it then calls `report_refresh(<the batch's ids>)` itself, once, after its
statements: the summary stays exact, computed from the anonymised rows, for a third of the work.

Reviewed by hand; no table, column, index or constraint changes. No application import.

Revision ID: 20261202_privacy_refresh
Revises: 20261202_reports_counts
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261202_privacy_refresh"
down_revision: str | None = "20261202_reports_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BODY = """
CREATE OR REPLACE FUNCTION report_refresh_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {deferred}-- TG_ARGV[0]: the column holding the household id in the changed table (id or household_id).
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('SELECT report_refresh(ARRAY(SELECT DISTINCT %I FROM new_rows))', TG_ARGV[0]);
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT report_refresh(ARRAY(SELECT DISTINCT %I FROM old_rows))', TG_ARGV[0]);
    ELSE
        EXECUTE format(
            'SELECT report_refresh(ARRAY(SELECT %1$I FROM new_rows UNION SELECT %1$I FROM old_rows))', TG_ARGV[0]
        );
    END IF;
    RETURN NULL;
END $$
"""

_DEFERRED = """-- The retention job's anonymisation refreshes the summary itself, once per batch (privacy.repository).
    IF current_setting('toit_emploi.report_refresh_deferred', true) = 'on' THEN
        RETURN NULL;
    END IF;
    """


def upgrade() -> None:
    op.execute(_BODY.replace("{deferred}", _DEFERRED))


def downgrade() -> None:
    op.execute(_BODY.replace("{deferred}", ""))
