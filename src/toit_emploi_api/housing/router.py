"""HTTP endpoints of housing units and of Polygone's vacancy sync."""

from __future__ import annotations

import time
import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import error_responses
from toit_emploi_api.core.etag import IfMatchHeader, require_if_match
from toit_emploi_api.core.resources import Page, PageDep, with_etag
from toit_emploi_api.housing import service, sync_service
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.housing.repository import UnitFilters
from toit_emploi_api.housing.schemas import (
    HousingUnitCreate,
    HousingUnitOut,
    HousingUnitPublicOut,
    HousingUnitUpdate,
    SyncMode,
    SyncReport,
    UnitSort,
)
from toit_emploi_api.housing.sync_input import MAX_UNITS, REQUIRED_CSV_HEADERS, UNIT_JSON_SCHEMA
from toit_emploi_api.reference.codes import INSEE_COMMUNE_PATTERN
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.statuses import UnitStatus

router = APIRouter(prefix="/api/v1", tags=["housing"])

ReaderDep = Annotated[
    Principal,
    Depends(authorize(Role.LANDLORD, Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER)),
]
WriterDep = Annotated[Principal, Depends(authorize(Role.LANDLORD, Role.SERVICE_MANAGER))]
SyncDep = Annotated[Principal, Depends(authorize(Role.LANDLORD))]
UnitOut = HousingUnitOut | HousingUnitPublicOut


def _out(principal: Principal, unit: HousingUnit) -> HousingUnitOut | HousingUnitPublicOut:
    if service.sees_full_unit(principal):
        return HousingUnitOut.model_validate(unit)
    return HousingUnitPublicOut.model_validate(unit)


def _filters(
    status: Annotated[UnitStatus | None, Query(description="Only units with this status.")] = None,
    commune_insee: Annotated[
        str | None, Query(pattern=INSEE_COMMUNE_PATTERN, description="INSEE commune code (DEPCOM).")
    ] = None,
    min_rooms: Annotated[int | None, Query(ge=1, le=10, description="At least this many rooms (NBPIECE).")] = None,
    max_total_rent: Annotated[
        Decimal | None,
        Query(ge=0, le=Decimal("2000000"), max_digits=9, decimal_places=2, description="rent + charges at most."),
    ] = None,
    available_before: Annotated[
        date | None, Query(description="Available on or before this date (a unit without a date is available now).")
    ] = None,
    is_relay: Annotated[bool | None, Query(description="Relay apartments only (true) or none (false).")] = None,
    landlord_organisation_id: Annotated[uuid.UUID | None, Query(description="Units of this landlord.")] = None,
) -> UnitFilters:
    return UnitFilters(
        status=status,
        commune_insee=commune_insee,
        min_rooms=min_rooms,
        max_total_rent=max_total_rent,
        available_before=available_before,
        is_relay=is_relay,
        landlord_organisation_id=landlord_organisation_id,
    )


@router.get(
    "/housing-units",
    summary="List housing units (landlords: their own; Paris referents and partners: vacant units only)",
    response_model=Page[HousingUnitOut] | Page[HousingUnitPublicOut],
)
async def housing_units_list(
    principal: ReaderDep,
    session: SessionDep,
    page: PageDep,
    filters: Annotated[UnitFilters, Depends(_filters)],
    sort: Annotated[
        UnitSort | None,
        Query(description="Order by rent, rooms or available date; prefix `-` for descending."),
    ] = None,
) -> Page[HousingUnitOut] | Page[HousingUnitPublicOut]:
    rows, total = await service.list_units(session, principal, filters, sort, page.limit, page.offset)
    if service.sees_full_unit(principal):
        return Page[HousingUnitOut](items=[HousingUnitOut.model_validate(r) for r in rows], total=total, **vars(page))
    return Page[HousingUnitPublicOut](
        items=[HousingUnitPublicOut.model_validate(r) for r in rows], total=total, **vars(page)
    )


@router.post(
    "/housing-units",
    summary="Create a housing unit (a landlord for itself; admin/service manager name the landlord)",
    status_code=status.HTTP_201_CREATED,
    response_model=HousingUnitOut,
    responses=error_responses(409),
)
async def housing_units_create(
    principal: WriterDep, session: SessionDep, body: HousingUnitCreate, response: Response
) -> HousingUnitOut:
    unit = await service.create_unit(session, principal, body)
    with_etag(response, unit.version)
    response.headers["Location"] = f"/api/v1/housing-units/{unit.id}"
    return HousingUnitOut.model_validate(unit)


_CSV_EXAMPLE = (
    ",".join(REQUIRED_CSV_HEADERS) + "\n"
    "AUR-0142,15014,15000,12,RUE,des Carmes,2,3,64.50,412.30,85.00,D,1974,2026-12-01,0\n"
    "AUR-0201,15014,15000,3,AV,de la République,0,4,81.00,498.10,96.50,C,1992,,1\n"
)
_JSON_EXAMPLE: dict[str, Any] = {
    "mode": "snapshot",
    "units": [
        {
            "landlord_reference": "AUR-0142",
            "commune_insee": "15014",
            "postcode": "15000",
            "street_number": "12",
            "street_type": "RUE",
            "street_name": "des Carmes",
            "floor": 2,
            "rooms": 3,
            "living_area_m2": "64.50",
            "rent": "412.30",
            "charges": "85.00",
            "dpe_class": "D",
            "construction_year": 1974,
            "available_from": "2026-12-01",
            "is_relay": False,
        }
    ],
}
_SYNC_BODY_SCHEMA = {
    "type": "object",
    "required": ["units"],
    "additionalProperties": False,
    "properties": {
        "mode": {"type": "string", "enum": ["snapshot", "delta"], "default": "snapshot"},
        "units": {"type": "array", "maxItems": MAX_UNITS, "items": UNIT_JSON_SCHEMA},
    },
}


@router.post(
    "/housing-units/sync",
    summary="Vacancy sync: push the landlord's vacant units as JSON or CSV (snapshot or delta)",
    description=(
        "Creates or updates the landlord's units in a few set-based statements. Unchanged units are not rewritten. "
        "A unit `reserved` or `let` by the programme is never overwritten: it is listed in `conflicts`. "
        "`snapshot`: this landlord's vacant units absent from the body become `unavailable` (an empty snapshot needs "
        "`?allow_empty=true`, else 422 `sync-empty-snapshot`). All-or-nothing unless "
        f"`?partial=true`. At most {MAX_UNITS} units per request (more: 413). CSV: comma or semicolon separated, "
        "UTF-8 (or declare `charset=windows-1252`); headers documented in the README."
    ),
    response_model=SyncReport,
    responses=error_responses(413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _SYNC_BODY_SCHEMA, "example": _JSON_EXAMPLE},
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
            },
        }
    },
)
async def housing_units_sync(
    principal: SyncDep,
    session: SessionDep,
    request: Request,
    response: Response,
    mode: Annotated[
        SyncMode | None, Query(description="CSV: snapshot (default) or delta. JSON: optional, must match `mode`.")
    ] = None,
    partial: Annotated[bool, Query(description="Write the valid rows and report the invalid ones.")] = False,
    allow_empty: Annotated[
        bool,
        Query(description="Accept a snapshot with no unit (it makes all the landlord's vacant units unavailable)."),
    ] = False,
    landlord_organisation_id: Annotated[
        uuid.UUID | None, Query(description="Admin only: the landlord organisation the sync is for.")
    ] = None,
) -> SyncReport:
    org_id = await service.resolve_landlord(session, principal, landlord_organisation_id, "landlord_organisation_id")
    timings = sync_service.SyncTimings()
    started = time.perf_counter()
    body = await request.body()
    parsed = await run_in_threadpool(sync_service.parse_body, body, request.headers.get("content-type", ""), mode)
    timings.parse_ms = (time.perf_counter() - started) * 1000
    report = await sync_service.run_sync(
        session, principal, org_id, parsed, partial=partial, timings=timings, allow_empty=allow_empty
    )
    response.headers["Server-Timing"] = f"parse;dur={timings.parse_ms:.1f}, sql;dur={timings.sql_ms:.1f}"
    return report


@router.get(
    "/housing-units/{unit_id}",
    summary="Read a housing unit",
    response_model=UnitOut,
    responses=error_responses(404),
)
async def housing_units_get(
    principal: ReaderDep, session: SessionDep, unit_id: uuid.UUID, response: Response
) -> HousingUnitOut | HousingUnitPublicOut:
    unit = await service.get_visible(session, principal, unit_id)
    with_etag(response, unit.version)
    return _out(principal, unit)


@router.patch(
    "/housing-units/{unit_id}",
    summary="Change a housing unit's facts (If-Match required; reserved/let are set by allocations only)",
    response_model=HousingUnitOut,
    responses=error_responses(404, 409, 412, 428),
)
async def housing_units_update(
    principal: WriterDep,
    session: SessionDep,
    unit_id: uuid.UUID,
    body: HousingUnitUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> HousingUnitOut:
    unit = await service.get_visible(session, principal, unit_id, for_update=True)
    require_if_match(if_match, unit.version)
    unit = await service.update_unit(session, principal, unit, body)
    with_etag(response, unit.version)
    return HousingUnitOut.model_validate(unit)


@router.delete(
    "/housing-units/{unit_id}",
    summary="Delete a unit that was never allocated (vacant or unavailable); If-Match required",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, 409, 412, 428),
)
async def housing_units_delete(
    principal: WriterDep, session: SessionDep, unit_id: uuid.UUID, if_match: IfMatchHeader = None
) -> Response:
    unit = await service.get_visible(session, principal, unit_id, for_update=True)
    require_if_match(if_match, unit.version)
    await service.delete_unit(session, principal, unit)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
