"""HTTP endpoints of the employers domain: employers in the Cantal and their job openings ([employers.md]).

Who: service manager and admin write; the Paris referent reads; partner workers read open job openings only,
with the employer reduced to name, sector and commune; landlords and funders get 403.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.csv import CSV_CONTENT, csv_response, stream_rows, wants_csv
from toit_emploi_api.core.csv_models import cells, columns
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.core.idempotency import idempotent
from toit_emploi_api.core.problems import NOT_FOUND
from toit_emploi_api.core.resources import (
    CreatedBeforeQuery,
    CreatedSinceQuery,
    IfMatchDep,
    Page,
    PageDep,
    SortQuery,
    answers_etag,
    created_answer,
    etag_answer,
    search_query,
    with_etag,
)
from toit_emploi_api.employers import service
from toit_emploi_api.employers.deps import CurrentEmployer, CurrentJobOpening, LockedEmployer, LockedJobOpening
from toit_emploi_api.employers.models import JobOpening
from toit_emploi_api.employers.schemas import (
    EmployerCreate,
    EmployerOut,
    EmployerSort,
    EmployerUpdate,
    JobOpeningCreate,
    JobOpeningOut,
    JobOpeningPublicOut,
    JobOpeningSort,
    JobOpeningUpdate,
)
from toit_emploi_api.reference.codes import InseeCommuneCode
from toit_emploi_api.vocab.problems import (
    EMPLOYER_HAS_OPEN_JOB_OPENINGS,
    EMPLOYER_INACTIVE,
    JOB_OPENING_IN_USE,
    JOB_OPENING_STATUS_NOT_ALLOWED,
    POSITIONS_BELOW_HIRES,
    SIRET_TAKEN,
)
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.statuses import ContractType, JobOpeningStatus

router = APIRouter(prefix="/api/v1", tags=["employers"])

WriterDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER))]
StaffReaderDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT))]
OpeningReaderDep = Annotated[
    Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER))
]
_READ = problem_responses(NOT_FOUND)

CommuneQuery = Annotated[
    InseeCommuneCode | None,
    Query(alias="commune_insee", description="INSEE commune code of the employer (`15014`, `2A004`)."),
]
SectorQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="Employer sector, whole value, case and accents ignored."),
]
StatusQuery = Annotated[JobOpeningStatus | None, Query(alias="status")]


def _words_query(of: str, example: str) -> Any:
    """A `q` parameter: words of `of`, each found, as `reference.text.fold` compares them."""
    return search_query(f"Words of {of}, each found (case, accents, hyphens and apostrophes ignored).", example)


EmployerWordsQuery = Annotated[str | None, _words_query("the legal or trade name", "scierie")]
TitleWordsQuery = Annotated[str | None, _words_query("the title", "macon")]


def _opening_out(principal: Principal, opening: JobOpening) -> JobOpeningOut | JobOpeningPublicOut:
    if service.is_staff(principal):
        return JobOpeningOut.model_validate(opening)
    return JobOpeningPublicOut.model_validate(opening)


# --- employers ---------------------------------------------------------------------------------------------
@router.get("/employers", summary="List employers")
async def employers_list(
    _: StaffReaderDep,
    session: SessionDep,
    page: PageDep,
    active: Annotated[bool | None, Query(description="Only active (true) or deactivated (false) employers.")] = None,
    commune: CommuneQuery = None,
    sector: SectorQuery = None,
    sort: Annotated[EmployerSort, SortQuery] = EmployerSort.LEGAL_NAME,
    created_since: CreatedSinceQuery = None,
    created_before: CreatedBeforeQuery = None,
    q: EmployerWordsQuery = None,
) -> Page[EmployerOut]:
    """Employers, by legal name unless `sort` says otherwise (admin, service manager, Paris referent; partner workers
    get 403).

    Filters: `active`, `commune_insee` (the employer's INSEE code) and `sector` (the whole value, case and accents
    ignored), `created_since`/`created_before` (Paris dates), `q` (words of the legal or trade name, case and
    accents ignored: `scierie du cantal`). `sort`: `legal_name`, `created_at`, `-` for descending. Paginated with
    `limit` and `offset`."""
    rows = await service.list_employers(
        session,
        page,
        active=active,
        commune_insee=commune,
        sector=sector,
        sort=sort.value,
        created_since=created_since,
        created_before=created_before,
        q=q,
    )
    return rows.to(EmployerOut.model_validate)


@router.post(
    "/employers",
    summary="Register an employer",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(SIRET_TAKEN),
)
@idempotent
@answers_etag
async def employers_create(
    principal: WriterDep, session: SessionDep, body: EmployerCreate, response: Response
) -> EmployerOut:
    """Register an employer (admin, service manager), active unless `active: false` is sent.

    - `siret`: 14 digits with a valid Luhn checksum, spaces removed (La Poste's establishments: the digits' sum is a
      multiple of 5); unique: a second employer with the same one is `409 siret-taken`.
    - `commune_insee`: 5 digits, or `2A`/`2B` and 3 digits (lower case is upper-cased); obsolete `20xxx` codes and
      department `00` are 422.
    - `latitude` and `longitude` go together (both or neither), up to 6 decimals; returned as strings.
    - `sector`: 1–100 characters, searched ignoring case and accents.

    Answers 201 with the employer, its `ETag` and `Location`; recorded in the audit trail (`employer.create`)."""
    employer = await service.create_employer(session, principal, body)
    return created_answer(response, EmployerOut, employer, f"/api/v1/employers/{employer.id}")


@router.get("/employers/{employer_id}", summary="Read an employer", responses=_READ)
@answers_etag
async def employers_get(_: StaffReaderDep, employer: CurrentEmployer, response: Response) -> EmployerOut:
    """One employer with its contact details and its `ETag` (admin, service manager, Paris referent); 404 when
    unknown."""
    return etag_answer(response, EmployerOut, employer)


@router.patch(
    "/employers/{employer_id}",
    summary="Update or (de)activate an employer",
    responses=problem_responses(NOT_FOUND, SIRET_TAKEN, EMPLOYER_HAS_OPEN_JOB_OPENINGS),
)
@answers_etag
async def employers_update(
    principal: WriterDep,
    session: SessionDep,
    employer: LockedEmployer,
    body: EmployerUpdate,
    if_match: IfMatchDep,
    response: Response,
) -> EmployerOut:
    """Change an employer's fields, deactivate it (`active: false`) or reactivate it (admin, service manager), with
    `If-Match` from your last read. Only the fields present change; `null` clears an optional field (`siret`,
    `legal_name`, `commune_insee` and `active` cannot be null).

    An employer with open job openings cannot be deactivated: `409 employer-has-open-job-openings`, whose
    `open_job_openings` member lists them (`id`, `title`); close them first. A SIRET already registered is
    `409 siret-taken`; a latitude without its longitude (or the reverse) is 422. Employers are never deleted.
    Recorded in the audit trail (`employer.update`, field names only)."""
    if_match.check(employer.version)
    employer = await service.update_employer(session, principal, employer, body)
    return etag_answer(response, EmployerOut, employer)


# --- job openings ------------------------------------------------------------------------------------------
@router.get("/employers/{employer_id}/job-openings", summary="List an employer's job openings", responses=_READ)
async def employers_job_openings_list(
    principal: StaffReaderDep,
    session: SessionDep,
    employer: CurrentEmployer,
    page: PageDep,
    status_filter: StatusQuery = None,
    created_since: CreatedSinceQuery = None,
    created_before: CreatedBeforeQuery = None,
    sort: Annotated[JobOpeningSort, SortQuery] = JobOpeningSort.CREATED_AT,
    q: TitleWordsQuery = None,
) -> Page[JobOpeningOut]:
    """One employer's job openings, every status unless `status` is given, oldest first unless `sort` says
    otherwise (admin, service manager, Paris referent); 404 when the employer is unknown.

    Filters: `status`, `created_since`/`created_before` (Paris dates), `q` (words of the title). `sort`:
    `created_at`, `start_date`, `title`, `-` for descending (ties by id). Paginated with `limit` and `offset`."""
    rows = await service.list_job_openings(
        session,
        principal,
        page,
        employer_id=employer.id,
        status=status_filter,
        created_since=created_since,
        created_before=created_before,
        sort=sort.value,
        q=q,
    )
    return rows.to(JobOpeningOut.model_validate)


@router.post(
    "/employers/{employer_id}/job-openings",
    summary="Open a job opening",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(NOT_FOUND, EMPLOYER_INACTIVE),
)
@idempotent
@answers_etag
async def employers_job_openings_create(
    principal: WriterDep, session: SessionDep, employer_id: uuid.UUID, body: JobOpeningCreate, response: Response
) -> JobOpeningOut:
    """Open positions at an employer (admin, service manager); the new opening is `open` with no hire.

    - `rome_code`: any well-formed code (a letter `A`–`N` and 4 digits); `rome_label` is filled when the API knows
      the code, else null.
    - `hours_per_week`: > 0 and ≤ 48, one decimal; `monthly_gross_wage`: a JSON string (`"1834.56"`) or a whole JSON
      number, at most 2 decimals (a JSON number with a fraction is 422); `open_positions`: a JSON integer 1..1000.
    - A deactivated employer gets no new opening: `409 employer-inactive`; an unknown one is 404.

    Answers 201 with the opening, its `ETag` and `Location`; recorded in the audit trail (`job_opening.create`)."""
    opening = await service.create_job_opening(session, principal, employer_id, body)
    return created_answer(response, JobOpeningOut, opening, f"/api/v1/job-openings/{opening.id}")


# French headers of the job openings' CSV export (columns follow the caller's view).
OPENING_LABELS = {
    "id": "Identifiant",
    "rome_code": "Code ROME",
    "title": "Intitulé",
    "contract_type": "Type de contrat",
    "hours_per_week": "Heures par semaine",
    "monthly_gross_wage": "Salaire brut mensuel",
    "open_positions": "Postes ouverts",
    "start_date": "Date de début",
    "description": "Description",
    "status": "Statut",
    "employer_id": "Identifiant employeur",
    "employer.id": "Identifiant employeur",
    "employer.legal_name": "Raison sociale",
    "employer.trade_name": "Enseigne",
    "employer.sector": "Secteur",
    "employer.commune_insee": "Commune (INSEE)",
    "employer.contact_name": "Contact",
    "employer.contact_phone": "Téléphone du contact",
    "employer.contact_email": "Courriel du contact",
    "employer.active": "Employeur actif",
    "hires_count": "Embauches",
    "created_at": "Créé le",
    "updated_at": "Mis à jour le",
}


@router.get(
    "/job-openings",
    summary="Search job openings",
    response_model=Page[JobOpeningOut] | Page[JobOpeningPublicOut],
    responses={200: CSV_CONTENT},
)
async def job_openings_list(
    principal: OpeningReaderDep,
    session: SessionDep,
    page: PageDep,
    request: Request,
    status_filter: StatusQuery = None,
    rome: Annotated[
        str | None,
        Query(
            alias="rome_code",
            min_length=1,
            max_length=5,
            pattern="^[A-Na-n][0-9]{0,4}$",
            description="A ROME code (`F1703`, exact) or the start of one (`F17`: all masonry and concrete codes).",
        ),
    ] = None,
    sector: SectorQuery = None,
    commune: CommuneQuery = None,
    contract_type: Annotated[ContractType | None, Query()] = None,
    employer_id: Annotated[uuid.UUID | None, Query()] = None,
    sort: Annotated[JobOpeningSort, SortQuery] = JobOpeningSort.CREATED_AT,
    created_since: CreatedSinceQuery = None,
    created_before: CreatedBeforeQuery = None,
    q: TitleWordsQuery = None,
) -> Page[JobOpeningOut] | Page[JobOpeningPublicOut] | StreamingResponse:
    """Job openings, oldest first unless `sort` says otherwise (admin, service manager, Paris referent, partner
    workers).

    Filters: `status`, `rome_code` (a whole code, or the start of one: `F17`, `F`), `sector` (the employer's, whole
    value, case and accents ignored), `commune_insee` (the employer's INSEE code), `contract_type`, `employer_id`,
    `created_since`/`created_before` (Paris dates), `q` (words of the title, case and accents ignored: `macon`).
    `sort`: `created_at`, `start_date`, `title`, `-` for descending. Paginated with `limit` and `offset`.

    Partner workers see open openings only, with the employer reduced to `id`, `legal_name`, `trade_name`, `sector`
    and `commune_insee` (no address, contact, SIRET or notes); staff see every status and the employer's contact.

    `Accept: text/csv` answers every matching opening (same filters, no pagination) as CSV: the caller's view, one
    column per field (the employer's flattened), French headers, `;`, UTF-8 with BOM, streamed."""
    if wants_csv(request):
        view: type[JobOpeningOut] | type[JobOpeningPublicOut] = (
            JobOpeningOut if service.is_staff(principal) else JobOpeningPublicOut
        )
        filters = service.job_opening_filters(
            principal,
            status=status_filter,
            rome=rome,
            sector=sector,
            commune_insee=commune,
            contract_type=contract_type,
            employer_id=employer_id,
            created_since=created_since,
            created_before=created_before,
            q=q,
        )
        paths = columns(view, OPENING_LABELS)
        statement = service.job_openings_csv_statement(filters, sort.value)
        stream = stream_rows(request.app.state.sessionmaker, statement)
        csv_rows = (cells(view.model_validate(row[0]), paths) async for row in stream)
        return csv_response([header for _, header in paths], csv_rows, filename="offres.csv")
    rows = await service.list_job_openings(
        session,
        principal,
        page,
        status=status_filter,
        rome=rome,
        sector=sector,
        commune_insee=commune,
        contract_type=contract_type,
        employer_id=employer_id,
        sort=sort.value,
        created_since=created_since,
        created_before=created_before,
        q=q,
    )
    if service.is_staff(principal):
        return rows.to(JobOpeningOut.model_validate, Page[JobOpeningOut])
    return rows.to(JobOpeningPublicOut.model_validate, Page[JobOpeningPublicOut])


@router.get("/job-openings/{job_opening_id}", summary="Read a job opening", responses=_READ)
@answers_etag
async def job_openings_get(
    principal: OpeningReaderDep, opening: CurrentJobOpening, response: Response
) -> JobOpeningOut | JobOpeningPublicOut:
    """One job opening with its employer and its `ETag` (admin, service manager, Paris referent, partner workers).

    A closed or filled opening is a 404 for partner workers, who see the employer without contact details."""
    with_etag(response, opening.version)
    return _opening_out(principal, opening)


@router.patch(
    "/job-openings/{job_opening_id}",
    summary="Update, close or reopen a job opening",
    responses=problem_responses(NOT_FOUND, POSITIONS_BELOW_HIRES, JOB_OPENING_STATUS_NOT_ALLOWED, EMPLOYER_INACTIVE),
)
@answers_etag
async def job_openings_update(
    principal: WriterDep,
    session: SessionDep,
    opening: LockedJobOpening,
    body: JobOpeningUpdate,
    if_match: IfMatchDep,
    response: Response,
) -> JobOpeningOut:
    """Change a job opening's fields or status (admin, service manager), with `If-Match` from your last read. Only
    the fields present change; `null` clears an optional field.

    - Status moves: `open` → `closed`, `closed` → `open`, `filled` → `closed`, and `filled` → `open` when the opening
      then has more positions than hires (raise `open_positions` in the same request). Only the pipeline sets
      `filled`: asking for it is `409 job-opening-status-not-allowed`, as is reopening an opening whose positions
      are all hired. Lowering `open_positions` to the number of hires of an open opening marks it `filled`.
    - `open_positions` is never below `hires_count`: `409 positions-below-hires` (with `hires_count`).
    - A deactivated employer's opening cannot be reopened: `409 employer-inactive`.

    Recorded in the audit trail (`job_opening.update`, with the status move)."""
    if_match.check(opening.version)
    opening = await service.update_job_opening(session, principal, opening, body)
    return etag_answer(response, JobOpeningOut, opening)


@router.delete(
    "/job-openings/{job_opening_id}",
    summary="Delete a job opening",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NOT_FOUND, JOB_OPENING_IN_USE),
)
async def job_openings_delete(
    principal: WriterDep, session: SessionDep, opening: LockedJobOpening, if_match: IfMatchDep
) -> Response:
    """Delete a job opening no placement refers to (admin, service manager), with `If-Match` from your last read
    (428 without it, 412 when stale).

    An opening that has hires or that a placement refers to cannot be deleted (the households' history depends on
    it): `409 job-opening-in-use`; close it instead (`PATCH {"status": "closed"}`). Answers 204; recorded in the
    audit trail (`job_opening.delete`)."""
    if_match.check(opening.version)
    await service.delete_job_opening(session, principal, opening)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
