"""HTTP endpoints of the employers domain: employers in the Cantal and their job openings.

Who: service manager and admin write; the Paris referent reads; partner workers read open job openings only,
with the employer reduced to name, sector and commune; landlords and funders get 403.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import error_responses
from toit_emploi_api.core.etag import IfMatchHeader, require_if_match
from toit_emploi_api.core.resources import Page, PageDep, with_etag
from toit_emploi_api.employers import repository, service
from toit_emploi_api.employers.models import JobOpening
from toit_emploi_api.employers.schemas import (
    EmployerCreate,
    EmployerOut,
    EmployerUpdate,
    JobOpeningCreate,
    JobOpeningOut,
    JobOpeningPublicOut,
    JobOpeningUpdate,
)
from toit_emploi_api.reference.codes import InseeCommuneCode
from toit_emploi_api.reference.text import fold
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.statuses import ContractType, JobOpeningStatus

router = APIRouter(prefix="/api/v1", tags=["employers"])

WriterDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER))]
StaffReaderDep = Annotated[Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT))]
OpeningReaderDep = Annotated[
    Principal, Depends(authorize(Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER))
]
_STAFF_ROLES = frozenset({Role.ADMIN, Role.SERVICE_MANAGER, Role.PARIS_REFERENT})
_READ = error_responses(404)
_WRITE = error_responses(404, 409, 412, 428)

CommuneQuery = Annotated[
    InseeCommuneCode | None, Query(description="INSEE commune code of the employer (`15014`, `2A004`).")
]
SectorQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="Employer sector, whole value, case and accents ignored."),
]


OptionalIfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=200, description="Optional on delete: when given and stale, 412."),
]


def _is_staff(principal: Principal) -> bool:
    return principal.role in _STAFF_ROLES


def _opening_out(principal: Principal, opening: JobOpening) -> JobOpeningOut | JobOpeningPublicOut:
    if _is_staff(principal):
        return JobOpeningOut.model_validate(opening)
    return JobOpeningPublicOut.model_validate(opening)


# --- employers ---------------------------------------------------------------------------------------------
@router.get("/employers", summary="List employers (by legal name)", response_model=Page[EmployerOut])
async def employers_list(
    _: StaffReaderDep,
    session: SessionDep,
    page: PageDep,
    active: Annotated[bool | None, Query(description="Only active (true) or deactivated (false) employers.")] = None,
    commune: CommuneQuery = None,
    sector: SectorQuery = None,
) -> Page[EmployerOut]:
    filters = repository.EmployerFilters(
        active=active, commune_insee=commune, sector_folded=fold(sector) if sector else None
    )
    rows, total = await repository.list_employers(session, filters, page.limit, page.offset)
    return Page(items=[EmployerOut.model_validate(r) for r in rows], total=total, **vars(page))


@router.post(
    "/employers",
    summary="Register an employer (SIRET unique)",
    status_code=status.HTTP_201_CREATED,
    response_model=EmployerOut,
    responses=error_responses(409),
)
async def employers_create(
    principal: WriterDep, session: SessionDep, body: EmployerCreate, response: Response
) -> EmployerOut:
    employer = await service.create_employer(session, principal, body)
    with_etag(response, employer.version)
    response.headers["Location"] = f"/api/v1/employers/{employer.id}"
    return EmployerOut.model_validate(employer)


@router.get("/employers/{employer_id}", summary="Read an employer", response_model=EmployerOut, responses=_READ)
async def employers_get(
    _: StaffReaderDep, session: SessionDep, employer_id: uuid.UUID, response: Response
) -> EmployerOut:
    employer = await service.get_employer_or_404(session, employer_id)
    with_etag(response, employer.version)
    return EmployerOut.model_validate(employer)


@router.patch(
    "/employers/{employer_id}",
    summary="Update or (de)activate an employer (If-Match required)",
    response_model=EmployerOut,
    responses=_WRITE,
)
async def employers_update(
    principal: WriterDep,
    session: SessionDep,
    employer_id: uuid.UUID,
    body: EmployerUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> EmployerOut:
    employer = await service.get_employer_or_404(session, employer_id, for_update=True)
    require_if_match(if_match, employer.version)
    employer = await service.update_employer(session, principal, employer, body)
    with_etag(response, employer.version)
    return EmployerOut.model_validate(employer)


# --- job openings ------------------------------------------------------------------------------------------
@router.get(
    "/employers/{employer_id}/job-openings",
    summary="List one employer's job openings (all statuses unless filtered)",
    response_model=Page[JobOpeningOut],
    responses=_READ,
)
async def employers_job_openings_list(
    _: StaffReaderDep,
    session: SessionDep,
    page: PageDep,
    employer_id: uuid.UUID,
    status_filter: Annotated[JobOpeningStatus | None, Query(alias="status")] = None,
) -> Page[JobOpeningOut]:
    await service.get_employer_or_404(session, employer_id)
    filters = repository.JobOpeningFilters(employer_id=employer_id, status=status_filter)
    rows, total = await repository.list_job_openings(session, filters, page.limit, page.offset)
    return Page(items=[JobOpeningOut.model_validate(r) for r in rows], total=total, **vars(page))


@router.post(
    "/employers/{employer_id}/job-openings",
    summary="Open a job opening for an employer (created `open`)",
    status_code=status.HTTP_201_CREATED,
    response_model=JobOpeningOut,
    responses=error_responses(404, 409),
)
async def employers_job_openings_create(
    principal: WriterDep, session: SessionDep, employer_id: uuid.UUID, body: JobOpeningCreate, response: Response
) -> JobOpeningOut:
    opening = await service.create_job_opening(session, principal, employer_id, body)
    with_etag(response, opening.version)
    response.headers["Location"] = f"/api/v1/job-openings/{opening.id}"
    return JobOpeningOut.model_validate(opening)


@router.get(
    "/job-openings",
    summary="Search job openings (partner workers: open ones only, employer without contact details)",
    response_model=Page[JobOpeningOut] | Page[JobOpeningPublicOut],
)
async def job_openings_list(
    principal: OpeningReaderDep,
    session: SessionDep,
    page: PageDep,
    status_filter: Annotated[JobOpeningStatus | None, Query(alias="status")] = None,
    rome: Annotated[
        str | None,
        Query(
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
) -> Page[JobOpeningOut] | Page[JobOpeningPublicOut]:
    filters = repository.JobOpeningFilters(
        status=status_filter,
        rome=rome.upper() if rome else None,
        sector_folded=fold(sector) if sector else None,
        commune_insee=commune,
        contract_type=contract_type,
        employer_id=employer_id,
        only_open=not _is_staff(principal),
    )
    rows, total = await repository.list_job_openings(session, filters, page.limit, page.offset)
    if _is_staff(principal):
        return Page[JobOpeningOut](items=[JobOpeningOut.model_validate(r) for r in rows], total=total, **vars(page))
    return Page[JobOpeningPublicOut](
        items=[JobOpeningPublicOut.model_validate(r) for r in rows], total=total, **vars(page)
    )


@router.get(
    "/job-openings/{job_opening_id}",
    summary="Read a job opening (partner workers: open ones only)",
    response_model=JobOpeningOut | JobOpeningPublicOut,
    responses=_READ,
)
async def job_openings_get(
    principal: OpeningReaderDep, session: SessionDep, job_opening_id: uuid.UUID, response: Response
) -> JobOpeningOut | JobOpeningPublicOut:
    opening = await service.get_job_opening_or_404(session, job_opening_id, only_open=not _is_staff(principal))
    with_etag(response, opening.version)
    return _opening_out(principal, opening)


@router.patch(
    "/job-openings/{job_opening_id}",
    summary="Update, close or reopen a job opening (If-Match required)",
    response_model=JobOpeningOut,
    responses=_WRITE,
)
async def job_openings_update(
    principal: WriterDep,
    session: SessionDep,
    job_opening_id: uuid.UUID,
    body: JobOpeningUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> JobOpeningOut:
    opening = await service.get_job_opening_or_404(session, job_opening_id, for_update=True)
    require_if_match(if_match, opening.version)
    opening = await service.update_job_opening(session, principal, opening, body)
    with_etag(response, opening.version)
    return JobOpeningOut.model_validate(opening)


@router.delete(
    "/job-openings/{job_opening_id}",
    summary="Delete a job opening no placement refers to (else 409: close it instead)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, 409, 412),
)
async def job_openings_delete(
    principal: WriterDep, session: SessionDep, job_opening_id: uuid.UUID, if_match: OptionalIfMatch = None
) -> Response:
    opening = await service.get_job_opening_or_404(session, job_opening_id, for_update=True)
    if if_match is not None:
        require_if_match(if_match, opening.version)
    await service.delete_job_opening(session, principal, opening)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
