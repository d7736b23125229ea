# ruff: noqa: S608 - the statements are built from the fixed fragments of this module; every value is bound.
"""All SQL of the reports: set-based statements over the stage history, households and members.

What the figures read (so that anonymisation keeps them, docs/reports.md "What the figures read"):
`stage_transitions` (household_id, kind, from_stage, to_stage, at, reason), `households` (id, stage, created_at,
referring_organisation_id), `organisations` (id, kind, name), `household_members` (household_id, birth_date: the
adult/child split at the retention date) and `housing_allocations` (household_id, status, lease_signed_date).
Never a name, a note, a reference.

Each statement aggregates in PostgreSQL and returns one row per (group, figure, cell): a few dozen rows, whatever
the number of households.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.clock import PROGRAMME_TZ

# One row per household with a history: its dated steps. A household is retained once at most (nothing goes back
# to diagnostic) and withdrawn once at most (terminal), so min() picks the one event.
_FACTS = """
facts AS (
    SELECT t.household_id,
        min(t.at) FILTER (WHERE t.kind = 'application_submitted') AS submitted_at,
        min(t.at) FILTER (WHERE t.kind = 'application_presented') AS presented_at,
        min(t.at) FILTER (WHERE t.kind = 'move' AND t.from_stage = 'diagnostic' AND t.to_stage = 'matching')
            AS retained_at,
        min(t.at) FILTER (WHERE t.kind = 'move' AND t.to_stage = 'withdrawn') AS withdrawn_at,
        min(t.from_stage::text) FILTER (WHERE t.kind = 'move' AND t.to_stage = 'withdrawn') AS left_stage,
        min(t.reason) FILTER (WHERE t.kind = 'move' AND t.to_stage = 'withdrawn') AS left_reason
    FROM stage_transitions t
    GROUP BY t.household_id
)"""


def paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=PROGRAMME_TZ)


def _year(column: str) -> str:
    return f"extract(year FROM ({column} AT TIME ZONE 'Europe/Paris'))::int::text"


def _key(group_by: str, column: str) -> str:
    """The group key of a figure dated by `column` (a fixed expression: never user input)."""
    if group_by == "retention_year":
        return _year(column)
    if group_by == "referring_organisation":
        return "org_id::text"
    return "'all'"


def _period(column: str, since: date | None, before: date | None, params: dict[str, Any], prefix: str) -> str:
    clauses = [f"{column} IS NOT NULL"]
    if since is not None:
        params[f"{prefix}_since"] = paris_midnight(since)
        clauses.append(f"{column} >= :{prefix}_since")
    if before is not None:
        params[f"{prefix}_before"] = paris_midnight(before)
        clauses.append(f"{column} < :{prefix}_before")
    return " AND ".join(clauses)


@dataclass(frozen=True)
class Cell:
    """One aggregated count: `figure` (and `cell` for a breakdown) of the group `key`."""

    figure: str
    key: str
    cell: str | None
    count: int


async def programme_cells(
    session: AsyncSession,
    *,
    since: date | None,
    before: date | None,
    organisation_kind: str | None,
    group_by: str,
) -> list[Cell]:
    """Every figure of the programme report, per group: one statement."""
    params: dict[str, Any] = {}
    kind_filter = ""
    if organisation_kind is not None:
        params["kind"] = organisation_kind
        kind_filter = "AND o.kind::text = :kind"
    retained_period = _period("retained_at", since, before, params, "r")
    submitted_period = _period("submitted_at", since, before, params, "s")
    declined_period = _period("withdrawn_at", since, before, params, "d")
    sql = f"""
    WITH {_FACTS},
    sel AS (
        SELECT f.*, h.stage::text AS stage, h.referring_organisation_id AS org_id
        FROM facts f
        JOIN households h ON h.id = f.household_id
        JOIN organisations o ON o.id = h.referring_organisation_id
        WHERE true {kind_filter}
    ),
    retained AS (
        SELECT household_id, retained_at, stage, left_stage, left_reason, {_key(group_by, "retained_at")} AS key
        FROM sel WHERE {retained_period}
    ),
    people AS (
        SELECT r.key,
            count(*) FILTER (
                WHERE m.birth_date <= ((r.retained_at AT TIME ZONE 'Europe/Paris')::date - interval '18 years')::date
            ) AS adults,
            count(*) FILTER (
                WHERE m.birth_date > ((r.retained_at AT TIME ZONE 'Europe/Paris')::date - interval '18 years')::date
            ) AS children
        FROM retained r JOIN household_members m ON m.household_id = r.household_id
        GROUP BY r.key
    )
    SELECT 'applications_submitted', {_key(group_by, "submitted_at")}, NULL, count(*)
        FROM sel WHERE {submitted_period} GROUP BY 2
    UNION ALL
    SELECT 'declined_at_diagnostic', {_key(group_by, "withdrawn_at")}, NULL, count(*)
        FROM sel WHERE left_stage = 'diagnostic' AND {declined_period} GROUP BY 2
    UNION ALL
    SELECT 'households_retained', key, NULL, count(*) FROM retained GROUP BY key
    UNION ALL
    SELECT 'households_installed', key, NULL, count(*) FROM retained
        WHERE stage IN ('lease', 'follow_up', 'completed') GROUP BY key
    UNION ALL
    SELECT 'households_completed', key, NULL, count(*) FROM retained WHERE stage = 'completed' GROUP BY key
    UNION ALL
    SELECT 'households_not_completed', key, NULL, count(*) FROM retained WHERE stage = 'withdrawn' GROUP BY key
    UNION ALL
    SELECT 'households_in_progress', key, NULL, count(*) FROM retained
        WHERE stage IN ('matching', 'relay_stay') GROUP BY key
    UNION ALL
    SELECT 'withdrawals_by_reason', key, coalesce(left_reason, 'other'), count(*) FROM retained
        WHERE stage = 'withdrawn' GROUP BY key, 3
    UNION ALL
    SELECT 'withdrawals_by_stage', key, left_stage, count(*) FROM retained
        WHERE stage = 'withdrawn' AND left_stage IS NOT NULL GROUP BY key, 3
    UNION ALL
    SELECT 'adults', key, NULL, adults FROM people
    UNION ALL
    SELECT 'children', key, NULL, children FROM people
    """
    rows = (await session.execute(text(sql), params)).all()
    return [Cell(str(r[0]), str(r[1]), r[2], int(r[3])) for r in rows]


async def organisation_names(session: AsyncSession, ids: list[str]) -> dict[str, str]:
    """The names of these organisations (group labels)."""
    if not ids:
        return {}
    rows = await session.execute(
        text("SELECT id::text, name FROM organisations WHERE id = ANY(:ids)"), {"ids": [uuid.UUID(i) for i in ids]}
    )
    return {str(r[0]): str(r[1]) for r in rows}


FUNNEL_STEPS = (
    "diagnostic",
    "application_submitted",
    "application_presented",
    "matching",
    "relay_stay",
    "lease",
    "follow_up",
    "completed",
)
"""The funnel's steps, in path order: the cohort, the application's steps, then each stage reached."""


@dataclass(frozen=True)
class FunnelRows:
    reached: list[Cell]
    """figure = the step; key = the group ('all' for the whole cohort)."""
    durations: list[tuple[str, str, int, int | None, int | None, int | None]]
    """(key, stage, passes, median, p75, p90) in whole days."""
    spans: list[tuple[str, str, int, int | None]]
    """(key, span, households, median) in whole days: submission → lease signature, retention → completion."""


def _grouping(by_year: bool, alias: str, extra: tuple[str, ...]) -> tuple[str, str]:
    """(key expression, GROUP BY … HAVING …) for the whole cohort and, `by_year`, one group per year of retention
    (households never retained belong to no year)."""
    plain = ", ".join(extra)
    if not by_year:
        return "'all'", f"GROUP BY ({plain})" if extra else "GROUP BY ()"
    year = _year(f"{alias}.retained_at")
    sets = f"GROUPING SETS (({plain}), ({plain + ', ' if extra else ''}{year}))"
    key = f"CASE WHEN grouping({year}) = 0 THEN {year} ELSE 'all' END"
    return key, f"GROUP BY {sets} HAVING grouping({year}) = 1 OR {year} IS NOT NULL"


async def funnel_rows(
    session: AsyncSession,
    *,
    retained_since: date | None,
    retained_before: date | None,
    submitted_since: date | None,
    submitted_before: date | None,
    by_year: bool,
) -> FunnelRows:
    """Reached per step, stage durations and the two spans of the cohort, for all of it and (`by_year`) per year
    of retention: three statements."""
    params: dict[str, Any] = {}
    clauses = ["true"]
    if retained_since is not None or retained_before is not None:
        clauses.append(_period("f.retained_at", retained_since, retained_before, params, "r"))
    if submitted_since is not None or submitted_before is not None:
        clauses.append(_period("f.submitted_at", submitted_since, submitted_before, params, "s"))
    cohort = f"""
    WITH {_FACTS},
    cohort AS (
        SELECT h.id, h.created_at, f.submitted_at, f.presented_at, f.retained_at
        FROM households h LEFT JOIN facts f ON f.household_id = h.id
        WHERE {" AND ".join(clauses)}
    )"""

    key, grouping = _grouping(by_year, "c", ())
    reached_sql = f"""{cohort},
    reached AS (
        SELECT t.household_id, array_agg(DISTINCT t.to_stage::text) AS stages
        FROM stage_transitions t JOIN cohort c ON c.id = t.household_id
        WHERE t.kind = 'move'
        GROUP BY t.household_id
    )
    SELECT {key} AS key,
        count(*) AS diagnostic,
        count(c.submitted_at) AS application_submitted,
        count(c.presented_at) AS application_presented,
        count(*) FILTER (WHERE 'matching' = ANY(r.stages)) AS matching,
        count(*) FILTER (WHERE 'relay_stay' = ANY(r.stages)) AS relay_stay,
        count(*) FILTER (WHERE 'lease' = ANY(r.stages)) AS lease,
        count(*) FILTER (WHERE 'follow_up' = ANY(r.stages)) AS follow_up,
        count(*) FILTER (WHERE 'completed' = ANY(r.stages)) AS completed
    FROM cohort c LEFT JOIN reached r ON r.household_id = c.id
    {grouping}
    """
    reached: list[Cell] = []
    for row in (await session.execute(text(reached_sql), params)).mappings().all():
        for name in FUNNEL_STEPS:
            reached.append(Cell(name, str(row["key"]), None, int(row[name])))

    # Every completed pass through a stage: from entering it (the previous move, or the household's creation for
    # diagnostic) to leaving it. A step back relay_stay → matching makes two passes of each.
    key, grouping = _grouping(by_year, "p", ("p.stage",))
    durations_sql = f"""{cohort},
    passes AS (
        SELECT c.retained_at, t.from_stage::text AS stage,
            greatest(0, floor(extract(epoch FROM t.at - coalesce(
                lag(t.at) OVER (PARTITION BY t.household_id ORDER BY t.at, t.id), c.created_at)) / 86400))::int
                AS days
        FROM stage_transitions t JOIN cohort c ON c.id = t.household_id
        WHERE t.kind = 'move'
    )
    SELECT {key} AS key, p.stage, count(*),
        percentile_disc(0.5) WITHIN GROUP (ORDER BY p.days),
        percentile_disc(0.75) WITHIN GROUP (ORDER BY p.days),
        percentile_disc(0.9) WITHIN GROUP (ORDER BY p.days)
    FROM passes p
    {grouping}
    """
    durations = [
        (str(r[0]), str(r[1]), int(r[2]), r[3], r[4], r[5])
        for r in (await session.execute(text(durations_sql), params)).all()
    ]

    key, grouping = _grouping(by_year, "s", ("s.span",))
    spans_sql = f"""{cohort},
    lease AS (
        SELECT a.household_id, min(a.lease_signed_date) AS signed
        FROM housing_allocations a JOIN cohort c ON c.id = a.household_id
        WHERE a.lease_signed_date IS NOT NULL AND a.status IN ('lease_signed', 'ended')
        GROUP BY a.household_id
    ),
    completion AS (
        SELECT t.household_id, min(t.at) AS completed_at
        FROM stage_transitions t JOIN cohort c ON c.id = t.household_id
        WHERE t.kind = 'move' AND t.to_stage = 'completed'
        GROUP BY t.household_id
    ),
    spans AS (
        SELECT c.retained_at, 'submission_to_lease' AS span,
            greatest(0, l.signed - (c.submitted_at AT TIME ZONE 'Europe/Paris')::date) AS days
        FROM cohort c JOIN lease l ON l.household_id = c.id WHERE c.submitted_at IS NOT NULL
        UNION ALL
        SELECT c.retained_at, 'retention_to_completion',
            greatest(0, floor(extract(epoch FROM x.completed_at - c.retained_at) / 86400))::int
        FROM cohort c JOIN completion x ON x.household_id = c.id WHERE c.retained_at IS NOT NULL
    )
    SELECT {key} AS key, s.span, count(*), percentile_disc(0.5) WITHIN GROUP (ORDER BY s.days)
    FROM spans s
    {grouping}
    """
    spans = [(str(r[0]), str(r[1]), int(r[2]), r[3]) for r in (await session.execute(text(spans_sql), params)).all()]
    return FunnelRows(reached=reached, durations=durations, spans=spans)
