"""All SQL of the pipeline domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.core.clock import ADULT_AGE, years_later
from toit_emploi_api.core.resources import ListQuery, PageParams, Slice, created_between, paginate, sorted_by
from toit_emploi_api.households.models import Member
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline.models import FollowUpEntry, HousingAllocation, Placement, RelayStay, StageTransition
from toit_emploi_api.vocab.audit import READ_ACTIONS
from toit_emploi_api.vocab.statuses import (
    ACTIVE_ALLOCATION_STATUSES,
    OPEN_PLACEMENT_STATUSES,
    AllocationStatus,
    MemberRole,
    PlacementStatus,
    RelayStayStatus,
)

M = TypeVar("M", Placement, RelayStay, HousingAllocation)

MEETING_STATUSES = (PlacementStatus.INTERVIEW, PlacementStatus.OFFERED, PlacementStatus.HIRED)


def adult_cutoff(today: date) -> date:
    """Members born on or before this date are 18 or older today."""
    return years_later(today, -ADULT_AGE)


def _is_adult(today: date) -> Any:
    return and_(Member.role != MemberRole.CHILD, Member.birth_date <= adult_cutoff(today))


async def get(session: AsyncSession, model: type[M], obj_id: uuid.UUID, *, for_update: bool = False) -> M | None:
    stmt = select(model).where(model.id == obj_id)
    if for_update:
        # Re-read the row under the lock, even when the session already holds it.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


# --- facts for the guards ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FactsRow:
    adult_count: int
    adults_with_rome_profile: int
    placements_with_employer_meeting: int
    hired_with_contract: int
    relay_stay_booked: bool
    relay_stay_still_booked: bool
    lease_signed: bool
    latest_stay_status: RelayStayStatus | None
    latest_family_agrees: bool | None
    latest_employer_agrees: bool | None
    latest_outcome_note: str | None


async def facts(session: AsyncSession, household_id: uuid.UUID, today: date, outcomes_since: datetime) -> FactsRow:
    """Two statements: the counts and flags, then the relay stay whose outcome was recorded last, at or after
    ``outcomes_since`` (when the household entered its current stage: an outcome of an earlier relay_stay stage
    does not decide this one)."""
    members = select(func.count()).where(Member.household_id == household_id, _is_adult(today))
    placements = select(func.count()).where(Placement.household_id == household_id)
    counts = (
        await session.execute(
            select(
                members.scalar_subquery(),
                members.where(func.cardinality(Member.rome_codes) > 0).scalar_subquery(),
                placements.where(Placement.status.in_(MEETING_STATUSES)).scalar_subquery(),
                placements.where(
                    Placement.status == PlacementStatus.HIRED,
                    Placement.contract_type.is_not(None),
                    Placement.start_date.is_not(None),
                ).scalar_subquery(),
                exists()
                .where(
                    RelayStay.household_id == household_id,
                    RelayStay.status == RelayStayStatus.BOOKED,
                    HousingUnit.id == RelayStay.unit_id,
                    HousingUnit.is_relay.is_(True),
                )
                .select_from(RelayStay, HousingUnit),
                exists().where(RelayStay.household_id == household_id, RelayStay.status == RelayStayStatus.BOOKED),
                exists().where(
                    HousingAllocation.household_id == household_id,
                    HousingAllocation.status == AllocationStatus.LEASE_SIGNED,
                    HousingAllocation.lease_signed_date.is_not(None),
                    HousingAllocation.move_in_date.is_not(None),
                ),
            )
        )
    ).one()
    latest = (
        await session.execute(
            select(RelayStay.status, RelayStay.family_agrees, RelayStay.employer_agrees, RelayStay.outcome_note)
            .where(
                RelayStay.household_id == household_id,
                RelayStay.status == RelayStayStatus.ENDED,
                RelayStay.outcome_recorded_at >= outcomes_since,
            )
            .order_by(RelayStay.outcome_recorded_at.desc(), RelayStay.created_at.desc())
            .limit(1)
        )
    ).one_or_none()
    return FactsRow(
        adult_count=counts[0],
        adults_with_rome_profile=counts[1],
        placements_with_employer_meeting=counts[2],
        hired_with_contract=counts[3],
        relay_stay_booked=bool(counts[4]),
        relay_stay_still_booked=bool(counts[5]),
        lease_signed=bool(counts[6]),
        latest_stay_status=latest[0] if latest else None,
        latest_family_agrees=latest[1] if latest else None,
        latest_employer_agrees=latest[2] if latest else None,
        latest_outcome_note=latest[3] if latest else None,
    )


# --- stage transitions -------------------------------------------------------------------------------------------
async def history(session: AsyncSession, household_id: uuid.UUID) -> Sequence[StageTransition]:
    stmt = (
        select(StageTransition)
        .where(StageTransition.household_id == household_id)
        .order_by(StageTransition.at, StageTransition.id)
    )
    return (await session.execute(stmt)).scalars().all()


async def cancel_reserved_allocation(session: AsyncSession, household_id: uuid.UUID, now: datetime) -> list[uuid.UUID]:
    """Cancel the household's reserved allocation (a signed lease stays); the units it held."""
    stmt = (
        update(HousingAllocation)
        .where(HousingAllocation.household_id == household_id, HousingAllocation.status == AllocationStatus.RESERVED)
        .values(
            status=AllocationStatus.CANCELLED,
            cancelled_at=now,
            updated_at=now,
            version=HousingAllocation.version + 1,
        )
        .returning(HousingAllocation.unit_id)
    )
    return list((await session.execute(stmt)).scalars().all())


async def reserved_unit_ids(session: AsyncSession, household_id: uuid.UUID) -> list[uuid.UUID]:
    """The units of the household's reserved allocation (none or one)."""
    stmt = select(HousingAllocation.unit_id).where(
        HousingAllocation.household_id == household_id, HousingAllocation.status == AllocationStatus.RESERVED
    )
    return list((await session.execute(stmt)).scalars().all())


async def booked_stay_unit_ids(session: AsyncSession, household_id: uuid.UUID) -> list[uuid.UUID]:
    """The relay apartments of the household's stays still booked."""
    stmt = select(RelayStay.unit_id).where(
        RelayStay.household_id == household_id, RelayStay.status == RelayStayStatus.BOOKED
    )
    return list((await session.execute(stmt)).scalars().all())


async def cancel_booked_stays(session: AsyncSession, household_id: uuid.UUID, now: datetime) -> int:
    """Cancel every relay stay of the household still booked, whatever its dates; how many."""
    stmt = (
        update(RelayStay)
        .where(RelayStay.household_id == household_id, RelayStay.status == RelayStayStatus.BOOKED)
        .values(status=RelayStayStatus.CANCELLED, cancelled_at=now, updated_at=now, version=RelayStay.version + 1)
        .returning(RelayStay.id)
    )
    return len((await session.execute(stmt)).scalars().all())


async def cancel_open_placements(session: AsyncSession, household_id: uuid.UUID, now: datetime) -> int:
    """Cancel the household's open placements (proposed, interview, offered) as withdrawn; how many."""
    stmt = (
        update(Placement)
        .where(Placement.household_id == household_id, Placement.status.in_(OPEN_PLACEMENT_STATUSES))
        .values(
            status=PlacementStatus.CANCELLED,
            reason="household_withdrawn",
            updated_at=now,
            version=Placement.version + 1,
        )
        .returning(Placement.id)
    )
    return len((await session.execute(stmt)).scalars().all())


async def booked_until(session: AsyncSession, unit_id: uuid.UUID) -> date | None:
    """The last day of the stays still booked in this relay apartment (None: none)."""
    stmt = select(func.max(RelayStay.end_date)).where(
        RelayStay.unit_id == unit_id, RelayStay.status == RelayStayStatus.BOOKED
    )
    return (await session.execute(stmt)).scalar_one()


# --- placements --------------------------------------------------------------------------------------------------
async def _household_list(
    session: AsyncSession, model: Any, household_id: uuid.UUID, page: PageParams, q: ListQuery, columns: Any, *ties: Any
) -> Slice[Any]:
    """One page of a household's `model` rows created in `q`'s window, in `q.sort` order over `columns`, then
    `ties` and the id (in the sort's direction)."""
    stmt = select(model).where(
        model.household_id == household_id, *created_between(model.created_at, q.created_since, q.created_before)
    )
    return await paginate(session, sorted_by(stmt, q.sort, columns, *ties, model.id), page)


async def list_placements(
    session: AsyncSession, household_id: uuid.UUID, page: PageParams, q: ListQuery
) -> Slice[Placement]:
    columns: dict[str, Any] = {"created_at": Placement.created_at, "updated_at": Placement.updated_at}
    columns["start_date"] = Placement.start_date
    return await _household_list(session, Placement, household_id, page, q, columns)


async def placement_ids_of_member(session: AsyncSession, member_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = select(Placement.id).where(Placement.member_id == member_id).order_by(Placement.created_at, Placement.id)
    return list((await session.execute(stmt)).scalars().all())


# --- relay stays -------------------------------------------------------------------------------------------------
async def list_relay_stays(
    session: AsyncSession, household_id: uuid.UUID, page: PageParams, q: ListQuery
) -> Slice[RelayStay]:
    columns = {"start_date": RelayStay.start_date, "created_at": RelayStay.created_at}
    return await _household_list(session, RelayStay, household_id, page, q, columns)


async def has_booked_stay(session: AsyncSession, household_id: uuid.UUID) -> bool:
    stmt = select(exists().where(RelayStay.household_id == household_id, RelayStay.status == RelayStayStatus.BOOKED))
    return bool((await session.execute(stmt)).scalar_one())


# --- allocations -------------------------------------------------------------------------------------------------
async def active_allocation(
    session: AsyncSession, household_id: uuid.UUID, *, for_update: bool = False
) -> HousingAllocation | None:
    stmt = select(HousingAllocation).where(
        HousingAllocation.household_id == household_id, HousingAllocation.status.in_(ACTIVE_ALLOCATION_STATUSES)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


# --- follow-up ---------------------------------------------------------------------------------------------------
async def list_follow_up(
    session: AsyncSession, household_id: uuid.UUID, page: PageParams, q: ListQuery
) -> Slice[FollowUpEntry]:
    """Entries of the same day in the order they were written, in the sort's direction."""
    columns = {"entry_date": FollowUpEntry.entry_date, "created_at": FollowUpEntry.created_at}
    return await _household_list(session, FollowUpEntry, household_id, page, q, columns, FollowUpEntry.created_at)


# --- pipeline events (from the audit trail) ----------------------------------------------------------------------
PIPELINE_ACTION_PREFIXES = (
    "household.transition",
    "household.application_",
    "placement.",
    "relay_stay.",
    "allocation.",
    "follow_up_entry.",
)


async def list_events(
    session: AsyncSession, household_id: uuid.UUID, page: PageParams, q: ListQuery
) -> Slice[AuditEvent]:
    stmt = select(AuditEvent).where(
        AuditEvent.household_id == household_id,
        or_(*(AuditEvent.action.startswith(prefix) for prefix in PIPELINE_ACTION_PREFIXES)),
        AuditEvent.action.not_in([str(a) for a in READ_ACTIONS]),
    )
    return await paginate(session, sorted_by(stmt, q.sort, {"at": AuditEvent.at}, AuditEvent.id), page)
