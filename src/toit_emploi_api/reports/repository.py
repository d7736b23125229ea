# ruff: noqa: S608 - the statements are built from the fixed fragments of this module; every value is bound.
"""All SQL of the reports: set-based statements over the reports' maintained summary.

The summary (`reports.models`, kept by triggers from `stage_transitions`, `households`, `household_members` and
`housing_allocations`) has two levels: one row per household and per completed stage pass (`report_households`,
`report_stage_passes`), and their counts per grain (`report_household_counts`: years of the dated steps,
organisation, outcome; `report_day_counts`: years, stage or span, whole days). A query whose periods are whole years
(every bound on 1 January, or none: the common case) reads the counts, a few thousand rows; any other period reads
the rows per household, compared on the instants. Both give the same figures (tests/reports). Groups and filters by
organisation also read `organisations` (id, kind, name). Never a name, a note, a reference.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.clock import paris_midnight
from toit_emploi_api.core.enums import sql_literal
from toit_emploi_api.vocab.stages import Stage


@dataclass(frozen=True)
class Source:
    """Where the counts are read. Both relations have the columns of the aggregated summary
    (`report_household_counts`, `report_day_counts`), so one statement reads either."""

    households: str
    days: str
    exact: bool
    """True: periods compare the instants (`*_at`); False: the Paris years (`*_year`)."""


AGGREGATED = Source("report_household_counts", "report_day_counts", exact=False)
"""The counts per grain (years, organisation, outcome; days): a few thousand rows."""


def _per_household(include_imported: bool) -> Source:
    """One row per household and per pass; `include_imported=False` leaves out the households of a history import
    (their `import_id` is set), which the aggregated counts cannot tell apart."""
    live = "" if include_imported else " AND ih.import_id IS NULL"
    of = ("JOIN households ih ON ih.id = {}.household_id" + live) if live else ""
    return Source(
        households=f"""(
        SELECT r.*, 1 AS households, r.presented_at IS NOT NULL AS presented, r.completed_at IS NOT NULL AS completed
        FROM report_households r {of.format("r")})""",
        days=f"""(
        SELECT p.retained_year, p.retained_at, p.submitted_at, p.stage::text AS measure, p.days, 1 AS n
        FROM report_stage_passes p {of.format("p")}
        UNION ALL
        SELECT c.retained_year, c.retained_at, c.submitted_at, 'submission_to_lease',
            greatest(0, c.lease_signed_on - (c.submitted_at AT TIME ZONE 'Europe/Paris')::date), 1
        FROM report_households c {of.format("c")} WHERE c.lease_signed_on IS NOT NULL AND c.submitted_at IS NOT NULL
        UNION ALL
        SELECT c.retained_year, c.retained_at, c.submitted_at, 'retention_to_completion',
            greatest(0, floor(extract(epoch FROM c.completed_at - c.retained_at) / 86400))::int, 1
        FROM report_households c {of.format("c")} WHERE c.completed_at IS NOT NULL AND c.retained_at IS NOT NULL)""",
        exact=True,
    )


PER_HOUSEHOLD = _per_household(include_imported=True)
"""The periods that do not start and end on 1 January."""
LIVE_ONLY = _per_household(include_imported=False)
"""Without the imported history (any period)."""


def source(*bounds: date | None, include_imported: bool = True) -> Source:
    """The aggregated summary when every bound of the query is 1 January (a whole number of years: exact at year
    grain), or absent; else, or without the imported history, the per-household summary."""
    if not include_imported:
        return LIVE_ONLY
    if all(b is None or (b.month, b.day) == (1, 1) for b in bounds):
        return AGGREGATED
    return PER_HOUSEHOLD


def _key(group_by: str, step: str) -> str:
    """The group key of a figure dated by `step` (a fixed prefix such as `r.retained`: never user input)."""
    if group_by == "retention_year":
        return f"{step}_year"
    if group_by == "referring_organisation":
        return "r.referring_organisation_id"
    return "NULL::int"


class _Periods:
    """The bound values of a statement's periods, each compared on the instants or the years of the source."""

    def __init__(self, src: Source) -> None:
        self.exact = src.exact
        self.params: dict[str, Any] = {}

    def __call__(self, step: str, since: date | None, before: date | None) -> str:
        """`step` (`r.retained`) in [since, before): a Paris date on or after `since`, strictly before `before`."""
        column = f"{step}_at" if self.exact else f"{step}_year"
        clauses = [f"{column} IS NOT NULL"]
        for bound, op in ((since, ">="), (before, "<")):
            if bound is not None:
                name = f"p{len(self.params)}"
                self.params[name] = paris_midnight(bound) if self.exact else bound.year
                clauses.append(f"{column} {op} :{name}")
        return "(" + " AND ".join(clauses) + ")"


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
    """Every figure of the programme report, per group: one statement over the summary (aggregated when the period
    is whole years), grouped by the figures' dates and outcomes (a few hundred rows), folded here into cells."""
    src = source(since, before, include_imported=include_imported)
    period = _Periods(src)
    join = ""
    if organisation_kind is not None:
        period.params["kind"] = organisation_kind
        join = "JOIN organisations o ON o.id = r.referring_organisation_id AND o.kind::text = :kind"
    retained, submitted, withdrawn = (
        period(f"r.{step}", since, before) for step in ("retained", "submitted", "withdrawn")
    )
    rk, sk, wk = (_key(group_by, f"r.{step}") for step in ("retained", "submitted", "withdrawn"))
    # One scan, three groupings (hashed together): the retained households by group and outcome, the submissions
    # by group, the withdrawals by group and stage left.
    sql = f"""
    SELECT CASE WHEN grouping(r.stage) = 0 THEN 'r' WHEN grouping(r.left_stage) = 0 THEN 'w' ELSE 's' END,
        {rk}, {sk}, {wk}, r.stage::text, r.left_stage::text, r.left_reason,
        sum(r.households) FILTER (WHERE {retained}), sum(r.adults) FILTER (WHERE {retained}),
        sum(r.children) FILTER (WHERE {retained}), sum(r.households) FILTER (WHERE {submitted}),
        sum(r.households) FILTER (WHERE {withdrawn} AND r.left_stage = {sql_literal(Stage.DIAGNOSTIC)})
    FROM {src.households} r {join}
    WHERE {retained} OR {submitted} OR {withdrawn}
    GROUP BY GROUPING SETS (({rk}, r.stage, r.left_stage, r.left_reason), ({sk}), ({wk}, r.left_stage))
    """
    params = period.params
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
        key, n = keys[0], int(n)
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


def _grouping(by_year: bool, year: str, extra: tuple[str, ...]) -> tuple[str, str]:
    """(key expression, GROUP BY …): the whole cohort, or (`by_year`) one group per year of retention, `none` for the
    households never retained; the whole cohort's figures are then the sum of the groups (`_with_totals`)."""
    plain = ", ".join(extra)
    if not by_year:
        return "'all'", f"GROUP BY ({plain})" if extra else "GROUP BY ()"
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


SPANS = ("submission_to_lease", "retention_to_completion")


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
    (`by_year`) per year of retention: two statements over the summary (aggregated when the periods are whole
    years)."""
    src = source(retained_since, retained_before, submitted_since, submitted_before, include_imported=include_imported)
    period = _Periods(src)

    def cohort(alias: str) -> str:
        clauses = ["true"]
        if retained_since is not None or retained_before is not None:
            clauses.append(period(f"{alias}.retained", retained_since, retained_before))
        if submitted_since is not None or submitted_before is not None:
            clauses.append(period(f"{alias}.submitted", submitted_since, submitted_before))
        return " AND ".join(clauses)

    key, grouping = _grouping(by_year, "c.retained_year", ())
    reached_sql = f"""
    SELECT {key} AS key,
        sum(c.households) AS diagnostic,
        sum(c.households) FILTER (WHERE c.submitted_year IS NOT NULL) AS application_submitted,
        sum(c.households) FILTER (WHERE c.presented) AS application_presented,
        sum(c.households) FILTER (WHERE c.retained_year IS NOT NULL) AS matching,
        sum(c.households) FILTER (WHERE c.reached_relay_stay) AS relay_stay,
        sum(c.households) FILTER (WHERE c.reached_lease) AS lease,
        sum(c.households) FILTER (WHERE c.reached_follow_up) AS follow_up,
        sum(c.households) FILTER (WHERE c.completed) AS completed
    FROM {src.households} c
    WHERE {cohort("c")}
    {grouping}
    """
    reached: list[Cell] = []
    totals: dict[str, int] = dict.fromkeys(FUNNEL_STEPS, 0)
    for row in (await session.execute(text(reached_sql), period.params)).mappings().all():
        for name in FUNNEL_STEPS:
            count = int(row[name] or 0)
            totals[name] += count
            if row["key"] not in ("all", "none"):
                reached.append(Cell(name, str(row["key"]), None, count))
    reached += [Cell(name, "all", None, count) for name, count in totals.items()]

    key, grouping = _grouping(by_year, "d.retained_year", ("d.measure", "d.days"))
    days_sql = f"SELECT {key}, d.measure, d.days, sum(d.n) FROM {src.days} d WHERE {cohort('d')} {grouping}"
    durations: dict[tuple[str, str], Histogram] = defaultdict(dict)
    spans: dict[tuple[str, str], Histogram] = defaultdict(dict)
    for k, measure, days, n in (await session.execute(text(days_sql), period.params)).all():
        if n:
            (spans if measure in SPANS else durations)[str(k), str(measure)][int(days)] = int(n)
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
