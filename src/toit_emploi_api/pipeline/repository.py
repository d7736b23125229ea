"""All SQL of the pipeline domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import and_, case, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.core.clock import ADULT_AGE, years_later
from toit_emploi_api.employers.models import JobOpening
from toit_emploi_api.households.models import Household, Member
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline.models import FollowUpEntry, HousingAllocation, Placement, RelayStay, StageTransition
from toit_emploi_api.vocab.statuses import (
    ACTIVE_ALLOCATION_STATUSES,
    OPEN_PLACEMENT_STATUSES,
    AllocationStatus,
    JobOpeningStatus,
    MemberRole,
    PlacementStatus,
    RelayStayStatus,
    UnitStatus,
)

M = TypeVar("M", Placement, RelayStay, HousingAllocation, HousingUnit, JobOpening, Member)

MEETING_STATUSES = (PlacementStatus.INTERVIEW, PlacementStatus.OFFERED, PlacementStatus.HIRED)


def adult_cutoff(today: date) -> date:
    """Members born on or before this date are 18 or older today."""
    return years_later(today, -ADULT_AGE)


def _is_adult(today: date) -> Any:
    return and_(Member.role != MemberRole.CHILD, Member.birth_date <= adult_cutoff(today))


async def get_household(
    session: AsyncSession, household_id: uuid.UUID, *, for_update: bool = False
) -> Household | None:
    stmt = select(Household).where(Household.id == household_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


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


@dataclass(frozen=True)
class Released:
    allocations: int
    relay_stays: int
    placements: int


async def release_reserved_allocation(session: AsyncSession, household_id: uuid.UUID, now: datetime) -> int:
    """Cancel the household's reserved allocation (a signed lease stays) and release its unit; how many."""
    unit_ids = (
        (
            await session.execute(
                update(HousingAllocation)
                .where(
                    HousingAllocation.household_id == household_id,
                    HousingAllocation.status == AllocationStatus.RESERVED,
                )
                .values(
                    status=AllocationStatus.CANCELLED,
                    cancelled_at=now,
                    updated_at=now,
                    version=HousingAllocation.version + 1,
                )
                .returning(HousingAllocation.unit_id)
            )
        )
        .scalars()
        .all()
    )
    if unit_ids:
        await free_units(session, list(unit_ids), now)
    return len(unit_ids)


async def release_for_withdrawal(session: AsyncSession, household_id: uuid.UUID, now: datetime) -> Released:
    """Cancel the reserved allocation (unit released), every relay stay still booked (whatever its dates: a
    past-dated stay without outcome would otherwise stay booked forever) and the open placements."""
    allocations = await release_reserved_allocation(session, household_id, now)
    stays = await session.execute(
        update(RelayStay)
        .where(
            RelayStay.household_id == household_id,
            RelayStay.status == RelayStayStatus.BOOKED,
        )
        .values(status=RelayStayStatus.CANCELLED, cancelled_at=now, updated_at=now, version=RelayStay.version + 1)
        .returning(RelayStay.id)
    )
    placements = await session.execute(
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
    return Released(
        allocations=allocations, relay_stays=len(stays.scalars().all()), placements=len(placements.scalars().all())
    )


def released_status(unit: HousingUnit) -> UnitStatus:
    """What a unit the programme stops holding becomes: `unavailable` when the landlord's last snapshot no longer
    listed it (``held_absent_since`` set), else `vacant`."""
    return UnitStatus.UNAVAILABLE if unit.held_absent_since is not None else UnitStatus.VACANT


async def free_units(session: AsyncSession, unit_ids: list[uuid.UUID], now: datetime) -> None:
    """Reserved units released: `unavailable` if the landlord's last snapshot dropped them, else `vacant` (a unit
    changed meanwhile by its landlord is left alone)."""
    await session.execute(
        update(HousingUnit)
        .where(HousingUnit.id.in_(unit_ids), HousingUnit.status == UnitStatus.RESERVED)
        .values(
            status=case(
                (
                    HousingUnit.held_absent_since.is_not(None),
                    literal(UnitStatus.UNAVAILABLE, HousingUnit.status.type),
                ),
                else_=literal(UnitStatus.VACANT, HousingUnit.status.type),
            ),
            held_absent_since=None,
            updated_at=now,
            version=HousingUnit.version + 1,
        )
        .execution_options(synchronize_session="fetch")
    )


# --- placements --------------------------------------------------------------------------------------------------
async def list_placements(
    session: AsyncSession, household_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[Placement], int]:
    where = Placement.household_id == household_id
    total = (await session.execute(select(func.count()).select_from(Placement).where(where))).scalar_one()
    rows = await session.execute(
        select(Placement).where(where).order_by(Placement.created_at, Placement.id).limit(limit).offset(offset)
    )
    return rows.scalars().all(), total


async def take_position(session: AsyncSession, job_opening_id: uuid.UUID) -> bool:
    """Atomically count one more hire, marking the opening filled with its last position; False when full."""
    stmt = (
        update(JobOpening)
        .where(
            JobOpening.id == job_opening_id,
            JobOpening.hires_count < JobOpening.open_positions,
            JobOpening.status != JobOpeningStatus.CLOSED,
        )
        .values(
            hires_count=JobOpening.hires_count + 1,
            status=case(
                (
                    JobOpening.hires_count + 1 >= JobOpening.open_positions,
                    literal(JobOpeningStatus.FILLED, JobOpening.status.type),
                ),
                else_=JobOpening.status,
            ),
            version=JobOpening.version + 1,
            updated_at=func.now(),
        )
        .returning(JobOpening.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).first() is not None


# --- relay stays -------------------------------------------------------------------------------------------------
async def list_relay_stays(
    session: AsyncSession, household_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[RelayStay], int]:
    where = RelayStay.household_id == household_id
    total = (await session.execute(select(func.count()).select_from(RelayStay).where(where))).scalar_one()
    rows = await session.execute(
        select(RelayStay).where(where).order_by(RelayStay.start_date, RelayStay.id).limit(limit).offset(offset)
    )
    return rows.scalars().all(), total


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


async def count_children(session: AsyncSession, household_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(Member.household_id == household_id, Member.role == MemberRole.CHILD)
    return (await session.execute(stmt)).scalar_one()


# --- follow-up ---------------------------------------------------------------------------------------------------
async def list_follow_up(
    session: AsyncSession, household_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[FollowUpEntry], int]:
    where = FollowUpEntry.household_id == household_id
    total = (await session.execute(select(func.count()).select_from(FollowUpEntry).where(where))).scalar_one()
    rows = await session.execute(
        select(FollowUpEntry)
        .where(where)
        .order_by(FollowUpEntry.entry_date.desc(), FollowUpEntry.created_at.desc())
        .limit(limit)
        .offset(offset)
    )
    return rows.scalars().all(), total


# --- pipeline events (from the audit trail) ----------------------------------------------------------------------
PIPELINE_ACTION_PREFIXES = ("household.transition", "placement.", "relay_stay.", "allocation.", "follow_up_entry.")


async def list_events(
    session: AsyncSession, household_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[AuditEvent], int]:
    where = and_(
        AuditEvent.household_id == household_id,
        or_(*(AuditEvent.action.startswith(prefix) for prefix in PIPELINE_ACTION_PREFIXES)),
    )
    total = (await session.execute(select(func.count()).select_from(AuditEvent).where(where))).scalar_one()
    rows = await session.execute(
        select(AuditEvent).where(where).order_by(AuditEvent.at, AuditEvent.id).limit(limit).offset(offset)
    )
    return rows.scalars().all(), total
