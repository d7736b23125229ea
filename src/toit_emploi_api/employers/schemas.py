"""Request and response bodies for employers and job openings.

Decimals (latitude/longitude, hours per week, wages) are accepted as JSON numbers or strings and returned as
JSON strings, so that no value ever goes through a binary float: the monthly gross wage is always written with
exactly two decimals (``"1834.56"``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    computed_field,
    model_validator,
)

from toit_emploi_api.core.clock import CALENDAR_END, PROGRAMME_START
from toit_emploi_api.core.schemas import InputModel, MoneyInput, MoneyOut, OutputModel
from toit_emploi_api.reference.codes import InseeCommuneCode, PostCode, RomeCode, Siret, rome_label
from toit_emploi_api.reference.communes import COMMUNE_NAME_DOC
from toit_emploi_api.reference.text import FoldableName, LongText, Name, NoteText, ShortText, Title
from toit_emploi_api.vocab.statuses import ContractType, JobOpeningStatus

# --- field types -------------------------------------------------------------------------------------------
Latitude = Annotated[
    Decimal,
    Field(ge=-90, le=90, max_digits=8, decimal_places=6, description="WGS84 latitude, -90..90, up to 6 decimals."),
]
Longitude = Annotated[
    Decimal,
    Field(ge=-180, le=180, max_digits=9, decimal_places=6, description="WGS84 longitude, -180..180, up to 6 decimals."),
]
Phone = Annotated[
    str,
    Field(
        min_length=6,
        max_length=30,
        pattern=r"^\+?[0-9][0-9 .()\-]{4,28}$",
        description="Phone number: digits, spaces, dots, dashes, parentheses, optional leading +.",
        examples=["04 71 00 00 00"],
    ),
]
ContactEmail = Annotated[
    str,
    Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["rh@example.fr"]),
]


def _no_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


HoursPerWeek = Annotated[
    Decimal,
    BeforeValidator(_no_boolean),
    Field(
        gt=0,
        le=48,
        max_digits=3,
        decimal_places=1,
        description='Weekly hours, > 0 and ≤ 48, one decimal; a JSON number or string (`35`, `17.5`, `"17.5"`).',
    ),
]
MonthlyWage = Annotated[
    Decimal,
    MoneyInput,
    Field(
        ge=0,
        le=100000,
        max_digits=8,
        decimal_places=2,
        description="Monthly gross wage in euros with at most 2 decimals (0..100000). "
        'Send a JSON string (`"1834.56"`) or a whole JSON number (`1834`); JSON numbers with a fraction '
        "(`1834.56`) are refused (binary floats), as are more than 2 decimals (never rounded).",
        examples=["1834.56"],
    ),
]
Positions = Annotated[
    StrictInt,
    Field(ge=1, le=1000, description="Number of people wanted, 1..1000: a JSON integer (not a string, nor true)."),
]
StartDate = Annotated[date, Field(ge=PROGRAMME_START, le=CALENDAR_END, description="2014-01-01..2100-12-31.")]


def _refuse_null(data: Any, fields: tuple[str, ...]) -> Any:
    if isinstance(data, dict):
        nulls = [f for f in fields if f in data and data[f] is None]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null (leave the field out to keep its value)")
    return data


# --- employers ---------------------------------------------------------------------------------------------
class EmployerCreate(InputModel):
    siret: Siret
    legal_name: Title = Field(examples=["Menuiserie du Cantal SARL"])
    trade_name: Title | None = None
    sector: FoldableName | None = Field(
        default=None, examples=["Bâtiment"], description="Free text, 1..100 characters."
    )
    address: ShortText | None = None
    postcode: PostCode | None = None
    commune_insee: InseeCommuneCode
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    contact_name: Name | None = None
    contact_phone: Phone | None = None
    contact_email: ContactEmail | None = None
    notes: NoteText | None = None
    active: bool = True

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "siret": "77568497000244",
                    "legal_name": "Menuiserie du Cantal SARL",
                    "sector": "Bâtiment",
                    "address": "12 avenue de la République",
                    "postcode": "15000",
                    "commune_insee": "15014",
                    "latitude": "44.926400",
                    "longitude": "2.444000",
                    "contact_name": "Claire Martin",
                    "contact_phone": "04 71 00 00 00",
                    "contact_email": "rh@menuiserie-cantal.example",
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _coordinates_pair(self) -> EmployerCreate:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together: give both or neither")
        return self


class EmployerUpdate(InputModel):
    """Only the fields present change; `null` clears an optional field."""

    NON_NULLABLE: ClassVar[tuple[str, ...]] = ("siret", "legal_name", "commune_insee", "active")

    siret: Siret | None = None
    legal_name: Title | None = None
    trade_name: Title | None = None
    sector: FoldableName | None = None
    address: ShortText | None = None
    postcode: PostCode | None = None
    commune_insee: InseeCommuneCode | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    contact_name: Name | None = None
    contact_phone: Phone | None = None
    contact_email: ContactEmail | None = None
    notes: NoteText | None = None
    active: bool | None = Field(
        default=None, description="false deactivates the employer; refused (409) while it has open job openings."
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"contact_phone": "04 71 11 22 33"}, {"active": False}]})

    @model_validator(mode="before")
    @classmethod
    def _no_null_for_required(cls, data: Any) -> Any:
        return _refuse_null(data, cls.NON_NULLABLE)


class EmployerPublicOut(OutputModel):
    """What partner workers see of an employer: no contact details, no address, no notes."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    id: uuid.UUID
    legal_name: str
    trade_name: str | None
    sector: str | None
    commune_insee: str
    commune_name: str | None = Field(description=COMMUNE_NAME_DOC)


class EmployerSummaryOut(OutputModel):
    """The employer block of a job opening, for the programme's staff."""

    id: uuid.UUID
    legal_name: str
    trade_name: str | None
    sector: str | None
    commune_insee: str
    commune_name: str | None = Field(description=COMMUNE_NAME_DOC)
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    active: bool


class EmployerOut(OutputModel):
    id: uuid.UUID
    siret: str
    legal_name: str
    trade_name: str | None
    sector: str | None
    address: str | None
    postcode: str | None
    commune_insee: str
    commune_name: str | None = Field(description=COMMUNE_NAME_DOC)
    latitude: Decimal | None
    longitude: Decimal | None
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    notes: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class OpenJobOpeningRef(OutputModel):
    """Listed in the 409 answer when deactivating an employer that still has open job openings."""

    id: uuid.UUID
    title: str


# --- job openings ------------------------------------------------------------------------------------------
class JobOpeningCreate(InputModel):
    """A new job opening is always `open`."""

    rome_code: RomeCode
    title: Title = Field(examples=["Maçon qualifié"])
    contract_type: ContractType
    hours_per_week: HoursPerWeek | None = None
    monthly_gross_wage: MonthlyWage | None = None
    open_positions: Positions = 1
    start_date: StartDate | None = None
    description: LongText | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rome_code": "F1703",
                    "title": "Maçon qualifié",
                    "contract_type": "cdi",
                    "hours_per_week": "35",
                    "monthly_gross_wage": "1950.00",
                    "open_positions": 2,
                    "start_date": "2027-01-04",
                    "description": "Chantiers de rénovation autour d'Aurillac.",
                }
            ]
        }
    )


class JobOpeningUpdate(InputModel):
    """Only the fields present change; `null` clears an optional field.

    Status moves through the API: open → closed, closed → open, filled → closed, and filled → open when the
    opening then has more positions than hires. Only the pipeline sets `filled` (when hires reach the positions).
    """

    NON_NULLABLE: ClassVar[tuple[str, ...]] = ("rome_code", "title", "contract_type", "open_positions", "status")

    rome_code: RomeCode | None = None
    title: Title | None = None
    contract_type: ContractType | None = None
    hours_per_week: HoursPerWeek | None = None
    monthly_gross_wage: MonthlyWage | None = None
    open_positions: Positions | None = Field(default=None, description="1..1000, never below `hires_count` (409).")
    start_date: StartDate | None = None
    description: LongText | None = None
    status: JobOpeningStatus | None = Field(default=None, description="`open` or `closed`; `filled` is refused (409).")

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "closed"}, {"open_positions": 3}]})

    @model_validator(mode="before")
    @classmethod
    def _no_null_for_required(cls, data: Any) -> Any:
        return _refuse_null(data, cls.NON_NULLABLE)


class _JobOpeningFields(OutputModel):
    id: uuid.UUID
    rome_code: str
    title: str
    contract_type: ContractType
    hours_per_week: Decimal | None
    monthly_gross_wage: MoneyOut | None
    open_positions: int
    start_date: date | None
    description: str | None
    status: JobOpeningStatus

    @computed_field(description="Label of the ROME code when the API knows it, else null.")  # type: ignore[prop-decorator]
    @property
    def rome_label(self) -> str | None:
        return rome_label(self.rome_code)


class JobOpeningOut(_JobOpeningFields):
    """A job opening as the programme's staff see it."""

    employer_id: uuid.UUID
    employer: EmployerSummaryOut
    hires_count: int = Field(description="Hires recorded by the pipeline; never above open_positions.")
    created_at: datetime
    updated_at: datetime


class JobOpeningPublicOut(_JobOpeningFields):
    """A job opening as partner workers see it (open ones only): the employer without contact details."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    employer: EmployerPublicOut


class EmployerSort(StrEnum):
    """`sort` of the employers list; `-` for descending."""

    LEGAL_NAME = "legal_name"
    LEGAL_NAME_DESC = "-legal_name"
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"


class JobOpeningSort(StrEnum):
    """`sort` of the job openings list; `-` for descending."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    START_DATE = "start_date"
    START_DATE_DESC = "-start_date"
    TITLE = "title"
    TITLE_DESC = "-title"
