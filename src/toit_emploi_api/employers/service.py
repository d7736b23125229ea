"""Rules for employers and job openings. Flushes only; the request session commits."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, TypedDict, Unpack

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit
from toit_emploi_api.core.errors import FieldError, ProblemError, ValidationProblemError, constraint_name
from toit_emploi_api.core.resources import PageParams, Slice, found
from toit_emploi_api.employers import repository
from toit_emploi_api.employers.models import Employer, JobOpening
from toit_emploi_api.employers.schemas import EmployerCreate, EmployerUpdate, JobOpeningCreate, JobOpeningUpdate
from toit_emploi_api.reference.text import fold
from toit_emploi_api.vocab.audit import AuditAction
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

_SIRET_CONSTRAINT = "uq_employers_siret"
_HIRES_CONSTRAINT = "ck_job_openings_hires_within_positions"


def _siret_taken() -> ProblemError:
    return ProblemError(
        SIRET_TAKEN,
        "An employer with this SIRET already exists.",
    )


def _positions_below_hires(opening: JobOpening, requested: int) -> ProblemError:
    return ProblemError(
        POSITIONS_BELOW_HIRES,
        f"open_positions cannot be lower than the {opening.hires_count} hire(s) already recorded on this job opening.",
        extra={"hires_count": opening.hires_count, "requested_open_positions": requested},
    )


async def _flush(session: AsyncSession, opening: JobOpening | None = None, requested: int = 0) -> None:
    """Flush, turning the constraint violations that a concurrent write can still cause into clear 409s."""
    try:
        await session.flush()
    except IntegrityError as exc:
        name = constraint_name(exc)
        if name == _SIRET_CONSTRAINT:
            raise _siret_taken() from None
        if name == _HIRES_CONSTRAINT and opening is not None:
            raise _positions_below_hires(opening, requested) from None
        raise


# --- employers ---------------------------------------------------------------------------------------------
STAFF_ROLES = frozenset({Role.ADMIN, Role.SERVICE_MANAGER, Role.PARIS_REFERENT})
"""Roles that see every job opening and the employer's contact details; partner workers see open ones, reduced."""


def is_staff(principal: Principal) -> bool:
    return principal.role in STAFF_ROLES


def _folded(sector: str | None) -> str | None:
    return fold(sector) if sector else None


async def get_employer_or_404(
    session: AsyncSession, employer_id: uuid.UUID, *, for_update: bool = False, for_share: bool = False
) -> Employer:
    employer = await repository.get_employer(session, employer_id, for_update=for_update, for_share=for_share)
    return found(employer, "No employer with this id.")


async def list_employers(
    session: AsyncSession,
    page: PageParams,
    *,
    active: bool | None = None,
    commune_insee: str | None = None,
    sector: str | None = None,
    sort: str = "legal_name",
    created_since: date | None = None,
    created_before: date | None = None,
) -> Slice[Employer]:
    """One page of employers in the `sort` order; `sector` matches the whole value, case and accents ignored."""
    filters = repository.EmployerFilters(
        active=active,
        commune_insee=commune_insee,
        sector_folded=_folded(sector),
        created_since=created_since,
        created_before=created_before,
    )
    return await repository.list_employers(session, filters, page, sort)


async def create_employer(session: AsyncSession, principal: Principal, data: EmployerCreate) -> Employer:
    if await repository.siret_taken(session, data.siret):
        raise _siret_taken()
    values = data.model_dump()
    employer = Employer(**values, sector_folded=_folded(data.sector))
    session.add(employer)
    await _flush(session)
    await audit.record(
        session, principal, AuditAction.EMPLOYER_CREATE, "employer", employer.id, details={"fields": sorted(values)}
    )
    await session.refresh(employer)
    return employer


async def update_employer(
    session: AsyncSession, principal: Principal, employer: Employer, data: EmployerUpdate
) -> Employer:
    """``employer`` must have been loaded FOR UPDATE (and its If-Match checked) by the caller."""
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if getattr(employer, k) != v}
    latitude = changes.get("latitude", employer.latitude)
    longitude = changes.get("longitude", employer.longitude)
    if (latitude is None) != (longitude is None):
        raise ValidationProblemError(
            "latitude and longitude go together: give both or neither.",
            errors=[FieldError(field="latitude" if "latitude" in changes else "longitude", message="needs its pair")],
        )
    if "siret" in changes and await repository.siret_taken(session, changes["siret"], exclude=employer.id):
        raise _siret_taken()
    if changes.get("active") is False:
        still_open = await repository.open_job_openings(session, employer.id)
        if still_open:
            raise ProblemError(
                EMPLOYER_HAS_OPEN_JOB_OPENINGS,
                f"This employer still has {len(still_open)} open job opening(s); close them before deactivating it.",
                extra={"open_job_openings": [{"id": str(i), "title": t} for i, t in still_open]},
            )
    if not changes:
        return employer
    for key, value in changes.items():
        setattr(employer, key, value)
    if "sector" in changes:
        employer.sector_folded = _folded(changes["sector"])
    await _flush(session)
    await audit.record(
        session, principal, AuditAction.EMPLOYER_UPDATE, "employer", employer.id, details={"fields": sorted(changes)}
    )
    await session.refresh(employer)
    return employer


# --- job openings ------------------------------------------------------------------------------------------
def _employer_inactive() -> ProblemError:
    return ProblemError(EMPLOYER_INACTIVE, "This employer is deactivated: reactivate it before opening positions.")


async def get_job_opening_or_404(
    session: AsyncSession, job_opening_id: uuid.UUID, *, for_update: bool = False, only_open: bool = False
) -> JobOpening:
    opening = await repository.get_job_opening(session, job_opening_id, for_update=for_update)
    if opening is not None and only_open and opening.status is not JobOpeningStatus.OPEN:
        opening = None
    return found(opening, "No job opening with this id.")


class JobOpeningCriteria(TypedDict, total=False):
    """The filters of the job openings list, as the caller asks them (each one optional)."""

    status: JobOpeningStatus | None
    rome: str | None
    sector: str | None
    commune_insee: str | None
    contract_type: ContractType | None
    employer_id: uuid.UUID | None
    created_since: date | None
    created_before: date | None


async def list_job_openings(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    sort: str = "created_at",
    **criteria: Unpack[JobOpeningCriteria],
) -> Slice[JobOpening]:
    """One page of job openings, oldest first, with their employers; partner workers get open ones only.
    `rome` is a whole code or the start of one, in any case."""
    return await repository.list_job_openings(session, job_opening_filters(principal, **criteria), page, sort)


def job_opening_filters(principal: Principal, **criteria: Unpack[JobOpeningCriteria]) -> repository.JobOpeningFilters:
    """The list's filters within what the caller may see (partner workers: open openings only)."""
    rome, sector = criteria.get("rome"), criteria.get("sector")
    return repository.JobOpeningFilters(
        status=criteria.get("status"),
        rome=rome.upper() if rome else None,
        sector_folded=_folded(sector),
        commune_insee=criteria.get("commune_insee"),
        contract_type=criteria.get("contract_type"),
        employer_id=criteria.get("employer_id"),
        only_open=not is_staff(principal),
        created_since=criteria.get("created_since"),
        created_before=criteria.get("created_before"),
    )


def job_openings_csv_statement(filters: repository.JobOpeningFilters, sort: str = "created_at") -> Select[JobOpening]:
    """The export's statement: the same openings as the list, in its order, every page."""
    return repository.job_openings_statement(filters, sort)


async def create_job_opening(
    session: AsyncSession, principal: Principal, employer_id: uuid.UUID, data: JobOpeningCreate
) -> JobOpening:
    # FOR SHARE: a concurrent deactivation (FOR UPDATE) waits for us, then sees this opening.
    employer = await get_employer_or_404(session, employer_id, for_share=True)
    if not employer.active:
        raise _employer_inactive()
    values = data.model_dump()
    opening = JobOpening(**values, employer_id=employer.id, status=JobOpeningStatus.OPEN, hires_count=0)
    session.add(opening)
    await _flush(session)
    await audit.record(
        session,
        principal,
        AuditAction.JOB_OPENING_CREATE,
        "job_opening",
        opening.id,
        details={"fields": sorted(values), "employer_id": str(employer.id)},
    )
    return await get_job_opening_or_404(session, opening.id)


def _next_status(opening: JobOpening, requested: JobOpeningStatus, positions: int) -> JobOpeningStatus:
    current = opening.status
    if requested is current:
        return current
    if requested is JobOpeningStatus.FILLED:
        raise ProblemError(
            JOB_OPENING_STATUS_NOT_ALLOWED,
            "Only the pipeline marks a job opening as filled, when its hires reach its open positions.",
            extra={"from": current.value, "to": requested.value},
        )
    if requested is JobOpeningStatus.OPEN and positions <= opening.hires_count:
        raise ProblemError(
            JOB_OPENING_STATUS_NOT_ALLOWED,
            "Every position of this job opening is already filled; raise open_positions to reopen it.",
            extra={"from": current.value, "to": requested.value, "hires_count": opening.hires_count},
        )
    return requested


async def update_job_opening(
    session: AsyncSession, principal: Principal, opening: JobOpening, data: JobOpeningUpdate
) -> JobOpening:
    """``opening`` must have been loaded FOR UPDATE (and its If-Match checked) by the caller."""
    changes: dict[str, Any] = {k: v for k, v in data.model_dump(exclude_unset=True).items() if getattr(opening, k) != v}
    positions: int = changes.get("open_positions", opening.open_positions)
    if positions < opening.hires_count:
        raise _positions_below_hires(opening, positions)
    status = _next_status(opening, changes.get("status", opening.status), positions)
    if status is JobOpeningStatus.OPEN and positions == opening.hires_count:
        # Lowering the positions to the hires already made fills the opening, as the pipeline would.
        status = JobOpeningStatus.FILLED
    if status is not opening.status:
        changes["status"] = status
    else:
        changes.pop("status", None)
    if changes.get("status") is JobOpeningStatus.OPEN:
        employer = await get_employer_or_404(session, opening.employer_id, for_share=True)
        if not employer.active:
            raise _employer_inactive()
    if not changes:
        return opening
    previous = opening.status
    for key, value in changes.items():
        setattr(opening, key, value)
    await _flush(session, opening, positions)
    details: dict[str, Any] = {"fields": sorted(changes)}
    if "status" in changes:
        details["status"] = {"from": previous.value, "to": opening.status.value}
    await audit.record(session, principal, AuditAction.JOB_OPENING_UPDATE, "job_opening", opening.id, details=details)
    return await get_job_opening_or_404(session, opening.id)


async def delete_job_opening(session: AsyncSession, principal: Principal, opening: JobOpening) -> None:
    """``opening`` must have been loaded FOR UPDATE by the caller (the pipeline hires under the same lock)."""
    if opening.hires_count > 0 or await repository.placements_refer_to(session, opening.id):
        raise ProblemError(
            JOB_OPENING_IN_USE,
            "Placements refer to this job opening, so it cannot be deleted (the history of the households "
            "depends on it). Close it instead: PATCH its status to `closed`.",
            extra={"hires_count": opening.hires_count},
        )
    await audit.record(
        session,
        principal,
        AuditAction.JOB_OPENING_DELETE,
        "job_opening",
        opening.id,
        details={"employer_id": str(opening.employer_id)},
    )
    await repository.delete_job_opening(session, opening)
