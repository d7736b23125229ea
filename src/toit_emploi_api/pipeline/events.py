"""The outbox events of the pipeline (`core.outbox.emit`): each builder gives `emit`'s keyword arguments, the
household's status block (`households.events`) plus the record's ids, statuses, codes and dates. Never a name,
a birth date, a note or a free-text reason."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import Enum
from typing import Any

from toit_emploi_api.households.events import household_event
from toit_emploi_api.households.models import Household
from toit_emploi_api.pipeline.models import HousingAllocation, Placement, RelayStay, StageTransition


def _json(value: object) -> object:
    """An id, a status or code, a date as JSON (the rest as it is: flags, None)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


def _record(record: object, *names: str) -> dict[str, Any]:
    """The record's named attributes, as JSON: the event's allowlist of what leaves the process."""
    return {name: _json(getattr(record, name)) for name in names}


def stage_changed(household: Household, move: StageTransition, released: dict[str, int]) -> dict[str, Any]:
    """`household.stage_changed`: from, to (the block's `stage`), the withdrawal reason code, what was released."""
    return household_event(
        household,
        transition_id=str(move.id),
        from_stage=move.from_stage.value,
        reason=move.reason,
        released=released,
    )


def application_step(household: Household, at: datetime) -> dict[str, Any]:
    """`household.application_submitted` / `household.application_presented`: when the step was recorded."""
    return household_event(household, at=at.isoformat())


def placement_changed(household: Household, placement: Placement) -> dict[str, Any]:
    """`placement.changed`: created, moved or its note edited."""
    fields = _record(placement, "member_id", "job_opening_id", "status", "declined_by", "contract_type", "start_date")
    return household_event(household, placement_id=str(placement.id), **fields)


def relay_stay(household: Household, stay: RelayStay) -> dict[str, Any]:
    """`relay_stay.booked`, `relay_stay.outcome_recorded`, `relay_stay.cancelled` (the outcome's note stays out)."""
    fields = _record(stay, "unit_id", "start_date", "end_date", "status", "family_agrees", "employer_agrees")
    return household_event(household, relay_stay_id=str(stay.id), **fields)


def allocation_changed(household: Household, allocation: HousingAllocation) -> dict[str, Any]:
    """`allocation.changed`: reserved, lease signed or cancelled (an override is a flag, its reason stays out)."""
    return household_event(
        household,
        allocation_id=str(allocation.id),
        unit_id=str(allocation.unit_id),
        status=allocation.status.value,
        override=allocation.override_reason is not None,
        lease_signed_date=_json(allocation.lease_signed_date),
        move_in_date=_json(allocation.move_in_date),
    )
