"""Placements: a job opening proposed to one adult; hires never exceed the opening's positions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.audit import service as audit
from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core.errors import ConflictError, FieldError, NotFoundError, ValidationProblemError
from toit_emploi_api.core.etag import require_if_match
from toit_emploi_api.employers.models import JobOpening, JobOpeningStatus
from toit_emploi_api.households.models import Member, MemberRole
from toit_emploi_api.pipeline import repository
from toit_emploi_api.pipeline.access import constraint_name, household_for, require_stage, today
from toit_emploi_api.pipeline.models import PLACEMENT_OPEN_INDEX, Placement
from toit_emploi_api.pipeline.rules import PlacementStatus, Stage, placement_move_allowed, placement_targets
from toit_emploi_api.pipeline.schemas import PlacementCreate, PlacementUpdate

PLACEMENT_STAGES = (Stage.MATCHING, Stage.RELAY_STAY, Stage.LEASE)


def _invalid(field: str, message: str) -> ValidationProblemError:
    return ValidationProblemError(f"{field}: {message}", errors=[FieldError(field=field, message=message)])


async def create(
    session: AsyncSession, principal: Principal, household_id: uuid.UUID, body: PlacementCreate
) -> Placement:
    household = await household_for(session, principal, household_id, for_update=True)
    require_stage(household, PLACEMENT_STAGES, "Placements can be proposed")
    member = await repository.get(session, Member, body.member_id)
    if (
        member is None
        or member.household_id != household.id
        or member.role is MemberRole.CHILD
        or member.birth_date > repository.adult_cutoff(today())
    ):
        raise _invalid("member_id", "not an adult member of this household")
    opening = await repository.get(session, JobOpening, body.job_opening_id)
    if opening is None:
        raise _invalid("job_opening_id", "unknown job opening")
    if opening.status is not JobOpeningStatus.OPEN:
        raise ConflictError(
            f"The job opening is {opening.status.value}.",
            slug="job-opening-not-open",
            extra={"job_opening_status": opening.status.value},
        )
    placement = Placement(
        household_id=household.id,
        member_id=member.id,
        job_opening_id=opening.id,
        status=PlacementStatus.PROPOSED,
        note=body.note,
    )
    session.add(placement)
    try:
        await session.flush()
    except IntegrityError as exc:
        if constraint_name(exc) == PLACEMENT_OPEN_INDEX:
            raise ConflictError(
                "This job opening is already proposed to this member.", slug="placement-already-open"
            ) from None
        raise
    await session.refresh(placement)
    await audit.record(
        session,
        principal,
        "placement.create",
        "placement",
        placement.id,
        household_id=household.id,
        details={"job_opening_id": str(opening.id)},
    )
    return placement


async def get(session: AsyncSession, principal: Principal, placement_id: uuid.UUID) -> Placement:
    placement = await repository.get(session, Placement, placement_id)
    if placement is None:
        raise NotFoundError("No placement with this id.")
    await household_for(session, principal, placement.household_id)
    return placement


async def list_for(
    session: AsyncSession, principal: Principal, household_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[Placement], int]:
    household = await household_for(session, principal, household_id)
    return await repository.list_placements(session, household.id, limit, offset)


def _check_move(placement: Placement, body: PlacementUpdate) -> PlacementStatus | None:
    target = body.status
    if target is None or target is placement.status:
        return None
    if not placement_move_allowed(placement.status, target):
        allowed = [s.value for s in placement_targets(placement.status)]
        raise ConflictError(
            f"A placement cannot move from {placement.status.value} to {target.value}.",
            slug="placement-move-not-allowed",
            extra={"from": placement.status.value, "to": target.value, "allowed": allowed},
        )
    if target is PlacementStatus.HIRED:
        if body.contract_type is None:
            raise _invalid("contract_type", "required when hired")
        if body.start_date is None:
            raise _invalid("start_date", "required when hired")
    if target is PlacementStatus.DECLINED:
        if body.declined_by is None:
            raise _invalid("declined_by", "required when declined")
        if not body.reason:
            raise _invalid("reason", "required when declined")
    return target


async def _hire(session: AsyncSession, job_opening_id: uuid.UUID) -> None:
    """One atomic UPDATE takes a position; no row means the opening is full (or closed)."""
    if await repository.take_position(session, job_opening_id):
        return
    opening = await repository.get(session, JobOpening, job_opening_id)
    if opening is not None and opening.status is JobOpeningStatus.CLOSED:
        raise ConflictError("The job opening is closed.", slug="job-opening-closed")
    raise ConflictError(
        "The job opening already has as many hires as open positions.",
        slug="job-opening-full",
        extra={"open_positions": opening.open_positions if opening else None},
    )


async def update(
    session: AsyncSession,
    principal: Principal,
    placement_id: uuid.UUID,
    body: PlacementUpdate,
    if_match: str | None,
) -> Placement:
    found = await repository.get(session, Placement, placement_id)
    if found is None:
        raise NotFoundError("No placement with this id.")
    household = await household_for(session, principal, found.household_id, for_update=True)
    placement = await repository.get(session, Placement, placement_id, for_update=True)
    assert placement is not None  # a placement is only deleted with its household, which is locked
    require_if_match(if_match, placement.version)
    require_stage(household, PLACEMENT_STAGES, "Placements can be changed")
    target = _check_move(placement, body)
    changes = body.model_dump(exclude_unset=True)
    if target is PlacementStatus.HIRED:
        await _hire(session, placement.job_opening_id)
    if target is not None:
        placement.status = target
    for field in ("declined_by", "reason", "contract_type", "start_date", "note"):
        if field in changes:
            setattr(placement, field, changes[field])
    await session.flush()
    await session.refresh(placement)
    details: dict[str, object] = {"fields": sorted(changes)}
    if target is not None:
        details["status"] = target.value
    await audit.record(
        session, principal, "placement.update", "placement", placement.id, household_id=household.id, details=details
    )
    return placement
