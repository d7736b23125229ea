"""HTTP endpoints of housing units and of Polygone's vacancy sync (HTTP only: rules in the services)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.csv import CSV_CONTENT, csv_response, stream_rows, wants_csv
from toit_emploi_api.core.csv_models import cells, columns
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.core.idempotency import idempotent
from toit_emploi_api.core.problems import NOT_FOUND, UNSUPPORTED_MEDIA_TYPE
from toit_emploi_api.core.resources import (
    IfMatchDep,
    Page,
    PageDep,
    answers_etag,
    created_answer,
    etag_answer,
    with_etag,
)
from toit_emploi_api.core.schemas import IsoDate
from toit_emploi_api.housing import service, sync_service
from toit_emploi_api.housing.deps import CurrentUnit, LockedUnit
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.housing.repository import UnitFilters
from toit_emploi_api.housing.schemas import (
    SYNC_REQUEST_BODY,
    HousingUnitCreate,
    HousingUnitOut,
    HousingUnitPublicOut,
    HousingUnitUpdate,
    SyncMode,
    SyncReport,
    UnitSort,
)
from toit_emploi_api.reference.codes import INSEE_COMMUNE_PATTERN
from toit_emploi_api.vocab.problems import (
    LANDLORD_REFERENCE_TAKEN,
    SYNC_EMPTY_SNAPSHOT,
    SYNC_INVALID_ROWS,
    SYNC_TOO_MANY_UNITS,
    SYNC_UNREADABLE,
    UNIT_ALLOCATED,
    UNIT_HAS_BOOKED_RELAY_STAY,
    UNIT_HELD_BY_PROGRAMME,
)
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


def _view(principal: Principal) -> type[HousingUnitOut] | type[HousingUnitPublicOut]:
    """The whole unit, or the reduced view of Paris referents and partner workers."""
    return HousingUnitOut if service.sees_full_unit(principal) else HousingUnitPublicOut


def _location(unit: HousingUnit) -> str:
    return f"/api/v1/housing-units/{unit.id}"


async def _filters(
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
        IsoDate | None, Query(description="Available on or before this date (a unit without a date is available now).")
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


# French headers of the housing units' CSV export (RPLS names in brackets; columns follow the caller's view).
UNIT_LABELS = {
    "id": "Identifiant",
    "street_number": "Numéro",
    "street_type": "Type de voie",
    "street_name": "Voie",
    "postcode": "Code postal",
    "commune_insee": "Commune (INSEE)",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "rooms": "Pièces (NBPIECE)",
    "living_area_m2": "Surface habitable m² (SURFHAB)",
    "floor": "Étage",
    "elevator": "Ascenseur",
    "rent": "Loyer principal € (LOYERPRINC)",
    "charges": "Charges €",
    "dpe_class": "Classe DPE",
    "construction_year": "Année de construction",
    "available_from": "Disponible à partir du",
    "step_free_access": "Accès de plain-pied",
    "status": "Statut",
    "is_relay": "Appartement relais",
    "created_at": "Créé le",
    "updated_at": "Mis à jour le",
    "landlord_organisation_id": "Bailleur",
    "landlord_reference": "Référence du bailleur",
    "last_synced_at": "Dernière synchronisation",
    "held_absent_since": "Absent de la synchronisation depuis",
    "version": "Version",
}


@router.get(
    "/housing-units",
    summary="List housing units",
    response_model=Page[HousingUnitOut] | Page[HousingUnitPublicOut],
    responses={200: CSV_CONTENT},
)
async def housing_units_list(
    principal: ReaderDep,
    session: SessionDep,
    page: PageDep,
    request: Request,
    filters: Annotated[UnitFilters, Depends(_filters)],
    sort: Annotated[
        UnitSort | None,
        Query(description="Order by rent, rooms or available date; prefix `-` for descending."),
    ] = None,
) -> Page[HousingUnitOut] | Page[HousingUnitPublicOut] | StreamingResponse:
    """The housing units the caller may see, filtered, sorted and paginated (`limit` ≤ 200, `offset`).

    - **Who**: a landlord sees its own organisation's units only (even when it names another landlord in
      `landlord_organisation_id`: the list is then empty); the service manager and admins see every unit; Paris
      referents and partner workers see `vacant` units only, in the reduced view `HousingUnitPublicOut` (no
      `landlord_reference`, `landlord_organisation_id`, `last_synced_at`, `held_absent_since` or `version`).
      Funders: 403.
    - **Filters** (combined with AND): `status`, `commune_insee`, `min_rooms`, `max_total_rent` (rent + charges at
      most the amount), `available_before` (available on or before that date; a unit without a date is available
      now), `is_relay`, `landlord_organisation_id`. They narrow the caller's scope, never widen it.
    - **Sorts**: `rent`, `rooms`, `available_from` (no date first), `-` for descending; ties in creation order.
    - A list costs the same few SQL statements whatever the page size (the count and the page).
    - **CSV**: `Accept: text/csv` answers every matching unit (same filters and sort, no pagination) in the caller's
      view, French headers, `;`, UTF-8 with BOM, streamed.
    """
    if wants_csv(request):
        view = _view(principal)
        paths = columns(view, UNIT_LABELS)
        stream = stream_rows(request.app.state.sessionmaker, service.units_csv_statement(principal, filters, sort))
        csv_rows = (cells(view.model_validate(row[0]), paths) async for row in stream)
        return csv_response([header for _, header in paths], csv_rows, filename="logements.csv")
    rows = await service.list_units(session, principal, filters, sort, page)
    return rows.to(_view(principal).model_validate)


@router.post(
    "/housing-units",
    summary="Create a housing unit",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(LANDLORD_REFERENCE_TAKEN),
)
@idempotent
@answers_etag
async def housing_units_create(
    principal: WriterDep, session: SessionDep, body: HousingUnitCreate, response: Response
) -> HousingUnitOut:
    """Create a housing unit; answers 201 with the unit, its `ETag` and its `Location`.

    - **Who**: a landlord, for its own organisation (`landlord_organisation_id` omitted, or its own: another one is
      422); the service manager and admins must name `landlord_organisation_id`, an existing organisation of kind
      landlord (else 422).
    - **Status**: `vacant` (default) or `unavailable`; `reserved` and `let` are set by housing allocations only (422).
    - **Facts**: bounds as in the schema (RPLS names: NBPIECE 1–10, ETAGE −5 to 99, amounts ≥ 0 with 2 decimals,
      DPE A–G, construction year 1500–2100, …). Unknown fields, NUL or control characters and overlong strings: 422.
    - The landlord reference is unique per landlord: **409** `landlord-reference-taken`.
    - Writes one audit event `housing_unit.create`.
    """
    unit = await service.create_unit(session, principal, body)
    return created_answer(response, HousingUnitOut, unit, _location(unit))


@router.post(
    "/housing-units/sync",
    summary="Vacancy sync",
    responses=problem_responses(
        SYNC_TOO_MANY_UNITS, UNSUPPORTED_MEDIA_TYPE, SYNC_UNREADABLE, SYNC_INVALID_ROWS, SYNC_EMPTY_SNAPSHOT
    ),
    openapi_extra={"requestBody": SYNC_REQUEST_BODY},
)
@idempotent
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
    """Polygone's vacancy sync: push the landlord's units, as JSON or CSV, and get a report of what was done.

    - **Who**: a landlord (user or API client with the `client_credentials` grant), for its own organisation only
      (a `landlord_organisation_id` naming another one is 422); an admin must name `landlord_organisation_id`.
    - **Size**: at most 20,000 units per request (more: **413** `sync-too-many-units`; the body itself may be up to
      32 MiB). Each unit is the landlord's complete description of it: an optional fact left out is stored as
      unknown (null; `charges` 0, `is_relay` and `step_free_access` false).
    - **JSON** (`application/json`): `{"mode": "snapshot" | "delta", "units": [...]}` (`mode` defaults to
      `snapshot`; a `?mode=` that contradicts it is 422). Strict for numbers and booleans: `rooms`, `floor`,
      `construction_year` are JSON integers, `is_relay`, `elevator`, `step_free_access` JSON booleans (else a row
      error); amounts may be strings or numbers.
    - **CSV** (`text/csv`, UTF-8 or a declared `charset=windows-1252`): the mode is `?mode=` (default `snapshot`);
      `,` or `;` separated (with `;`, decimals may use a comma); case-insensitive headers in any order: the RPLS-like
      `REFLOG, DEPCOM, CODEPOSTAL, NUMVOIE, TYPVOIE, NOMVOIE, ETAGE, NBPIECE, SURFHAB, LOYERPRINC, CHARGES, DPEENERGIE,
      CONSTRUCT, DISPONIBLE, RELAIS` are required, `ASCENSEUR, ACCESSIBLE, LATITUDE, LONGITUDE` optional; a missing,
      unknown or repeated header is 422 `sync-unreadable` (`errors[0].field = "header"`). Empty cell = no value.
      Other content types: **415** `unsupported-media-type`.
    - **What it does**: units present are created, or updated when a fact differs (a listed `unavailable` unit
      becomes `vacant` again). An identical unit is not rewritten (`unchanged`: `version`, `updated_at` and
      `last_synced_at` stay), so re-sending the same body writes nothing. **snapshot**: this landlord's `vacant`
      units absent from the body become `unavailable` (`no_longer_vacant`); units listed on an invalid row are not
      absent. **delta**: absent units are left alone.
    - **Conflicts** (listed in `conflicts`, the unit left as it is, the answer still 200):
      `unit_held_by_programme`, a `reserved` or `let` unit whose facts differ (never overwritten);
      `held_unit_absent_from_snapshot`, a reserved/let unit a snapshot omits (it keeps its status and gets
      `held_absent_since`; when the programme releases it, it becomes `unavailable`; any sync listing it clears the
      mark); `relay_stay_booked`, a relay apartment with a booked stay not over yet whose relay flag or status would
      change (its other facts are applied) or that a snapshot omits (it stays vacant).
    - **Empty snapshot**: 422 `sync-empty-snapshot` unless `?allow_empty=true` (an empty delta is fine).
    - **All-or-nothing** by default: any invalid row and nothing is written, 422 `sync-invalid-rows` with
      `invalid_rows` and `row_errors`. With `?partial=true` the valid rows are written and the invalid ones reported
      in `errors` (`{row, landlord_reference, field, message}`, rows from 1, at most 1,000, `errors_truncated`). A
      reference twice in one body is an error on every copy. An unreadable body is 422 `sync-unreadable`.
    - **One at a time**: the landlord's syncs are serialised (transaction-level advisory lock), and the rows
      concerned are locked before comparing, so a reservation or relay stay booked meanwhile is seen as a conflict.
    - One audit event `housing_unit.sync` (counts only); the `Server-Timing` header gives `parse` and `sql` times.
    """
    result = await sync_service.sync(
        session,
        principal,
        await request.body(),
        request.headers.get("content-type", ""),
        landlord_organisation_id=landlord_organisation_id,
        mode=mode,
        partial=partial,
        allow_empty=allow_empty,
    )
    response.headers["Server-Timing"] = result.timings.server_timing
    return result.report


@router.get("/housing-units/{unit_id}", summary="Read a housing unit", responses=problem_responses(NOT_FOUND))
@answers_etag
async def housing_units_get(principal: ReaderDep, unit: CurrentUnit, response: Response) -> UnitOut:
    """One housing unit, with its `ETag` (send it back as `If-Match` to change or delete the unit).

    Readers as the list: a landlord reads its own organisation's units, the service manager and admins every unit,
    Paris referents and partner workers `vacant` units only, in the reduced view. A unit the caller may not see
    (another landlord's, or not vacant for those two roles) is **404**, as an unknown one: existence does not leak.
    """
    with_etag(response, unit.version)
    return _view(principal).model_validate(unit)


@router.patch(
    "/housing-units/{unit_id}",
    summary="Update a housing unit",
    responses=problem_responses(
        NOT_FOUND, UNIT_HELD_BY_PROGRAMME, UNIT_HAS_BOOKED_RELAY_STAY, LANDLORD_REFERENCE_TAKEN
    ),
)
@answers_etag
async def housing_units_update(
    principal: WriterDep,
    session: SessionDep,
    unit: LockedUnit,
    body: HousingUnitUpdate,
    if_match: IfMatchDep,
    response: Response,
) -> HousingUnitOut:
    """Change a unit's facts: only the fields sent change, `null` clears an optional fact (a required one: 422).

    - **Who**: a landlord (its own units: another landlord's is 404), the service manager, admins.
    - **If-Match** with the ETag of your last read: 428 without it, 412 when the unit changed since.
    - **Status**: only `vacant` or `unavailable` may be set (`reserved`/`let` are 422: housing allocations set them).
    - While the unit is `reserved` or `let`: changing its status is **409** `unit-held-by-programme` for everyone
      (the allocation releases it); a landlord's change of any fact is 409 `unit-held-by-programme` too (the service
      manager may correct a fact).
    - A relay apartment with a booked stay not over yet: a change of `is_relay` or `status` is **409**
      `unit-has-booked-relay-stay` (`fields` names them) until the stay ends or is cancelled.
    - A reference this landlord already uses: **409** `landlord-reference-taken`.
    - Sending the current values changes nothing (same ETag, no audit event); otherwise the version goes up and one
      audit event `housing_unit.update` lists the changed field names.
    """
    if_match.check(unit.version)
    unit = await service.update_unit(session, principal, unit, body)
    return etag_answer(response, HousingUnitOut, unit)


@router.delete(
    "/housing-units/{unit_id}",
    summary="Delete a housing unit",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NOT_FOUND, UNIT_ALLOCATED),
)
async def housing_units_delete(
    principal: WriterDep, session: SessionDep, unit: LockedUnit, if_match: IfMatchDep
) -> Response:
    """Delete a unit that was never allocated; answers 204.

    - **Who**: a landlord (its own units: another landlord's is 404), the service manager, admins.
    - **If-Match** with the ETag of your last read: 428 without it, 412 when the unit changed since.
    - Only a `vacant` or `unavailable` unit may be deleted; a `reserved` or `let` one, or one with a history in the
      programme (allocations, relay stays), is **409** `unit-allocated`: mark it `unavailable` instead.
    - Writes one audit event `housing_unit.delete`.
    """
    if_match.check(unit.version)
    await service.delete_unit(session, principal, unit)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
