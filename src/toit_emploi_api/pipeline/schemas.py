"""Request and response bodies of the pipeline: stage moves and the steps' own records."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from toit_emploi_api.core.schemas import InputModel, OutputModel
from toit_emploi_api.pipeline.models import FollowUpDomain
from toit_emploi_api.reference.text import NoteText, ShortText
from toit_emploi_api.vocab.stages import ApplicationStatus, HistoryKind, Stage, WithdrawalReason
from toit_emploi_api.vocab.statuses import (
    AllocationStatus,
    ContractType,
    PlacementParty,
    PlacementStatus,
    RelayStayStatus,
)


# --- stage transitions ---------------------------------------------------------------------------------------
class TransitionCreate(InputModel):
    to: Stage = Field(description="The stage to move the household to.")
    reason: WithdrawalReason | None = Field(
        default=None, description="A withdrawal reason: required to withdraw; optional for other moves."
    )
    note: NoteText | None = Field(
        default=None,
        description="Why. Required for a withdrawal; for `completed` it is the closure note (entered droit commun).",
    )
    closure_date: date | None = Field(
        default=None, description="Only for `completed`: the date the household entered droit commun (not future)."
    )


TRANSITION_EXAMPLES = {
    "retain": {"summary": "Retain an application", "value": {"to": "matching"}},
    "withdraw": {
        "summary": "Withdraw",
        "value": {"to": "withdrawn", "reason": "household_declined", "note": "The family prefers to stay in Paris."},
    },
    "complete": {
        "summary": "Close the follow-up",
        "value": {"to": "completed", "closure_date": "2026-11-20", "note": "Entered droit commun."},
    },
}


class ActorOut(OutputModel):
    kind: str = Field(description="user, client or system.")
    id: uuid.UUID | None
    role: str | None


_KIND = "`move` (a stage move), `application_submitted` or `application_presented` (a step of the application inside "
_KIND += "diagnostic: from and to diagnostic)."


class TransitionBriefOut(OutputModel):
    id: uuid.UUID
    kind: HistoryKind = Field(default=HistoryKind.MOVE, description=_KIND)
    from_stage: Stage
    to_stage: Stage
    at: datetime
    by: ActorOut
    reason: WithdrawalReason | None


class TransitionOut(TransitionBriefOut):
    note: str | None = Field(description="Not shown to partner workers.")


class HouseholdStageOut(OutputModel):
    household_id: uuid.UUID
    stage: Stage
    application_status: ApplicationStatus = Field(
        description="The application's step inside diagnostic: draft, submitted, presented."
    )
    stage_entered_at: datetime
    days_in_stage: int = Field(ge=0, description="Whole days since the household entered its current stage.")
    closure_date: date | None = None
    withdrawal_reason: WithdrawalReason | None = None


class TransitionResultOut(HouseholdStageOut):
    transition: TransitionOut
    released: dict[str, int] = Field(
        default_factory=dict,
        description="Withdrawal: how many allocations, relay stays and placements were released; step back "
        "relay_stay → matching: how many reserved allocations were released. Empty for other moves.",
    )


class TransitionHistoryItemOut(OutputModel):
    id: uuid.UUID
    kind: HistoryKind = Field(description=_KIND)
    from_stage: Stage
    to_stage: Stage
    at: datetime
    by: ActorOut | None = Field(default=None, description="Who moved the household. Omitted for partner workers.")
    reason: WithdrawalReason | None = Field(default=None, description="Omitted for partner workers.")
    note: str | None = Field(default=None, description="Omitted for partner workers.")


class StageHistoryOut(HouseholdStageOut):
    items: list[TransitionHistoryItemOut] = Field(
        description="Every move and application step, oldest first. Partner workers get only `id`, `kind`, "
        "`from_stage`, `to_stage` and `at` (and no `withdrawal_reason` on the household)."
    )


class ApplicationStepIn(InputModel):
    note: NoteText | None = Field(default=None, description="Optional; not shown to partner workers.")


APPLICATION_STEP_EXAMPLES = {
    "plain": {"summary": "Without a note", "value": {}},
    "note": {"summary": "With a note", "value": {"note": "Complete file, consent signed."}},
}


class ApplicationStepOut(HouseholdStageOut):
    event: TransitionOut = Field(description="The step recorded in the stage history.")


class PipelineEventOut(OutputModel):
    at: datetime
    action: str = Field(
        description="e.g. household.transition, placement.update, relay_stay.outcome, allocation.reserve."
    )
    entity_type: str
    entity_id: uuid.UUID | None
    by: ActorOut
    details: dict[str, object] | None = Field(description="Codes and field names only, never personal data.")


# --- placements ------------------------------------------------------------------------------------------------
class PlacementCreate(InputModel):
    member_id: uuid.UUID = Field(description="An adult member of the household.")
    job_opening_id: uuid.UUID
    note: NoteText | None = None


PLACEMENT_CREATE_EXAMPLES = {
    "propose": {
        "summary": "Propose a job opening to an adult",
        "value": {
            "member_id": "6f1c1f0e-3a9b-4a7e-9a38-0d2f4f0b8a11",
            "job_opening_id": "0b7e5c0e-8f1d-4c2a-9a54-3d6f2b1e7c90",
        },
    }
}


class PlacementUpdate(InputModel):
    status: PlacementStatus | None = Field(
        default=None, description="proposed → interview → offered → hired; open → declined | cancelled."
    )
    declined_by: PlacementParty | None = Field(
        default=None, description="Required with status=declined, refused otherwise."
    )
    reason: ShortText | None = Field(
        default=None, description="Why it was declined (required) or cancelled (optional); refused with other moves."
    )
    contract_type: ContractType | None = Field(
        default=None, description="Required with status=hired, refused otherwise."
    )
    start_date: date | None = Field(
        default=None,
        description="Contract start date: required with status=hired (between 2014-01-01 and two years from today), "
        "refused otherwise.",
    )
    note: NoteText | None = Field(default=None, description="The only field a closed placement still accepts.")


PLACEMENT_UPDATE_EXAMPLES = {
    "interview": {"summary": "The employer agreed to meet", "value": {"status": "interview"}},
    "hire": {
        "summary": "Hired",
        "value": {"status": "hired", "contract_type": "cdi", "start_date": "2027-01-04"},
    },
    "decline": {
        "summary": "Declined by the employer",
        "value": {"status": "declined", "declined_by": "employer", "reason": "Position filled internally"},
    },
}


class PlacementOut(OutputModel):
    id: uuid.UUID
    household_id: uuid.UUID
    member_id: uuid.UUID
    job_opening_id: uuid.UUID
    status: PlacementStatus
    declined_by: PlacementParty | None
    reason: str | None
    contract_type: ContractType | None
    start_date: date | None
    note: str | None
    created_at: datetime
    updated_at: datetime


# --- relay stays -----------------------------------------------------------------------------------------------
class RelayStayCreate(InputModel):
    unit_id: uuid.UUID = Field(description="A relay apartment (a housing unit with the relay flag).")
    start_date: date
    end_date: date = Field(description="3 to 5 days inclusive: end_date - start_date is 2, 3 or 4 days.")

    @model_validator(mode="after")
    def _three_to_five_days(self) -> RelayStayCreate:
        if not 2 <= (self.end_date - self.start_date).days <= 4:
            raise ValueError("a relay stay lasts 3 to 5 days inclusive (end_date - start_date between 2 and 4)")
        return self


RELAY_STAY_EXAMPLES = {
    "book": {
        "summary": "Book 4 days",
        "value": {
            "unit_id": "9d3c2b1a-6e4f-4a8b-b7c6-1f2e3d4c5b6a",
            "start_date": "2026-12-07",
            "end_date": "2026-12-10",
        },
    }
}


class RelayStayOutcomeIn(InputModel):
    family_agrees: bool
    employer_agrees: bool
    note: NoteText | None = Field(default=None, description="Required to go back to matching when a party disagrees.")


OUTCOME_EXAMPLES = {
    "validated": {"summary": "Both agree", "value": {"family_agrees": True, "employer_agrees": True}},
    "disagreed": {
        "summary": "The family disagrees",
        "value": {"family_agrees": False, "employer_agrees": True, "note": "Too far from the children's school."},
    },
}


class RelayStayOut(OutputModel):
    id: uuid.UUID
    household_id: uuid.UUID
    unit_id: uuid.UUID
    start_date: date
    end_date: date
    status: RelayStayStatus
    family_agrees: bool | None
    employer_agrees: bool | None
    outcome_note: str | None
    outcome_recorded_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime


# --- housing allocation ----------------------------------------------------------------------------------------
class AllocationCreate(InputModel):
    unit_id: uuid.UUID = Field(description="A vacant housing unit that is not a relay apartment.")
    override_reason: ShortText | None = Field(
        default=None, description="Needed to reserve a unit with fewer bedrooms than 1 + ceil(children / 2)."
    )


ALLOCATION_CREATE_EXAMPLES = {
    "reserve": {"summary": "Reserve a T4", "value": {"unit_id": "2a4f6b8c-0d1e-4f2a-8b3c-5d6e7f8a9b0c"}}
}


class AllocationLease(InputModel):
    lease_signed_date: date
    move_in_date: date

    @model_validator(mode="after")
    def _move_in_after_signing(self) -> AllocationLease:
        if self.move_in_date < self.lease_signed_date:
            raise ValueError("move_in_date cannot be before lease_signed_date")
        return self


ALLOCATION_LEASE_EXAMPLES = {
    "lease": {"summary": "Lease signed", "value": {"lease_signed_date": "2027-01-02", "move_in_date": "2027-01-03"}}
}


class AllocationCancel(InputModel):
    reason: ShortText | None = None


class AllocationOut(OutputModel):
    id: uuid.UUID
    household_id: uuid.UUID
    unit_id: uuid.UUID
    status: AllocationStatus
    override_reason: str | None
    lease_signed_date: date | None
    move_in_date: date | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime


# --- follow-up -------------------------------------------------------------------------------------------------
FollowUpNote = Annotated[NoteText, Field(min_length=1)]


class FollowUpEntryCreate(InputModel):
    entry_date: date = Field(description="When the support happened (not in the future).")
    domain: FollowUpDomain
    note: FollowUpNote


FOLLOW_UP_EXAMPLES = {
    "schooling": {
        "summary": "Schooling",
        "value": {"entry_date": "2027-02-01", "domain": "schooling", "note": "Both children enrolled."},
    }
}


class FollowUpEntryOut(OutputModel):
    id: uuid.UUID
    household_id: uuid.UUID
    entry_date: date
    domain: FollowUpDomain
    note: str
    author: ActorOut
    created_at: datetime


# --- `sort` of the pipeline's lists (`-` for descending) ----------------------------------------------------------
class PlacementSort(StrEnum):
    """`sort` of the placement lists (a household's and the desk's)."""

    CREATED_AT, CREATED_AT_DESC = "created_at", "-created_at"
    UPDATED_AT, UPDATED_AT_DESC = "updated_at", "-updated_at"
    START_DATE, START_DATE_DESC = "start_date", "-start_date"


class RelayStaySort(StrEnum):
    """`sort` of the relay stay lists (a household's and the desk's)."""

    START_DATE, START_DATE_DESC = "start_date", "-start_date"
    CREATED_AT, CREATED_AT_DESC = "created_at", "-created_at"


class FollowUpEntrySort(StrEnum):
    """`sort` of a household's follow-up entries (ties by when they were written, in the same direction)."""

    ENTRY_DATE, ENTRY_DATE_DESC = "entry_date", "-entry_date"
    CREATED_AT, CREATED_AT_DESC = "created_at", "-created_at"
