"""Request and response bodies of households and their members."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, ConfigDict, Field

from toit_emploi_api.core.clock import today
from toit_emploi_api.core.schemas import InputModel, OutputModel
from toit_emploi_api.households.models import FrenchLevel, HousingSituation, SchoolingLevel
from toit_emploi_api.reference.codes import RomeCode
from toit_emploi_api.reference.text import BriefText, MediumText, NoteText, PersonName
from toit_emploi_api.vocab.stages import ApplicationStatus, Stage, WithdrawalReason
from toit_emploi_api.vocab.statuses import MemberRole

MAX_MEMBERS = 20
MAX_ROME_CODES = 10
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)


def _not_in_future(value: date) -> date:
    if value > today():
        raise ValueError("must not be in the future")
    return value


def _dedupe(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


PastDate = Annotated[
    date,
    Field(ge=EARLIEST_DATE, description="A date between 1900-01-01 and today (Europe/Paris)."),
    AfterValidator(_not_in_future),
]
AnyDate = Annotated[date, Field(ge=EARLIEST_DATE, le=LATEST_DATE, description="1900-01-01 to 2100-12-31.")]
RomeCodes = Annotated[
    list[RomeCode],
    Field(
        max_length=MAX_ROME_CODES,
        description=f"ROME codes of the trades the adult can do (at most {MAX_ROME_CODES}; duplicates removed).",
        examples=[["F1703", "F1606"]],
    ),
    AfterValidator(_dedupe),
]
Experience = Annotated[int, Field(ge=0, le=60, description="Years of professional experience, 0-60.")]
# The base types carry their own bounds (adding StringConstraints on top of them does not raise their limit and
# reports the wrong unit): 1000, 500 and 1000 characters, matching the columns.
NeedsText = MediumText
ConsentScope = BriefText
Qualifications = MediumText
MemberName = PersonName  # 1-100 characters, one line, at least one letter

# Fields of the adults' professional profile; children carry only the schooling level.
PROFILE_FIELDS = (
    "rome_codes",
    "years_of_experience",
    "driving_licence",
    "french_level",
    "qualifications",
    "right_to_work_expiry",
)

_ADULT_EXAMPLE: dict[str, Any] = {
    "first_name": "Benoît",
    "last_name": "Traoré",
    "birth_date": "1986-04-12",
    "role": "head",
    "rome_codes": ["F1703", "F1606"],
    "years_of_experience": 12,
    "driving_licence": True,
    "french_level": "b2",
    "qualifications": "CAP maçon",
}
_CHILD_EXAMPLE: dict[str, Any] = {
    "first_name": "Aïcha",
    "last_name": "Traoré",
    "birth_date": "2015-09-01",
    "role": "child",
    "schooling_level": "elementaire",
}


# --- members -----------------------------------------------------------------------------------------------
class MemberCreate(InputModel):
    """A member. Role `child` = a child (under 18 today); any other role = an adult (18 or older today).

    Adults may carry the professional profile fields; children only `schooling_level`."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ADULT_EXAMPLE, _CHILD_EXAMPLE]})

    first_name: MemberName
    last_name: MemberName
    birth_date: PastDate
    role: MemberRole
    rome_codes: RomeCodes | None = None
    years_of_experience: Experience | None = None
    driving_licence: bool | None = None
    french_level: FrenchLevel | None = None
    qualifications: Qualifications | None = None
    right_to_work_expiry: AnyDate | None = Field(default=None, description="Adults only; 1900-01-01 to 2100-12-31.")
    schooling_level: SchoolingLevel | None = Field(default=None, description="Children only.")


class MemberUpdate(InputModel):
    """Only the fields sent are changed; `null` clears an optional field. Names, birth date and role cannot be null."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"rome_codes": ["G1602"], "french_level": "b1"}]})
    NON_NULLABLE: ClassVar[tuple[str, ...]] = ("first_name", "last_name", "birth_date", "role")

    first_name: MemberName | None = None
    last_name: MemberName | None = None
    birth_date: PastDate | None = None
    role: MemberRole | None = None
    rome_codes: RomeCodes | None = None
    years_of_experience: Experience | None = None
    driving_licence: bool | None = None
    french_level: FrenchLevel | None = None
    qualifications: Qualifications | None = None
    right_to_work_expiry: AnyDate | None = None
    schooling_level: SchoolingLevel | None = None


class MemberOut(OutputModel):
    id: uuid.UUID
    household_id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: date
    role: MemberRole
    is_adult: bool = Field(description="False for role `child`, true for every other role.")
    rome_codes: list[str]
    years_of_experience: int | None
    driving_licence: bool | None
    french_level: FrenchLevel | None
    qualifications: str | None
    right_to_work_expiry: date | None
    schooling_level: SchoolingLevel | None
    created_at: datetime
    updated_at: datetime


# --- households --------------------------------------------------------------------------------------------
_HOUSEHOLD_EXAMPLE: dict[str, Any] = {
    "housing_situation": "hotel_115",
    "needs_constraints": "Ground floor preferred; school nearby.",
    "consent_date": "2026-11-20",
    "consent_scope": "Processing of the diagnostic file by Aurore and its partners for the programme.",
    "last_contact_date": "2026-11-20",
    "members": [
        _ADULT_EXAMPLE,
        {
            "first_name": "Mariam",
            "last_name": "Traoré",
            "birth_date": "1990-02-03",
            "role": "partner",
            "rome_codes": ["K1304"],
            "french_level": "a2",
        },
        _CHILD_EXAMPLE,
        {
            "first_name": "Moussa",
            "last_name": "Traoré",
            "birth_date": "2018-05-20",
            "role": "child",
            "schooling_level": "elementaire",
        },
        {
            "first_name": "Fanta",
            "last_name": "Traoré",
            "birth_date": "2023-01-10",
            "role": "child",
            "schooling_level": "creche",
        },
    ],
}


class HouseholdCreate(InputModel):
    """A new household, in stage `diagnostic`, optionally with its members.

    `referring_organisation_id`: partner workers leave it out (their organisation is used); the Paris referent,
    the service manager and admins may choose it (default: their own organisation)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_HOUSEHOLD_EXAMPLE]})

    referring_organisation_id: uuid.UUID | None = None
    housing_situation: HousingSituation
    needs_constraints: NeedsText | None = Field(default=None, description="At most 1000 characters; no medical detail.")
    consent_date: PastDate | None = None
    consent_scope: ConsentScope | None = Field(default=None, description="At most 500 characters.")
    last_contact_date: PastDate | None = None
    manager_notes: NoteText | None = Field(
        default=None, description="Service manager's notes (at most 4000 characters); service manager and admin only."
    )
    members: list[MemberCreate] = Field(default_factory=list, max_length=MAX_MEMBERS)


class HouseholdUpdate(InputModel):
    """Only the fields sent are changed; `null` clears an optional field (not `housing_situation`)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"last_contact_date": "2026-11-23", "housing_situation": "shelter"}]}
    )
    NON_NULLABLE: ClassVar[tuple[str, ...]] = ("referring_organisation_id", "housing_situation")

    referring_organisation_id: uuid.UUID | None = Field(default=None, description="Service manager and admin only.")
    housing_situation: HousingSituation | None = None
    needs_constraints: NeedsText | None = None
    consent_date: PastDate | None = None
    consent_scope: ConsentScope | None = None
    last_contact_date: PastDate | None = None
    manager_notes: NoteText | None = Field(default=None, description="Service manager and admin only.")


class HouseholdOut(OutputModel):
    """A household as every allowed reader sees it (the service manager's notes are not part of it)."""

    id: uuid.UUID
    reference: str = Field(examples=["TE-2026-0042"])
    referring_organisation_id: uuid.UUID
    created_by_organisation_id: uuid.UUID
    housing_situation: HousingSituation
    needs_constraints: str | None
    consent_date: date | None
    consent_scope: str | None
    stage: Stage = Field(description="Read-only here; moved by the pipeline.")
    application_status: ApplicationStatus = Field(
        description="The application's step inside diagnostic (draft, submitted, presented); read-only here, moved "
        "by `POST …/application/submit` and `…/present`. Households recorded before these steps existed are draft."
    )
    stage_entered_at: datetime
    days_in_stage: int = Field(description="Whole days (24-hour periods) since the household entered its stage.")
    last_contact_date: date | None
    closure_date: date | None
    withdrawal_reason: WithdrawalReason | None
    adult_count: int
    children_count: int
    members: list[MemberOut]
    created_at: datetime
    updated_at: datetime


class HouseholdStaffOut(HouseholdOut):
    """The household with the service manager's notes: Paris referent, service manager and admin."""

    manager_notes: str | None
    closure_note: str | None


class HouseholdStatusOut(OutputModel):
    """What a partner worker reads of its household once it has left diagnostic: its stage and dates only.

    No members, needs, consent, housing situation, closure or withdrawal details."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    id: uuid.UUID
    reference: str = Field(examples=["TE-2026-0042"])
    referring_organisation_id: uuid.UUID
    stage: Stage
    stage_entered_at: datetime
    days_in_stage: int = Field(description="Whole days (24-hour periods) since the household entered its stage.")
    last_contact_date: date | None
    adult_count: int
    children_count: int
    created_at: datetime
    updated_at: datetime


HouseholdView = HouseholdStaffOut | HouseholdOut | HouseholdStatusOut
HouseholdListItem = HouseholdOut | HouseholdStatusOut


@dataclass(frozen=True)
class HouseholdFilters:
    """List filters. `name_tokens` are already folded (reference.text.fold) and split on spaces."""

    stages: tuple[Stage, ...] = ()
    application_statuses: tuple[ApplicationStatus, ...] = ()
    referring_organisation_id: uuid.UUID | None = None
    has_children: bool | None = None
    rome_code: str | None = None
    created_since: date | None = None
    created_before: date | None = None
    name_tokens: tuple[str, ...] = ()
    # A search (`q`) that folds to no word at all ("_", "-", "'"): it matches no name, so nothing is listed.
    name_matches_nothing: bool = False

    def used(self) -> list[str]:
        """Names of the query parameters that filter (for the audit trail: names only, never their values)."""
        names = {
            "stage": bool(self.stages),
            "application_status": bool(self.application_statuses),
            "referring_organisation_id": self.referring_organisation_id is not None,
            "has_children": self.has_children is not None,
            "rome_code": self.rome_code is not None,
            "created_since": self.created_since is not None,
            "created_before": self.created_before is not None,
            "q": bool(self.name_tokens) or self.name_matches_nothing,
        }
        return [name for name, on in names.items() if on]


class HouseholdSort(StrEnum):
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    REFERENCE = "reference"
    REFERENCE_DESC = "-reference"


class MemberSort(StrEnum):
    """`sort` of a household's members (`created_at`: the household's order; last names without case or accents)."""

    CREATED_AT, CREATED_AT_DESC = "created_at", "-created_at"
    LAST_NAME, LAST_NAME_DESC = "last_name", "-last_name"
    BIRTH_DATE, BIRTH_DATE_DESC = "birth_date", "-birth_date"


# --- possible duplicates -----------------------------------------------------------------------------------
class DuplicateHousehold(OutputModel):
    id: uuid.UUID
    reference: str
    referring_organisation_id: uuid.UUID
    stage: Stage
    created_at: datetime


class SharedMember(OutputModel):
    first_name: str
    last_name: str
    birth_date: date
    member_ids: list[uuid.UUID] = Field(description="The member in the first household, then in the second.")


class DuplicatePair(OutputModel):
    first: DuplicateHousehold
    second: DuplicateHousehold
    shared_members: list[SharedMember]


class DuplicateSort(StrEnum):
    """`sort` of the possible duplicates: by the creation of the newer household of each pair."""

    CREATED_AT, CREATED_AT_DESC = "created_at", "-created_at"
