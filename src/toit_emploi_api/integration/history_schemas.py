"""The programme's history, as sent to `POST /api/v1/history/import` (one household per JSON line), and the answers.

Every date lies between the programme's launch (2014-01-01) and today (Paris)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from toit_emploi_api.core.clock import PROGRAMME_START
from toit_emploi_api.households.models import HousingSituation
from toit_emploi_api.households.schemas import MemberCreate
from toit_emploi_api.pipeline.models import FollowUpDomain
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import ContractType, PlacementParty, PlacementStatus

HistoryDate = Annotated[date, Field(ge=PROGRAMME_START)]
Key = Annotated[str, Field(min_length=1, max_length=100)]
Note = Annotated[str, Field(min_length=1, max_length=4000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HistoryMember(MemberCreate):
    """A member as `POST /households/{id}/members` takes it, plus its `key` (placements name it)."""

    key: Key


class HistoryMove(_In):
    """One stage move, on its date (the path's order and guards are checked as of that date)."""

    to: Stage
    on: HistoryDate
    reason: str | None = Field(default=None, max_length=40, description="Withdrawal: the reason code.")
    note: str | None = Field(default=None, max_length=4000, description="Withdrawal: why (required).")


class HistoryPlacement(_In):
    """A job opening (existing) proposed to an adult, with the date of each status it reached."""

    member: Key
    job_opening_id: uuid.UUID
    proposed_on: HistoryDate
    interview_on: HistoryDate | None = None
    offered_on: HistoryDate | None = None
    status: PlacementStatus = Field(description="The last status reached.")
    closed_on: HistoryDate | None = Field(default=None, description="When hired, declined or cancelled.")
    contract_type: ContractType | None = None
    start_date: date | None = None
    declined_by: PlacementParty | None = None
    reason: str | None = Field(default=None, max_length=200)


class HistoryRelayStay(_In):
    """A relay stay of 3 to 5 days (inclusive) in a relay apartment (existing unit), ended with its outcome."""

    unit_id: uuid.UUID
    start_date: HistoryDate
    end_date: HistoryDate
    family_agrees: bool
    employer_agrees: bool
    note: str | None = Field(default=None, max_length=4000, description="Why a party disagreed (required then).")


class HistoryAllocation(_In):
    """The housing unit (existing, not a relay apartment) the household got, with its lease dates."""

    unit_id: uuid.UUID
    reserved_on: HistoryDate
    lease_signed_date: HistoryDate
    move_in_date: HistoryDate
    override_reason: str | None = Field(
        default=None, max_length=500, description="Why a unit with fewer bedrooms than 1 + ceil(children / 2)."
    )


class HistoryFollowUp(_In):
    entry_date: HistoryDate
    domain: FollowUpDomain
    note: Note


class HistoryClosure(_In):
    date: HistoryDate
    note: Note


class HistoryHousehold(_In):
    """One household's file and path. `referring_organisation_id` defaults to the importer's organisation."""

    key: Key
    referring_organisation_id: uuid.UUID | None = None
    created_on: HistoryDate
    housing_situation: HousingSituation
    needs_constraints: str | None = Field(default=None, max_length=1000)
    consent_date: HistoryDate | None = None
    consent_scope: str | None = Field(default=None, max_length=500)
    submitted_on: HistoryDate | None = Field(
        default=None, description="The application's submission by the partner (inside diagnostic)."
    )
    presented_on: HistoryDate | None = Field(
        default=None, description="The application's presentation to the service manager (after its submission)."
    )
    last_contact_date: HistoryDate | None = Field(
        default=None, description="Default: the date of the household's last fact in the file."
    )
    members: list[HistoryMember] = Field(default_factory=list, max_length=20)
    moves: list[HistoryMove] = Field(default_factory=list, max_length=50)
    placements: list[HistoryPlacement] = Field(default_factory=list, max_length=50)
    relay_stays: list[HistoryRelayStay] = Field(default_factory=list, max_length=20)
    allocation: HistoryAllocation | None = None
    follow_up_entries: list[HistoryFollowUp] = Field(default_factory=list, max_length=500)
    closure: HistoryClosure | None = None


class HistoryLineError(BaseModel):
    line: int = Field(description="The line of the file (JSON lines: one household a line, from 1).")
    key: str | None
    field: str = Field(description="Where, as a JSON path inside the line (`moves.2.on`).")
    message: str


class HistoryHouseholdOut(BaseModel):
    key: str
    line: int
    stage: Stage
    id: uuid.UUID | None
    reference: str | None


class HistoryImportReport(BaseModel):
    id: uuid.UUID | None = Field(description="The import (null on a dry run).")
    dry_run: bool
    households: list[HistoryHouseholdOut]
    counts: dict[str, int]
    stages: dict[str, int] = Field(description="Households by their current stage after the import.")


class HistoryImportOut(BaseModel):
    id: uuid.UUID
    status: str
    households: int
    counts: dict[str, Any]
    created_at: datetime
    rolled_back_at: datetime | None
