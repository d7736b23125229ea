# ruff: noqa: S608 - the statements are built from the fixed fragments of this module; every value is bound.
"""All SQL of the reports: set-based statements over the stage history, households and members.

The reports read the maintained summary (`reports.models`: `report_households`, `report_stage_passes`, kept by
triggers from `stage_transitions`, `households`, `household_members` and `housing_allocations`) and, for groups and
filters by organisation, `organisations` (id, kind, name). Never a name, a note, a reference.

Each statement aggregates in PostgreSQL and returns a few hundred rows at most (counts per group and outcome, or
per number of days), whatever the number of households.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.clock import PROGRAMME_TZ


def paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=PROGRAMME_TZ)


def _key(group_by: str, column: str) -> str:
    """The group key of a figure dated by `column` (a fixed expression: never user input): its stored year."""
    if group_by == "retention_year":
        return column.replace("_at", "_year")
    if group_by == "referring_organisation":
        return "r.referring_organisation_id"
    return "NULL::int"


def _period(column: str, since: date | None, before: date | None, params: dict[str, Any], prefix: str) -> str:
    clauses = [f"{column} IS NOT NULL"]
    if since is not None:
        params[f"{prefix}_since"] = paris_midnight(since)
        clauses.append(f"{column} >= :{prefix}_since")
    if before is not None:
        params[f"{prefix}_before"] = paris_midnight(before)
        clauses.append(f"{column} < :{prefix}_before")
    return "(" + " AND ".join(clauses) + ")"


def _live_only(alias: str, include_imported: bool) -> str:
    """`include_imported=False`: leave out the households of a history import (their `import_id` is set)."""
    if include_imported:
        return "true"
    return f"NOT EXISTS (SELECT 1 FROM households ih WHERE ih.id = {alias}.household_id AND ih.import_id IS NOT NULL)"


@dataclass(frozen=True)
class Cell:
    """One aggregated count: `figure` (and `cell` for a breakdown) of the group `key`."""

    figure: str
    key: str
    cell: str | None
    count: int


INSTALLED = ("lease", "follow_up", "completed")
IN_PROGRESS = ("matching", "relay_stay")


async def programme_cells(
    session: AsyncSession,
    *,
    since: date | None,
    before: date | None,
    organisation_kind: str | None,
    group_by: str,
    include_imported: bool = True,
) -> list[Cell]:
    """Every figure of the programme report, per group: one statement over the summary, grouped by the figures'
    dates and outcomes (a few hundred rows), folded here into cells."""
    params: dict[str, Any] = {}
    join = ""
    if organisation_kind is not None:
        params["kind"] = organisation_kind
        join = "JOIN organisations o ON o.id = r.referring_organisation_id AND o.kind::text = :kind"
    retained = _period("r.retained_at", since, before, params, "r")
    submitted = _period("r.submitted_at", since, before, params, "s")
    withdrawn = _period("r.withdrawn_at", since, before, params, "d")
    rk, sk, wk = (_key(group_by, f"r.{c}_at") for c in ("retained", "submitted", "withdrawn"))
    # One scan, three groupings (hashed together): the retained households by group and outcome, the submissions
    # by group, the withdrawals by group and stage left.
    sql = f"""
    SELECT CASE WHEN grouping(r.stage) = 0 THEN 'r' WHEN grouping(r.left_stage) = 0 THEN 'w' ELSE 's' END,
        {rk}, {sk}, {wk}, r.stage::text, r.left_stage::text, r.left_reason,
        count(*) FILTER (WHERE {retained}), sum(r.adults) FILTER (WHERE {retained}),
        sum(r.children) FILTER (WHERE {retained}), count(*) FILTER (WHERE {submitted}),
        count(*) FILTER (WHERE {withdrawn} AND r.left_stage = 'diagnostic')
    FROM report_households r {join}
    WHERE ({retained} OR {submitted} OR {withdrawn}) AND {_live_only("r", include_imported)}
    GROUP BY GROUPING SETS (({rk}, r.stage, r.left_stage, r.left_reason), ({sk}), ({wk}, r.left_stage))
    """
    counts: dict[tuple[str, str, str | None], int] = defaultdict(int)
    for row in (await session.execute(text(sql), params)).all():
        part = row[0]
        keys = [str(k) if k is not None else "all" for k in row[1:4]]
        stage, left_stage, left_reason, n, adults, children, submitted_n, declined_n = row[4:]
        if part == "s":
            if submitted_n:
                counts["applications_submitted", keys[1], None] += int(submitted_n)
            continue
        if part == "w":
            if declined_n:
                counts["declined_at_diagnostic", keys[2], None] += int(declined_n)
            continue
        if not n:
            continue
        key = keys[0]
        counts["households_retained", key, None] += n
        counts["adults", key, None] += int(adults)
        counts["children", key, None] += int(children)
        if stage in INSTALLED:
            counts["households_installed", key, None] += n
        if stage == "completed":
            counts["households_completed", key, None] += n
        if stage in IN_PROGRESS:
            counts["households_in_progress", key, None] += n
        if stage == "withdrawn":
            counts["households_not_completed", key, None] += n
            counts["withdrawals_by_reason", key, left_reason or "other"] += n
            if left_stage is not None:
                counts["withdrawals_by_stage", key, left_stage] += n
    return [Cell(figure, key, cell, n) for (figure, key, cell), n in counts.items()]


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

Histogram = dict[int, int]
"""Whole days → how many passes (or households) took that long."""


@dataclass(frozen=True)
class FunnelRows:
    reached: list[Cell]
    """figure = the step; key = the group ('all' for the whole cohort)."""
    durations: dict[tuple[str, str], Histogram]
    """(key, stage) → the days of its completed passes."""
    spans: dict[tuple[str, str], Histogram]
    """(key, span) → days: submission_to_lease, retention_to_completion."""


def _grouping(by_year: bool, retained: str, extra: tuple[str, ...]) -> tuple[str, str]:
    """(key expression, GROUP BY …): the whole cohort, or (`by_year`) one group per year of retention, `none` for the
    households never retained; the whole cohort's figures are then the sum of the groups (`_with_totals`)."""
    plain = ", ".join(extra)
    if not by_year:
        return "'all'", f"GROUP BY ({plain})" if extra else "GROUP BY ()"
    year = retained.replace("_at", "_year")
    return f"coalesce({year}::text, 'none')", f"GROUP BY {plain + ', ' if extra else ''}{year}"


def _with_totals(histograms: dict[tuple[str, str], Histogram]) -> dict[tuple[str, str], Histogram]:
    """Adds the `all` histograms (the sum over every group) and drops the `none` group."""
    out: dict[tuple[str, str], Histogram] = {}
    for (key, name), histogram in histograms.items():
        total = out.setdefault(("all", name), {})
        for days, n in histogram.items():
            total[days] = total.get(days, 0) + n
        if key not in ("all", "none"):
            out[key, name] = histogram
    return out


async def funnel_rows(
    session: AsyncSession,
    *,
    retained_since: date | None,
    retained_before: date | None,
    submitted_since: date | None,
    submitted_before: date | None,
    by_year: bool,
    include_imported: bool = True,
) -> FunnelRows:
    """Reached per step, the histograms of stage durations and of the two spans, for the whole cohort and
    (`by_year`) per year of retention: three statements over the summary."""
    params: dict[str, Any] = {}

    def cohort(alias: str) -> str:
        clauses = [_live_only(alias, include_imported)]
        if retained_since is not None or retained_before is not None:
            clauses.append(_period(f"{alias}.retained_at", retained_since, retained_before, params, "r"))
        if submitted_since is not None or submitted_before is not None:
            clauses.append(_period(f"{alias}.submitted_at", submitted_since, submitted_before, params, "s"))
        return " AND ".join(clauses)

    key, grouping = _grouping(by_year, "c.retained_at", ())
    reached_sql = f"""
    SELECT {key} AS key,
        count(*) AS diagnostic,
        count(c.submitted_at) AS application_submitted,
        count(c.presented_at) AS application_presented,
        count(c.retained_at) AS matching,
        count(*) FILTER (WHERE c.reached_relay_stay) AS relay_stay,
        count(*) FILTER (WHERE c.reached_lease) AS lease,
        count(*) FILTER (WHERE c.reached_follow_up) AS follow_up,
        count(c.completed_at) AS completed
    FROM report_households c
    WHERE {cohort("c")}
    {grouping}
    """
    reached: list[Cell] = []
    totals: dict[str, int] = dict.fromkeys(FUNNEL_STEPS, 0)
    for row in (await session.execute(text(reached_sql), params)).mappings().all():
        for name in FUNNEL_STEPS:
            totals[name] += int(row[name])
            if row["key"] not in ("all", "none"):
                reached.append(Cell(name, str(row["key"]), None, int(row[name])))
    reached += [Cell(name, "all", None, count) for name, count in totals.items()]

    key, grouping = _grouping(by_year, "p.retained_at", ("p.stage", "p.days"))
    durations_sql = f"""
    SELECT {key}, p.stage::text, p.days, count(*) FROM report_stage_passes p WHERE {cohort("p")} {grouping}
    """
    durations: dict[tuple[str, str], Histogram] = defaultdict(dict)
    for k, stage, days, n in (await session.execute(text(durations_sql), params)).all():
        durations[str(k), str(stage)][int(days)] = int(n)

    key, grouping = _grouping(by_year, "s.retained_at", ("s.span", "s.days"))
    spans_sql = f"""
    WITH spans AS (
        SELECT c.retained_year, 'submission_to_lease' AS span,
            greatest(0, c.lease_signed_on - (c.submitted_at AT TIME ZONE 'Europe/Paris')::date) AS days
        FROM report_households c
        WHERE c.lease_signed_on IS NOT NULL AND c.submitted_at IS NOT NULL AND {cohort("c")}
        UNION ALL
        SELECT c.retained_year, 'retention_to_completion',
            greatest(0, floor(extract(epoch FROM c.completed_at - c.retained_at) / 86400))::int
        FROM report_households c
        WHERE c.completed_at IS NOT NULL AND c.retained_at IS NOT NULL AND {cohort("c")}
    )
    SELECT {key}, s.span, s.days, count(*) FROM spans s {grouping}
    """
    spans: dict[tuple[str, str], Histogram] = defaultdict(dict)
    for k, span, days, n in (await session.execute(text(spans_sql), params)).all():
        spans[str(k), str(span)][int(days)] = int(n)
    return FunnelRows(reached=reached, durations=_with_totals(durations), spans=_with_totals(spans))


def nearest_rank(histogram: Histogram, share: float) -> int | None:
    """The smallest value whose cumulative share of the counts reaches `share` (PostgreSQL's percentile_disc)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    running = 0
    for value in sorted(histogram):
        running += histogram[value]
        if running >= share * total:
            return value
    return max(histogram)
