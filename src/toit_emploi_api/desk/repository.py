"""All SQL of the manager's desk: relay stays and placements across households, and the agenda (one UNION ALL
statement). Nothing here writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Select, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.enums import sql_list, sql_literal
from toit_emploi_api.core.resources import (
    ListQuery,
    PageParams,
    Slice,
    created_between,
    equal_if_given,
    paginate,
    sorted_by,
)
from toit_emploi_api.employers.models import Employer, JobOpening
from toit_emploi_api.households.models import Household
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline.models import Placement, RelayStay
from toit_emploi_api.vocab.stages import TERMINAL_STAGES, ApplicationStatus, HistoryKind, Stage
from toit_emploi_api.vocab.statuses import (
    OPEN_PLACEMENT_STATUSES,
    AllocationStatus,
    PlacementStatus,
    RelayStayStatus,
)


# --- relay stays ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StayFilters:
    start: date | None = None
    end: date | None = None
    unit_id: uuid.UUID | None = None
    status: RelayStayStatus | None = None


async def relay_stays(session: AsyncSession, f: StayFilters, page: PageParams, q: ListQuery) -> Slice[Any]:
    """Stays overlapping [start, end] (each bound optional), in the `q.sort` order: rows (stay, reference, unit
    facts)."""
    stmt = (
        select(
            RelayStay,
            Household.reference,
            HousingUnit.landlord_reference,
            HousingUnit.commune_insee,
            HousingUnit.commune_name,
        )
        .join(Household, Household.id == RelayStay.household_id)
        .join(HousingUnit, HousingUnit.id == RelayStay.unit_id)
    )
    if f.start is not None:
        stmt = stmt.where(RelayStay.end_date >= f.start)
    if f.end is not None:
        stmt = stmt.where(RelayStay.start_date <= f.end)
    stmt = stmt.where(*equal_if_given((RelayStay.unit_id, f.unit_id), (RelayStay.status, f.status)))
    stmt = stmt.where(*created_between(RelayStay.created_at, q.created_since, q.created_before))
    columns = {"start_date": RelayStay.start_date, "created_at": RelayStay.created_at}
    ordered = sorted_by(cast("Select[Any]", stmt), q.sort, columns, RelayStay.id)
    return await paginate(session, ordered, page, scalars=False)


# --- placements ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlacementFilters:
    status: PlacementStatus | None = None
    job_opening_id: uuid.UUID | None = None
    employer_id: uuid.UUID | None = None
    updated_before: datetime | None = None


async def placements(session: AsyncSession, f: PlacementFilters, page: PageParams, q: ListQuery) -> Slice[Any]:
    """Placements of every household in the `q.sort` order: rows (placement, reference, opening, employer)."""
    stmt = (
        select(Placement, Household.reference, JobOpening.title, Employer.id, Employer.legal_name)
        .join(Household, Household.id == Placement.household_id)
        .join(JobOpening, JobOpening.id == Placement.job_opening_id)
        .join(Employer, Employer.id == JobOpening.employer_id)
    )
    stmt = stmt.where(
        *equal_if_given(
            (Placement.status, f.status),
            (Placement.job_opening_id, f.job_opening_id),
            (JobOpening.employer_id, f.employer_id),
        )
    )
    if f.updated_before is not None:
        stmt = stmt.where(Placement.updated_at < f.updated_before)
    stmt = stmt.where(*created_between(Placement.created_at, q.created_since, q.created_before))
    columns = {
        "updated_at": Placement.updated_at,
        "created_at": Placement.created_at,
        "start_date": Placement.start_date,
    }
    ordered = sorted_by(cast("Select[Any]", stmt), q.sort, columns, Placement.id)
    return await paginate(session, ordered, page, scalars=False)


# --- agenda --------------------------------------------------------------------------------------------------
# Households the agenda speaks of: active (neither completed nor withdrawn) and not anonymised.
_ACTIVE = f"h.stage NOT IN {sql_list(TERMINAL_STAGES)} AND h.anonymised_at IS NULL"
_PARIS_DAY = "(({column}) AT TIME ZONE 'Europe/Paris')::date"
_BOOKED = sql_literal(RelayStayStatus.BOOKED)
_HIRED = sql_literal(PlacementStatus.HIRED)
_LEASE_SIGNED = sql_literal(AllocationStatus.LEASE_SIGNED)

# Built from the constants above only (no caller input): every value is a bound parameter.
_AGENDA = f"""
WITH items AS (
    SELECT s.start_date AS day, 'relay_stay_start' AS kind, h.id AS household_id, h.reference,
           'relay_stay' AS object_type, s.id AS object_id
    FROM relay_stays s JOIN households h ON h.id = s.household_id
    WHERE s.status = {_BOOKED} AND s.start_date BETWEEN :start AND :end AND {_ACTIVE}
  UNION ALL
    SELECT s.end_date, 'relay_stay_end', h.id, h.reference, 'relay_stay', s.id
    FROM relay_stays s JOIN households h ON h.id = s.household_id
    WHERE s.status = {_BOOKED} AND s.end_date <= :end AND {_ACTIVE}
  UNION ALL
    SELECT p.start_date, 'job_start', h.id, h.reference, 'placement', p.id
    FROM placements p JOIN households h ON h.id = p.household_id
    WHERE p.status = {_HIRED} AND p.start_date BETWEEN :start AND :end AND {_ACTIVE}
  UNION ALL
    SELECT a.lease_signed_date, 'lease_signature', h.id, h.reference, 'allocation', a.id
    FROM housing_allocations a JOIN households h ON h.id = a.household_id
    WHERE a.status = {_LEASE_SIGNED} AND a.lease_signed_date BETWEEN :start AND :end AND {_ACTIVE}
  UNION ALL
    SELECT a.move_in_date, 'move_in', h.id, h.reference, 'allocation', a.id
    FROM housing_allocations a JOIN households h ON h.id = a.household_id
    WHERE a.status = {_LEASE_SIGNED} AND a.move_in_date BETWEEN :start AND :end AND {_ACTIVE}
  UNION ALL
    SELECT d.due, 'follow_up_overdue', d.id, d.reference, 'household', d.id
    FROM (
        SELECT h.id, h.reference,
               coalesce((SELECT max(e.entry_date) FROM follow_up_entries e WHERE e.household_id = h.id),
                        {_PARIS_DAY.format(column="h.stage_entered_at")}) + CAST(:follow_up_days AS integer) AS due
        FROM households h
        WHERE h.stage = {sql_literal(Stage.FOLLOW_UP)} AND h.anonymised_at IS NULL
    ) d
    WHERE d.due <= :end
  UNION ALL
    SELECT {_PARIS_DAY.format(column="p.updated_at")} + CAST(:stale_days AS integer), 'placement_without_news',
           h.id, h.reference, 'placement', p.id
    FROM placements p JOIN households h ON h.id = p.household_id
    WHERE p.status IN {sql_list(OPEN_PLACEMENT_STATUSES)}
      AND p.updated_at < CAST(:stale_before AS timestamptz) AND {_ACTIVE}
  UNION ALL
    SELECT d.presented, 'application_awaiting_decision', d.id, d.reference, 'household', d.id
    FROM (
        SELECT h.id, h.reference,
               coalesce((SELECT {_PARIS_DAY.format(column="max(t.at)")} FROM stage_transitions t
                         WHERE t.household_id = h.id AND t.kind = {sql_literal(HistoryKind.APPLICATION_PRESENTED)}),
                        {_PARIS_DAY.format(column="h.stage_entered_at")}) AS presented
        FROM households h
        WHERE h.stage = {sql_literal(Stage.DIAGNOSTIC)}
          AND h.application_status = {sql_literal(ApplicationStatus.PRESENTED)} AND h.anonymised_at IS NULL
    ) d
    WHERE d.presented <= :end
  UNION ALL
    SELECT m.right_to_work_expiry, 'right_to_work_expiry', h.id, h.reference, 'member', m.id
    FROM household_members m JOIN households h ON h.id = m.household_id
    WHERE m.right_to_work_expiry <= CAST(:end AS date) + CAST(:right_to_work_days AS integer) AND {_ACTIVE}
),
page AS (
    SELECT * FROM items ORDER BY day, kind, reference, object_id
    LIMIT CAST(:limit AS integer) OFFSET CAST(:offset AS integer)
)
SELECT (SELECT count(*) FROM items) AS total, pg.*
FROM (SELECT 1) one LEFT JOIN page pg ON true
ORDER BY pg.day, pg.kind, pg.reference, pg.object_id
"""  # noqa: S608


@dataclass(frozen=True)
class AgendaQuery:
    start: date
    end: date
    follow_up_days: int
    stale_days: int
    stale_before: datetime
    right_to_work_days: int


async def agenda(session: AsyncSession, q: AgendaQuery, page: PageParams) -> tuple[list[dict[str, Any]], int]:
    """One page of agenda items in date order and the total: one statement."""
    result = await session.execute(
        text(_AGENDA),
        {
            "start": q.start,
            "end": q.end,
            "follow_up_days": q.follow_up_days,
            "stale_days": q.stale_days,
            "stale_before": q.stale_before,
            "right_to_work_days": q.right_to_work_days,
            "limit": page.limit,
            "offset": page.offset,
        },
    )
    rows = [dict(r) for r in result.mappings()]
    total = int(rows[0]["total"]) if rows else 0
    return [r for r in rows if r["kind"] is not None], total
