"""What an outbox event says about a household (`core.outbox.emit`): ids, reference, stage and dates, never a
name, a birth date or a note. The pipeline adds its own facts to the same block (`pipeline.events`)."""

from __future__ import annotations

from typing import Any

from toit_emploi_api.households.models import Household

STATUS_FIELDS = ("household_id", "reference", "referring_organisation_id", "stage", "stage_entered_at")
"""The household block of every household event: what its referring partner may read at any stage (the status
view)."""


def household_event(household: Household, **data: Any) -> dict[str, Any]:
    """`emit`'s keyword arguments for an event about `household`: its organisation and its status block, plus
    `data` (ids, codes and dates only, already JSON values)."""
    block: dict[str, Any] = {
        "household_id": str(household.id),
        "reference": household.reference,
        "referring_organisation_id": str(household.referring_organisation_id),
        "stage": household.stage.value,
        "stage_entered_at": household.stage_entered_at.isoformat(),
    }
    return {
        "household_id": household.id,
        "organisation_id": household.referring_organisation_id,
        "data": block | data,
    }
