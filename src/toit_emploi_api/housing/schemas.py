"""Request and response bodies of housing units and of the vacancy sync."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from toit_emploi_api.core.schemas import InputModel, MoneyInput, MoneyOut, OutputModel
from toit_emploi_api.housing import rules
from toit_emploi_api.housing.models import DpeClass
from toit_emploi_api.housing.sync_input import MAX_UNITS, REQUIRED_CSV_HEADERS, UNIT_JSON_SCHEMA
from toit_emploi_api.reference.codes import InseeCommuneCode, PostCode
from toit_emploi_api.reference.communes import COMMUNE_NAME_DOC
from toit_emploi_api.reference.text import reject_control_characters
from toit_emploi_api.vocab.statuses import UnitStatus


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _single_line(value: str) -> str:
    return reject_control_characters(value, allow="")


_REFERENCE = re.compile(rules.REFERENCE_PATTERN)


def _reference(value: str) -> str:
    if not _REFERENCE.match(value):
        raise ValueError(rules.REFERENCE_RULE)
    return value


_T = TypeVar("_T")
# A text stripped, then held to the wrapped type's length, then refused if not on one line (no control character).
OneLine = Annotated[_T, BeforeValidator(_strip), AfterValidator(_single_line)]
_Reference = Annotated[str, StringConstraints(min_length=1, max_length=rules.REFERENCE_MAX)]
_Number = Annotated[str, StringConstraints(max_length=rules.STREET_NUMBER_MAX)]
_Type = Annotated[str, StringConstraints(max_length=rules.STREET_TYPE_MAX)]
_Name = Annotated[str, StringConstraints(max_length=rules.STREET_NAME_MAX)]

LandlordReference = Annotated[
    OneLine[_Reference],
    AfterValidator(_reference),
    Field(description="The landlord's own reference of the unit (unique per landlord).", examples=["AUR-0142"]),
]
StreetNumber = Annotated[OneLine[_Number], Field(description="NUMVOIE, e.g. `12` or `12 bis`.", examples=["12"])]
StreetType = Annotated[OneLine[_Type], Field(description="TYPVOIE, e.g. `RUE`, `AV`, `BD`.", examples=["RUE"])]
StreetName = Annotated[OneLine[_Name], Field(description="NOMVOIE.", examples=["des Carmes"])]
Rooms = Annotated[
    int,
    Field(ge=rules.ROOMS_MIN, le=rules.ROOMS_MAX, description="NBPIECE, living room included (T3 = 3).", examples=[3]),
]
Floor = Annotated[int, Field(ge=rules.FLOOR_MIN, le=rules.FLOOR_MAX, description="ETAGE (0 = ground floor).")]
Area = Annotated[
    Decimal,
    Field(gt=0, le=rules.AREA_MAX, max_digits=6, decimal_places=2, description="SURFHAB, m².", examples=["64.50"]),
]
Money = Annotated[
    Decimal,
    MoneyInput,
    Field(
        ge=0,
        le=rules.MONEY_MAX,
        max_digits=8,
        decimal_places=2,
        description='Euros per month: a JSON string (`"412.30"`) or a whole number (`412`), at most 2 decimals.',
        examples=["412.30"],
    ),
]
Year = Annotated[int, Field(ge=rules.YEAR_MIN, le=rules.YEAR_MAX, description="CONSTRUCT.", examples=[1974])]
Latitude = Annotated[Decimal, Field(ge=-90, le=90, max_digits=9, decimal_places=6, examples=["44.926300"])]
Longitude = Annotated[Decimal, Field(ge=-180, le=180, max_digits=9, decimal_places=6, examples=["2.439900"])]
ManualStatus = Annotated[
    UnitStatus,
    Field(description="Only `vacant` or `unavailable`: `reserved` and `let` are set by housing allocations."),
]


def _manual_status(value: UnitStatus | None) -> UnitStatus | None:
    if value is not None and value in rules.PIPELINE_STATUSES:
        raise ValueError("reserved and let are set by housing allocations only; use vacant or unavailable")
    return value


_UNIT_EXAMPLE: dict[str, Any] = {
    "landlord_reference": "AUR-0142",
    "street_number": "12",
    "street_type": "RUE",
    "street_name": "des Carmes",
    "postcode": "15000",
    "commune_insee": "15014",
    "rooms": 3,
    "living_area_m2": "64.50",
    "floor": 2,
    "elevator": False,
    "rent": "412.30",
    "charges": "85.00",
    "dpe_class": "D",
    "construction_year": 1974,
    "available_from": "2026-12-01",
    "step_free_access": False,
    "is_relay": False,
}


class HousingUnitCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_UNIT_EXAMPLE]})

    landlord_organisation_id: uuid.UUID | None = Field(
        default=None,
        description="Required for the service manager and admin; a landlord may omit it (its own organisation).",
    )
    landlord_reference: LandlordReference
    street_number: StreetNumber | None = None
    street_type: StreetType | None = None
    street_name: StreetName | None = None
    postcode: PostCode
    commune_insee: InseeCommuneCode
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    rooms: Rooms
    living_area_m2: Area | None = None
    floor: Floor | None = None
    elevator: bool | None = None
    rent: Money
    charges: Money = Decimal("0.00")
    dpe_class: DpeClass | None = None
    construction_year: Year | None = None
    available_from: date | None = None
    step_free_access: bool = False
    status: ManualStatus = UnitStatus.VACANT
    is_relay: bool = False

    _status = field_validator("status")(_manual_status)


# Fields that may not be set to null by a PATCH.
NOT_NULLABLE = frozenset(
    {
        "landlord_reference",
        "postcode",
        "commune_insee",
        "rooms",
        "rent",
        "charges",
        "step_free_access",
        "status",
        "is_relay",
    }
)


class HousingUnitUpdate(InputModel):
    """Partial update: only the fields sent are changed; `null` clears an optional fact."""

    NON_NULLABLE: ClassVar[frozenset[str]] = NOT_NULLABLE

    model_config = ConfigDict(json_schema_extra={"examples": [{"rent": "420.00", "available_from": "2027-01-15"}]})

    landlord_reference: LandlordReference | None = None
    street_number: StreetNumber | None = None
    street_type: StreetType | None = None
    street_name: StreetName | None = None
    postcode: PostCode | None = None
    commune_insee: InseeCommuneCode | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    rooms: Rooms | None = None
    living_area_m2: Area | None = None
    floor: Floor | None = None
    elevator: bool | None = None
    rent: Money | None = None
    charges: Money | None = None
    dpe_class: DpeClass | None = None
    construction_year: Year | None = None
    available_from: date | None = None
    step_free_access: bool | None = None
    status: ManualStatus | None = None
    is_relay: bool | None = None

    _status = field_validator("status")(_manual_status)


class HousingUnitPublicOut(OutputModel):
    """What Paris referents and partner workers see of a vacant unit: no landlord internals."""

    id: uuid.UUID
    street_number: str | None
    street_type: str | None
    street_name: str | None
    postcode: str
    commune_insee: str
    commune_name: str | None = Field(description=COMMUNE_NAME_DOC)
    latitude: Decimal | None
    longitude: Decimal | None
    rooms: int
    living_area_m2: Decimal | None
    floor: int | None
    elevator: bool | None
    rent: MoneyOut
    charges: MoneyOut
    dpe_class: DpeClass | None
    construction_year: int | None
    available_from: date | None
    step_free_access: bool
    status: UnitStatus
    is_relay: bool
    created_at: datetime
    updated_at: datetime


class HousingUnitOut(HousingUnitPublicOut):
    """The whole unit, for its landlord, the service manager and admins."""

    landlord_organisation_id: uuid.UUID
    landlord_reference: str
    last_synced_at: datetime | None = Field(description="Last time a sync created or changed this unit.")
    held_absent_since: datetime | None = Field(
        description="Set when a snapshot omitted this reserved/let unit (cleared when a sync lists it again); when "
        "the programme releases it, it becomes `unavailable`. Bookkeeping: does not change `version`/`updated_at`."
    )
    version: int


UnitSort = Literal["rent", "-rent", "rooms", "-rooms", "available_from", "-available_from"]


# ---------------------------------------------------------------------------------------------------- sync


SyncMode = Literal["snapshot", "delta"]

# The sync's request body in the OpenAPI document: the route reads the raw body itself (JSON or CSV).
_CSV_EXAMPLE: Final = (
    ",".join(REQUIRED_CSV_HEADERS) + "\n"
    "AUR-0142,15014,15000,12,RUE,des Carmes,2,3,64.50,412.30,85.00,D,1974,2026-12-01,0\n"
    "AUR-0201,15014,15000,3,AV,de la République,0,4,81.00,498.10,96.50,C,1992,,1\n"
)
SYNC_REQUEST_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["units"],
                "additionalProperties": False,
                "properties": {
                    "mode": {"type": "string", "enum": ["snapshot", "delta"], "default": "snapshot"},
                    "units": {"type": "array", "maxItems": MAX_UNITS, "items": UNIT_JSON_SCHEMA},
                },
            },
            "example": {"mode": "snapshot", "units": [_UNIT_EXAMPLE]},
        },
        "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
    },
}


class SyncConflict(OutputModel):
    landlord_reference: str = Field(max_length=rules.REFERENCE_MAX)
    status: UnitStatus = Field(description="The unit's current status (kept).")
    code: rules.SyncConflictCode = Field(
        description="`unit_held_by_programme`: reserved/let and the facts differ; `relay_stay_booked`: a relay "
        "apartment with a booked stay whose relay flag or status would change (or that a snapshot omits); "
        "`held_unit_absent_from_snapshot`: a reserved/let unit a snapshot omits (it gets `held_absent_since`)."
    )
    fields: list[str] = Field(description="The facts that differ from the stored unit (left unchanged).")
    reason: str = Field(max_length=300, description="The same, in words.")


class SyncRowError(OutputModel):
    row: int = Field(ge=1, description="1-based: position in `units`, or data line after the CSV header.")
    landlord_reference: str | None = Field(description="The row's reference when it could be read.")
    field: str = Field(description="JSON key or CSV header (`row` for a malformed line, `unit` for a non-object).")
    message: str


class SyncReport(OutputModel):
    mode: SyncMode
    partial: bool = Field(description="True when `?partial=true`: valid rows were written, invalid ones skipped.")
    received: int = Field(ge=0, description="Units in the request.")
    created: int = Field(ge=0)
    updated: int = Field(ge=0, description="Existing units whose facts changed (or that were unavailable again).")
    unchanged: int = Field(ge=0, description="Valid units identical to the stored ones: not rewritten.")
    no_longer_vacant: int = Field(ge=0, description="Snapshot: vacant units absent from it, now `unavailable`.")
    conflicts: list[SyncConflict] = Field(
        description="Units held by the programme that the sync did not change as asked (see `code`): left as they are."
    )
    invalid_rows: int = Field(ge=0)
    errors: list[SyncRowError] = Field(description="Row-level errors (at most 1,000 listed).")
    errors_truncated: bool = False
