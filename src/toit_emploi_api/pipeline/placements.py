"""Placements: a job opening proposed to one adult; hires never exceed the opening's positions."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import outbox
from toit_emploi_api.core.clock import today
from toit_emploi_api.core.errors import FieldError, ProblemError
from toit_emploi_api.employers import hires
from toit_emploi_api.households.models import Household, Member
from toit_emploi_api.pipeline import events, records, repository
from toit_emploi_api.pipeline.checks import check_dates, invalid, invalid_field, require_stage, sane_date
from toit_emploi_api.pipeline.deps import Owned
from toit_emploi_api.pipeline.models import PLACEMENT_OPEN_INDEX, Placement
from toit_emploi_api.pipeline.records import saved
from toit_emploi_api.pipeline.rules import placement_move_allowed, placement_targets
from toit_emploi_api.pipeline.schemas import PlacementCreate, PlacementUpdate
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.events import EventType
from toit_emploi_api.vocab.problems import (
    PLACEMENT_ALREADY_OPEN,
    PLACEMENT_CLOSED,
    PLACEMENT_MOVE_NOT_ALLOWED,
)
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import TERMINAL_PLACEMENT_STATUSES, MemberRole, PlacementStatus

PLACEMENT_STAGES = (Stage.MATCHING, Stage.RELAY_STAY, Stage.LEASE)


def _adult_member(household: Household, member_id: uuid.UUID) -> Member:
    cutoff = repository.adult_cutoff(today())
    for member in household.members:
        if member.id == member_id and member.role is not MemberRole.CHILD and member.birth_date <= cutoff:
            return member
    raise invalid_field("member_id", "not an adult member of this household")


def _already_open() -> ProblemError:
    return ProblemError(PLACEMENT_ALREADY_OPEN, "This job opening is already proposed to this member.")


async def create(session: AsyncSession, principal: Principal, household: Household, body: PlacementCreate) -> Placement:
    """Propose an open job opening to an adult of the (locked, members loaded) household."""
    require_stage(household, PLACEMENT_STAGES, "Placements can be proposed")
    member = _adult_member(household, body.member_id)
    opening = await hires.find_opening(session, body.job_opening_id)
    if opening is None:
        raise invalid_field("job_opening_id", "unknown job opening")
    hires.require_open(opening)
    placement = Placement(
        household_id=household.id,
        member_id=member.id,
        job_opening_id=opening.id,
        status=PlacementStatus.PROPOSED,
        note=body.note,
    )
    session.add(placement)
    placement = await saved(
        session,
        principal,
        AuditAction.PLACEMENT_CREATE,
        placement,
        household.id,
        details={"job_opening_id": str(opening.id)},
        problems={PLACEMENT_OPEN_INDEX: _already_open},
    )
    await outbox.emit(session, EventType.PLACEMENT_CHANGED, **events.placement_changed(household, placement))
    return placement


list_for = records.household_list(AuditAction.PLACEMENT_LIST, repository.list_placements)
"""One page of the household's placements; the read is recorded with the ids shown."""


async def placement_ids_of_member(session: AsyncSession, member_id: uuid.UUID) -> list[uuid.UUID]:
    """Every placement of the member, whatever its status, oldest first (the households package asks it, through a
    port, before deleting a member)."""
    return await repository.placement_ids_of_member(session, member_id)


# Fields that only make sense with one move of the placement, and the statuses they come with.
_FIELDS_OF_MOVE: dict[str, tuple[PlacementStatus, ...]] = {
    "contract_type": (PlacementStatus.HIRED,),
    "start_date": (PlacementStatus.HIRED,),
    "declined_by": (PlacementStatus.DECLINED,),
    "reason": (PlacementStatus.DECLINED, PlacementStatus.CANCELLED),
}


def _check_move(placement: Placement, body: PlacementUpdate) -> PlacementStatus | None:
    """The status to move to (None: no move), after checking the body fits the move.

    A closed placement (hired, declined, cancelled) only accepts a new note (409 ``placement-closed``); an open
    one accepts ``contract_type``/``start_date`` only when hired, ``declined_by`` only when declined and
    ``reason`` only when declined or cancelled (422 on the field otherwise).
    """
    changes = set(body.model_dump(exclude_unset=True))
    target = body.status
    if target is placement.status:
        changes.discard("status")
        target = None
    if placement.status in TERMINAL_PLACEMENT_STATUSES:
        refused = sorted(changes - {"note"})
        if refused:
            raise ProblemError(
                PLACEMENT_CLOSED,
                f"This placement is {placement.status.value}: only its note can change.",
                extra={"status": placement.status.value, "fields": refused},
            )
        return None
    if target is not None and not placement_move_allowed(placement.status, target):
        allowed = [s.value for s in placement_targets(placement.status)]
        raise ProblemError(
            PLACEMENT_MOVE_NOT_ALLOWED,
            f"A placement cannot move from {placement.status.value} to {target.value}.",
            extra={"from": placement.status.value, "to": target.value, "allowed": allowed},
        )
    errors = [
        FieldError(field=field, message="only with status " + " or ".join(s.value for s in statuses))
        for field, statuses in _FIELDS_OF_MOVE.items()
        if field in changes and target not in statuses
    ]
    if target is PlacementStatus.HIRED:
        errors += [
            FieldError(field=field, message="required when hired")
            for field in ("contract_type", "start_date")
            if getattr(body, field) is None
        ]
        if body.start_date is not None:
            check_dates(sane_date("start_date", body.start_date))
    if target is PlacementStatus.DECLINED:
        if body.declined_by is None:
            errors.append(FieldError(field="declined_by", message="required when declined"))
        if not body.reason:
            errors.append(FieldError(field="reason", message="required when declined"))
    if errors:
        raise invalid(*errors)
    return target


async def update(
    session: AsyncSession, principal: Principal, owned: Owned[Placement], body: PlacementUpdate
) -> Placement:
    """Move a placement or edit its note (household and placement locked, If-Match checked by the route)."""
    household, placement = owned.household, owned.record
    require_stage(household, PLACEMENT_STAGES, "Placements can be changed")
    target = _check_move(placement, body)
    changes = body.model_dump(exclude_unset=True)
    if target is PlacementStatus.HIRED:
        await hires.count_hire(session, placement.job_opening_id)
    if target is not None:
        placement.status = target
    for field in ("declined_by", "reason", "contract_type", "start_date", "note"):
        if field in changes:
            setattr(placement, field, changes[field])
    details: dict[str, object] = {"fields": sorted(changes)}
    if target is not None:
        details["status"] = target.value
    placement = await saved(session, principal, AuditAction.PLACEMENT_UPDATE, placement, household.id, details)
    await outbox.emit(session, EventType.PLACEMENT_CHANGED, **events.placement_changed(household, placement))
    return placement
