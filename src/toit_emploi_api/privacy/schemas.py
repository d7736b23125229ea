"""Privacy's answers and bodies: audit events, the retention due list and runs, erasure, the access export."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from toit_emploi_api.core.schemas import InputModel, OutputModel
from toit_emploi_api.households.schemas import HouseholdStaffOut
from toit_emploi_api.pipeline.schemas import (
    ActorOut,
    AllocationOut,
    FollowUpEntryOut,
    PlacementOut,
    RelayStayOut,
    TransitionOut,
)
from toit_emploi_api.vocab.stages import Stage


class AuditEventOut(OutputModel):
    """One event of the audit trail: who (user, API client, `system` or `anonymous`), what, which object, when."""

    id: uuid.UUID
    at: datetime
    actor: ActorOut
    actor_organisation_id: uuid.UUID | None
    action: str = Field(examples=["household.read"], description="An audit action (`<object>.<verb>`).")
    object_type: str = Field(examples=["household"])
    object_id: uuid.UUID | None
    household_id: uuid.UUID | None
    request_id: str | None = Field(description="The X-Request-ID of the request that made it; none outside HTTP.")
    details: dict[str, Any] | None = Field(description="Field names, codes and ids only; never names or notes.")


class AdminAuditEventOut(AuditEventOut):
    """An event as the admin reads it: with the households a list or an export showed."""

    household_ids: list[uuid.UUID] | None = Field(description="Lists and exports: the households shown.")


class DueHouseholdOut(OutputModel):
    """A household whose retention period ends within 30 days (or has ended)."""

    household_id: uuid.UUID
    reference: str
    stage: Stage
    last_contact_date: date = Field(description="The last contact (the creation date when none was recorded).")
    due_on: date = Field(description="The first day on which the last contact is more than the retention period old.")
    is_due: bool = Field(description="`due_on` is today or past.")
    decision_needed: bool = Field(
        description="The file is still active: it is never anonymised automatically; the service manager decides "
        "(withdraw it, record a contact, or erase it)."
    )


class RetentionRunIn(InputModel):
    """`dry_run: true` lists what would be anonymised (optionally `as_of` another date); a real run uses today."""

    dry_run: bool = False
    as_of: date | None = Field(default=None, description="Only with `dry_run: true`.")

    @model_validator(mode="after")
    def _as_of_only_dry(self) -> RetentionRunIn:
        if self.as_of is not None and not self.dry_run:
            raise ValueError("as_of is only accepted with dry_run: true")
        return self


class AnonymisedOut(OutputModel):
    household_id: uuid.UUID
    reference: str
    stage: Stage
    due_on: date


class RetentionRunOut(OutputModel):
    """What a run anonymised (or, dry, would anonymise): completed and withdrawn files past their retention."""

    dry_run: bool
    as_of: date
    count: int
    households: list[AnonymisedOut]
    skipped: bool = Field(
        default=False, description="Another run held the lock (several workers): this one did nothing."
    )


class ErasureReason(StrEnum):
    ERASURE_REQUEST = "erasure_request"  # the family asked for erasure (GDPR art. 17)
    CONSENT_WITHDRAWN = "consent_withdrawn"
    UNLAWFUL_PROCESSING = "unlawful_processing"
    OTHER = "other"


class AnonymiseIn(InputModel):
    """Erase the household's personal data now: a reason code (kept in the audit trail)."""

    reason: ErasureReason


class AnonymiseOut(OutputModel):
    household_id: uuid.UUID
    anonymised_at: datetime


class HouseholdExport(OutputModel):
    """Everything the programme holds about one household, to hand over on an access request (GDPR art. 15)."""

    exported_at: datetime
    household: HouseholdStaffOut
    anonymised_at: datetime | None
    stage_history: list[TransitionOut]
    placements: list[PlacementOut]
    relay_stays: list[RelayStayOut]
    allocations: list[AllocationOut]
    follow_up_entries: list[FollowUpEntryOut]
    access_log: list[AuditEventOut]


class DueSort(StrEnum):
    """`sort` of the files due for anonymisation."""

    DUE_ON, DUE_ON_DESC = "due_on", "-due_on"
    REFERENCE, REFERENCE_DESC = "reference", "-reference"
