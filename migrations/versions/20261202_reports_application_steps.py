"""reports: the application's steps inside diagnostic (households.application_status, stage history `kind`), and
the reports' maintained summary (report_households, report_stage_passes, kept by triggers).

Reviewed by hand. Existing households are all `draft`: none is marked as presented (docs/pipeline.md says so), so a
household already in diagnostic needs its application submitted and presented before it can be retained. Existing
stage history rows are all moves (`kind` = move).

Revision ID: 20261202_reports
Revises: 20261202_matching
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261202_reports"
down_revision: str | None = "20261202_matching"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPLICATION_STATUS = postgresql.ENUM("draft", "submitted", "presented", name="application_status", create_type=False)
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
HISTORY_KIND = postgresql.ENUM(
    "move", "application_submitted", "application_presented", name="stage_history_kind", create_type=False
)


def upgrade() -> None:
    APPLICATION_STATUS.create(op.get_bind(), checkfirst=False)
    HISTORY_KIND.create(op.get_bind(), checkfirst=False)
    op.add_column(
        "households", sa.Column("application_status", APPLICATION_STATUS, server_default="draft", nullable=False)
    )
    op.add_column("stage_transitions", sa.Column("kind", HISTORY_KIND, server_default="move", nullable=False))
    op.create_check_constraint(
        op.f("ck_stage_transitions_application_step_in_diagnostic"),
        "stage_transitions",
        "kind = 'move' OR (from_stage = 'diagnostic' AND to_stage = 'diagnostic')",
    )
    op.create_check_constraint(
        op.f("ck_stage_transitions_move_changes_stage"), "stage_transitions", "kind <> 'move' OR from_stage <> to_stage"
    )
    _create_summary()


def downgrade() -> None:
    _drop_summary()
    op.drop_constraint(op.f("ck_stage_transitions_move_changes_stage"), "stage_transitions", type_="check")
    op.drop_constraint(op.f("ck_stage_transitions_application_step_in_diagnostic"), "stage_transitions", type_="check")
    op.drop_column("stage_transitions", "kind")
    op.drop_column("households", "application_status")
    HISTORY_KIND.drop(op.get_bind(), checkfirst=False)
    APPLICATION_STATUS.drop(op.get_bind(), checkfirst=False)


# ----------------------------------------------------------------------------------------- the reports' summary
# report_refresh(ids) recomputes, for these households, their summary row and their completed stage passes from
# the stage history (and the members at the retention date, and the signed leases). Statement-level triggers call
# it with the households a statement touched, so any writer keeps the summary exact in its own transaction. An
# anonymised household keeps its adults and children as they were when it was anonymised.
REFRESH = """
CREATE FUNCTION report_refresh(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM report_stage_passes WHERE household_id = ANY(ids);
    INSERT INTO report_households AS r (household_id, referring_organisation_id, created_at, stage, submitted_at,
        presented_at, retained_at, withdrawn_at, completed_at, left_stage, left_reason, reached_relay_stay,
        reached_lease, reached_follow_up, lease_signed_on, adults, children, anonymised, retained_year,
        submitted_year, withdrawn_year)
    SELECT h.id, h.referring_organisation_id, h.created_at, coalesce(f.last_stage, 'diagnostic'), f.submitted_at,
        f.presented_at, f.retained_at, f.withdrawn_at, f.completed_at, f.left_stage, f.left_reason,
        coalesce(f.reached_relay_stay, false), coalesce(f.reached_lease, false), coalesce(f.reached_follow_up, false),
        l.signed, coalesce(m.adults, 0), coalesce(m.children, 0), h.anonymised_at IS NOT NULL,
        extract(year FROM f.retained_at AT TIME ZONE 'Europe/Paris')::int,
        extract(year FROM f.submitted_at AT TIME ZONE 'Europe/Paris')::int,
        extract(year FROM f.withdrawn_at AT TIME ZONE 'Europe/Paris')::int
    FROM households h
    LEFT JOIN LATERAL (
        SELECT
            min(t.at) FILTER (WHERE t.kind = 'application_submitted') AS submitted_at,
            min(t.at) FILTER (WHERE t.kind = 'application_presented') AS presented_at,
            min(t.at) FILTER (WHERE t.kind = 'move' AND t.from_stage = 'diagnostic' AND t.to_stage = 'matching')
                AS retained_at,
            min(t.at) FILTER (WHERE t.kind = 'move' AND t.to_stage = 'withdrawn') AS withdrawn_at,
            min(t.at) FILTER (WHERE t.kind = 'move' AND t.to_stage = 'completed') AS completed_at,
            min(t.from_stage) FILTER (WHERE t.kind = 'move' AND t.to_stage = 'withdrawn') AS left_stage,
            min(t.reason) FILTER (WHERE t.kind = 'move' AND t.to_stage = 'withdrawn') AS left_reason,
            (array_agg(t.to_stage ORDER BY t.at DESC, t.id DESC) FILTER (WHERE t.kind = 'move'))[1] AS last_stage,
            bool_or(t.kind = 'move' AND t.to_stage = 'relay_stay') AS reached_relay_stay,
            bool_or(t.kind = 'move' AND t.to_stage = 'lease') AS reached_lease,
            bool_or(t.kind = 'move' AND t.to_stage = 'follow_up') AS reached_follow_up
        FROM stage_transitions t WHERE t.household_id = h.id
    ) f ON true
    LEFT JOIN LATERAL (
        SELECT min(a.lease_signed_date) AS signed FROM housing_allocations a
        WHERE a.household_id = h.id AND a.lease_signed_date IS NOT NULL AND a.status IN ('lease_signed', 'ended')
    ) l ON true
    LEFT JOIN LATERAL (
        SELECT
            count(*) FILTER (WHERE mb.birth_date
                <= ((f.retained_at AT TIME ZONE 'Europe/Paris')::date - interval '18 years')::date) AS adults,
            count(*) FILTER (WHERE mb.birth_date
                > ((f.retained_at AT TIME ZONE 'Europe/Paris')::date - interval '18 years')::date) AS children
        FROM household_members mb WHERE mb.household_id = h.id AND f.retained_at IS NOT NULL
    ) m ON true
    WHERE h.id = ANY(ids)
    ON CONFLICT (household_id) DO UPDATE SET
        referring_organisation_id = EXCLUDED.referring_organisation_id, created_at = EXCLUDED.created_at,
        stage = EXCLUDED.stage, submitted_at = EXCLUDED.submitted_at, presented_at = EXCLUDED.presented_at,
        retained_at = EXCLUDED.retained_at, withdrawn_at = EXCLUDED.withdrawn_at,
        completed_at = EXCLUDED.completed_at, left_stage = EXCLUDED.left_stage, left_reason = EXCLUDED.left_reason,
        reached_relay_stay = EXCLUDED.reached_relay_stay, reached_lease = EXCLUDED.reached_lease,
        reached_follow_up = EXCLUDED.reached_follow_up, lease_signed_on = EXCLUDED.lease_signed_on,
        adults = CASE WHEN EXCLUDED.anonymised AND r.anonymised THEN r.adults ELSE EXCLUDED.adults END,
        children = CASE WHEN EXCLUDED.anonymised AND r.anonymised THEN r.children ELSE EXCLUDED.children END,
        anonymised = EXCLUDED.anonymised, retained_year = EXCLUDED.retained_year,
        submitted_year = EXCLUDED.submitted_year, withdrawn_year = EXCLUDED.withdrawn_year;
    INSERT INTO report_stage_passes (household_id, pass_number, stage, days, retained_at, submitted_at,
        retained_year)
    SELECT p.household_id, p.n, p.from_stage,
        greatest(0, floor(extract(epoch FROM p.at - p.entered) / 86400))::int, r.retained_at, r.submitted_at,
        r.retained_year
    FROM (
        SELECT t.household_id, t.from_stage, t.at,
            coalesce(lag(t.at) OVER w, h.created_at) AS entered, row_number() OVER w AS n
        FROM stage_transitions t JOIN households h ON h.id = t.household_id
        WHERE t.household_id = ANY(ids) AND t.kind = 'move'
        WINDOW w AS (PARTITION BY t.household_id ORDER BY t.at, t.id)
    ) p JOIN report_households r ON r.household_id = p.household_id;
END $$
"""

TRIGGER_FUNCTION = """
CREATE FUNCTION report_refresh_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV[0]: the column holding the household id in the changed table (id or household_id).
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

# (table, column holding the household id, events)
WATCHED = [
    ("stage_transitions", "household_id", ("INSERT", "UPDATE", "DELETE")),
    ("households", "id", ("INSERT", "UPDATE")),
    ("household_members", "household_id", ("INSERT", "UPDATE", "DELETE")),
    ("housing_allocations", "household_id", ("INSERT", "UPDATE", "DELETE")),
]
_REFERENCING = {
    "INSERT": "REFERENCING NEW TABLE AS new_rows",
    "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "DELETE": "REFERENCING OLD TABLE AS old_rows",
}


def _create_summary() -> None:
    op.create_table(
        "report_households",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("referring_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage", STAGE, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("presented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retained_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_stage", STAGE, nullable=True),
        sa.Column("left_reason", sa.String(length=40), nullable=True),
        sa.Column("reached_relay_stay", sa.Boolean(), nullable=False),
        sa.Column("reached_lease", sa.Boolean(), nullable=False),
        sa.Column("reached_follow_up", sa.Boolean(), nullable=False),
        sa.Column("lease_signed_on", sa.Date(), nullable=True),
        sa.Column("adults", sa.Integer(), nullable=False),
        sa.Column("children", sa.Integer(), nullable=False),
        sa.Column("anonymised", sa.Boolean(), nullable=False),
        sa.Column("retained_year", sa.Integer(), nullable=True),
        sa.Column("submitted_year", sa.Integer(), nullable=True),
        sa.Column("withdrawn_year", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_report_households_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("household_id", name=op.f("pk_report_households")),
    )
    op.create_table(
        "report_stage_passes",
        sa.Column("household_id", sa.Uuid(), nullable=False),
        sa.Column("pass_number", sa.Integer(), nullable=False),
        sa.Column("stage", STAGE, nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("retained_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retained_year", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_report_stage_passes_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("household_id", "pass_number", name=op.f("pk_report_stage_passes")),
    )
    op.create_index(op.f("ix_housing_allocations_household_id"), "housing_allocations", ["household_id"])
    op.execute(REFRESH)
    op.execute(TRIGGER_FUNCTION)
    for table, column, events in WATCHED:
        for event in events:
            op.execute(
                f"CREATE TRIGGER report_refresh_{event.lower()} AFTER {event} ON {table} {_REFERENCING[event]} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION report_refresh_trigger('{column}')"
            )
    op.execute("SELECT report_refresh(ARRAY(SELECT id FROM households))")


def _drop_summary() -> None:
    for table, _column, events in WATCHED:
        for event in events:
            op.execute(f"DROP TRIGGER report_refresh_{event.lower()} ON {table}")
    op.execute("DROP FUNCTION report_refresh_trigger()")
    op.execute("DROP FUNCTION report_refresh(uuid[])")
    op.drop_index(op.f("ix_housing_allocations_household_id"), table_name="housing_allocations")
    op.drop_table("report_stage_passes")
    op.drop_table("report_households")
