# ruff: noqa: S608 - the SQL is built from the fixed fragments of this module; no value comes from outside.
"""reports: the aggregated summary (report_household_counts, report_day_counts), kept by triggers on the summary.

Reviewed by hand; names follow the naming convention (wrapped in ``op.f()``). No application import.

`report_refresh(ids)` (migration 20261202_reports) keeps one row per household (`report_households`) and one per
completed stage pass (`report_stage_passes`). This migration adds two tables of counts over them, at the grain the
reports group and filter by (years of the dated steps, organisation, outcome; days), and statement-level triggers on
the two summary tables that add each statement's net change to the counts: whatever changes the summary (a refresh,
a cascade from a deleted household) keeps the counts exact in the same transaction. Deltas are applied in key
order, and a count that falls to zero is deleted. Both tables are filled from the summary at upgrade.

Revision ID: 20261202_reports_counts
Revises: 20261202_webhooks
Create Date: 2026-12-02
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261202_reports_counts"
down_revision: str | None = "20261202_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGE = postgresql.ENUM(
    "diagnostic",
    "matching",
    "relay_stay",
    "lease",
    "follow_up",
    "completed",
    "withdrawn",
    name="stage",
    create_type=False,
)

# The grain of report_household_counts, as computed from a report_households row `c`.
HOUSEHOLD_GRAIN = {
    "referring_organisation_id": "c.referring_organisation_id",
    "retained_year": "c.retained_year",
    "submitted_year": "c.submitted_year",
    "withdrawn_year": "c.withdrawn_year",
    "stage": "c.stage",
    "left_stage": "c.left_stage",
    "left_reason": "c.left_reason",
    "presented": "c.presented_at IS NOT NULL",
    "reached_relay_stay": "c.reached_relay_stay",
    "reached_lease": "c.reached_lease",
    "reached_follow_up": "c.reached_follow_up",
    "completed": "c.completed_at IS NOT NULL",
}
# The days a report_households row `c` contributes to report_day_counts: the two spans of the funnel.
HOUSEHOLD_DAYS = """
    SELECT c.sign, c.retained_year, c.submitted_year, 'submission_to_lease' AS measure,
        greatest(0, c.lease_signed_on - (c.submitted_at AT TIME ZONE 'Europe/Paris')::date) AS days
    FROM changes c WHERE c.lease_signed_on IS NOT NULL AND c.submitted_at IS NOT NULL
    UNION ALL
    SELECT c.sign, c.retained_year, c.submitted_year, 'retention_to_completion',
        greatest(0, floor(extract(epoch FROM c.completed_at - c.retained_at) / 86400))::int
    FROM changes c WHERE c.completed_at IS NOT NULL AND c.retained_at IS NOT NULL
"""
# The days a report_stage_passes row `c` contributes: its stage's pass (the submission year from its household).
PASS_DAYS = """
    SELECT c.sign, c.retained_year, extract(year FROM c.submitted_at AT TIME ZONE 'Europe/Paris')::int,
        c.stage::text, c.days
    FROM changes c
"""


def _add_households(changes: str) -> str:
    """The statements adding the net change of `changes` (sign, report_households.*) to both count tables."""
    grain = ", ".join(HOUSEHOLD_GRAIN)
    computed = ", ".join(f"{expression} AS {name}" for name, expression in HOUSEHOLD_GRAIN.items())
    positions = ", ".join(str(i) for i in range(1, len(HOUSEHOLD_GRAIN) + 1))
    return f"""
    WITH changes AS ({changes}),
    delta AS (
        SELECT {computed}, sum(c.sign)::int AS households, sum(c.sign * c.adults)::int AS adults,
            sum(c.sign * c.children)::int AS children
        FROM changes c GROUP BY {positions}
    ),
    applied AS (
        INSERT INTO report_household_counts AS a ({grain}, households, adults, children)
        SELECT * FROM delta d WHERE (d.households, d.adults, d.children) <> (0, 0, 0) ORDER BY {positions}
        ON CONFLICT ON CONSTRAINT uq_report_household_counts_grain DO UPDATE SET
            households = a.households + EXCLUDED.households, adults = a.adults + EXCLUDED.adults,
            children = a.children + EXCLUDED.children
        RETURNING a.id, a.households
    )
    SELECT array_agg(id) INTO zero FROM applied WHERE households = 0;
    DELETE FROM report_household_counts WHERE id = ANY(zero);
    {_add_days(changes, HOUSEHOLD_DAYS)}
    """


def _add_days(changes: str, days: str) -> str:
    return f"""
    WITH changes AS ({changes}),
    delta AS (SELECT d.* FROM (
        SELECT retained_year, submitted_year, measure, days, sum(sign)::int AS n FROM ({days}) s(sign, retained_year,
            submitted_year, measure, days)
        GROUP BY 1, 2, 3, 4) d WHERE d.n <> 0),
    applied AS (
        INSERT INTO report_day_counts AS a (retained_year, submitted_year, measure, days, n)
        SELECT * FROM delta ORDER BY 1, 2, 3, 4
        ON CONFLICT ON CONSTRAINT uq_report_day_counts_grain DO UPDATE SET n = a.n + EXCLUDED.n
        RETURNING a.id, a.n
    )
    SELECT array_agg(id) INTO zero FROM applied WHERE n = 0;
    DELETE FROM report_day_counts WHERE id = ANY(zero);
    """


_CHANGES = {
    "INSERT": "SELECT 1 AS sign, n.* FROM new_rows n",
    "UPDATE": "SELECT -1 AS sign, o.* FROM old_rows o UNION ALL SELECT 1, n.* FROM new_rows n",
    "DELETE": "SELECT -1 AS sign, o.* FROM old_rows o",
}
_REFERENCING = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}
# (summary table, trigger function, its statements for the changes of one statement)
COUNTED: list[tuple[str, str, Callable[[str], str]]] = [
    ("report_households", "report_count_households", _add_households),
    ("report_stage_passes", "report_count_passes", lambda changes: _add_days(changes, PASS_DAYS)),
]


def _trigger_function(name: str, statements: Callable[[str], str]) -> str:
    branches = "\n    ELSIF ".join(
        f"TG_OP = '{event}' THEN {statements(changes)}" for event, changes in _CHANGES.items()
    )
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE zero bigint[];
BEGIN
    IF {branches}
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "report_household_counts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("referring_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("retained_year", sa.Integer(), nullable=True),
        sa.Column("submitted_year", sa.Integer(), nullable=True),
        sa.Column("withdrawn_year", sa.Integer(), nullable=True),
        sa.Column("stage", STAGE, nullable=False),
        sa.Column("left_stage", STAGE, nullable=True),
        sa.Column("left_reason", sa.String(length=40), nullable=True),
        sa.Column("presented", sa.Boolean(), nullable=False),
        sa.Column("reached_relay_stay", sa.Boolean(), nullable=False),
        sa.Column("reached_lease", sa.Boolean(), nullable=False),
        sa.Column("reached_follow_up", sa.Boolean(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("adults", sa.Integer(), nullable=False),
        sa.Column("children", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_household_counts")),
        sa.UniqueConstraint(
            *HOUSEHOLD_GRAIN, name=op.f("uq_report_household_counts_grain"), postgresql_nulls_not_distinct=True
        ),
    )
    op.create_table(
        "report_day_counts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("retained_year", sa.Integer(), nullable=True),
        sa.Column("submitted_year", sa.Integer(), nullable=True),
        sa.Column("measure", sa.String(length=30), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_day_counts")),
        sa.UniqueConstraint(
            "retained_year",
            "submitted_year",
            "measure",
            "days",
            name=op.f("uq_report_day_counts_grain"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    for table, function, statements in COUNTED:
        op.execute(_trigger_function(function, statements))
        for event, referencing in _REFERENCING.items():
            op.execute(
                f"CREATE TRIGGER report_count_{event.lower()} AFTER {event} ON {table} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    # The counts of what the summary holds now: the same statements, every row counted once.
    op.execute(
        "DO $$ DECLARE zero bigint[]; BEGIN "
        + _add_households("SELECT 1 AS sign, r.* FROM report_households r")
        + _add_days("SELECT 1 AS sign, p.* FROM report_stage_passes p", PASS_DAYS)
        + " END $$"
    )


def downgrade() -> None:
    for table, function, _statements in COUNTED:
        for event in _REFERENCING:
            op.execute(f"DROP TRIGGER report_count_{event.lower()} ON {table}")
        op.execute(f"DROP FUNCTION {function}()")
    op.drop_table("report_day_counts")
    op.drop_table("report_household_counts")
