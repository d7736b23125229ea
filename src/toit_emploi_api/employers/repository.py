"""All SQL for employers and job openings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from toit_emploi_api.core.resources import PageParams, Slice, created_between, paginate, sorted_by
from toit_emploi_api.employers.models import Employer, JobOpening
from toit_emploi_api.vocab.statuses import ContractType, JobOpeningStatus


@dataclass(frozen=True)
class EmployerFilters:
    active: bool | None = None
    commune_insee: str | None = None
    sector_folded: str | None = None
    created_since: date | None = None  # Paris dates
    created_before: date | None = None
    words: tuple[str, ...] | None = None  # `q`, folded: each word in the legal or trade name


@dataclass(frozen=True)
class JobOpeningFilters:
    status: JobOpeningStatus | None = None
    rome: str | None = None  # an exact code (5 characters) or a prefix ("F17")
    sector_folded: str | None = None
    commune_insee: str | None = None
    contract_type: ContractType | None = None
    employer_id: uuid.UUID | None = None
    only_open: bool = False  # partner workers see open openings only
    created_since: date | None = None  # Paris dates
    created_before: date | None = None
    words: tuple[str, ...] | None = None  # `q`, folded: each word in the title


def _folded_text(column: Any) -> Any:
    """`column` as `reference.text.fold` writes it (case, accents, hyphens and apostrophes ignored), in SQL."""
    return func.lower(func.unaccent(func.translate(column, "-'’", "   ")))


def _words_in(words: tuple[str, ...] | None, *columns: Any) -> list[ColumnElement[bool]]:
    """`q`: every word appears in one of `columns` (an empty tuple, a `q` of punctuation only, matches nothing)."""
    if words is None:
        return []
    if not words:
        return [false()]
    return [or_(*(_folded_text(c).contains(word, autoescape=True) for c in columns)) for word in words]


# --- employers ---------------------------------------------------------------------------------------------
async def get_employer(
    session: AsyncSession, employer_id: uuid.UUID, *, for_update: bool = False, for_share: bool = False
) -> Employer | None:
    stmt = select(Employer).where(Employer.id == employer_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    elif for_share:
        stmt = stmt.with_for_update(read=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def siret_taken(session: AsyncSession, siret: str, exclude: uuid.UUID | None = None) -> bool:
    stmt = select(Employer.id).where(Employer.siret == siret)
    if exclude is not None:
        stmt = stmt.where(Employer.id != exclude)
    return (await session.execute(stmt)).first() is not None


def _equal(*pairs: tuple[Any, object | None]) -> list[ColumnElement[bool]]:
    """`column = value` for each filter that was given (None: not filtered)."""
    return [column == value for column, value in pairs if value is not None]


def _employer_where(f: EmployerFilters) -> list[ColumnElement[bool]]:
    return [
        *_equal(
            (Employer.active, f.active),
            (Employer.commune_insee, f.commune_insee),
            (Employer.sector_folded, f.sector_folded),
        ),
        *created_between(Employer.created_at, f.created_since, f.created_before),
        *_words_in(f.words, Employer.legal_name, Employer.trade_name),
    ]


_EMPLOYER_SORTS: dict[str, Any] = {"legal_name": Employer.legal_name, "created_at": Employer.created_at}
_OPENING_SORTS: dict[str, Any] = {
    "created_at": JobOpening.created_at,
    "start_date": JobOpening.start_date,
    "title": JobOpening.title,
}


async def list_employers(
    session: AsyncSession, filters: EmployerFilters, page: PageParams, sort: str = "legal_name"
) -> Slice[Employer]:
    """One page in the `sort` order (legal name by default), and the total: two statements whatever the page size."""
    stmt = sorted_by(select(Employer).where(*_employer_where(filters)), sort, _EMPLOYER_SORTS, Employer.id)
    return await paginate(session, stmt, page)


async def open_job_openings(session: AsyncSession, employer_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    stmt = (
        select(JobOpening.id, JobOpening.title)
        .where(JobOpening.employer_id == employer_id, JobOpening.status == JobOpeningStatus.OPEN)
        .order_by(JobOpening.created_at, JobOpening.id)
    )
    return [(row.id, row.title) for row in await session.execute(stmt)]


# --- job openings ------------------------------------------------------------------------------------------
def _with_employer() -> Select[JobOpening]:
    return select(JobOpening).join(JobOpening.employer).options(contains_eager(JobOpening.employer))


async def get_job_opening(
    session: AsyncSession, job_opening_id: uuid.UUID, *, for_update: bool = False
) -> JobOpening | None:
    """The opening with its employer loaded (one statement); ``for_update`` locks the opening row only."""
    stmt = _with_employer().where(JobOpening.id == job_opening_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update(of=JobOpening)
    return (await session.execute(stmt)).unique().scalar_one_or_none()


def _job_opening_where(f: JobOpeningFilters) -> list[ColumnElement[bool]]:
    where = _equal(
        (JobOpening.status, JobOpeningStatus.OPEN if f.only_open else None),
        (JobOpening.status, f.status),
        (JobOpening.contract_type, f.contract_type),
        (JobOpening.employer_id, f.employer_id),
        (Employer.commune_insee, f.commune_insee),
        (Employer.sector_folded, f.sector_folded),
    )
    where += created_between(JobOpening.created_at, f.created_since, f.created_before)
    where += _words_in(f.words, JobOpening.title)
    if f.rome is not None:
        if len(f.rome) == 5:
            where.append(JobOpening.rome_code == f.rome)
        else:
            where.append(JobOpening.rome_code.startswith(f.rome, autoescape=True))
    return where


def job_openings_statement(filters: JobOpeningFilters, sort: str = "created_at") -> Select[JobOpening]:
    """The matching openings with their employers, in the list's order (the list pages it; the CSV export streams
    it)."""
    return sorted_by(_with_employer().where(*_job_opening_where(filters)), sort, _OPENING_SORTS, JobOpening.id)


async def list_job_openings(
    session: AsyncSession, filters: JobOpeningFilters, page: PageParams, sort: str = "created_at"
) -> Slice[JobOpening]:
    """One page (oldest first by default) with each opening's employer, and the total: two statements."""
    return await paginate(session, job_openings_statement(filters, sort), page)


async def placements_refer_to(session: AsyncSession, job_opening_id: uuid.UUID) -> bool:
    """True when a placement refers to this job opening.

    The ``placements`` table belongs to the pipeline, a layer above: it is named in SQL text here rather than through
    the pipeline's models, which employers may not import."""
    stmt = text("SELECT EXISTS (SELECT 1 FROM placements WHERE job_opening_id = :id)")
    return bool((await session.execute(stmt, {"id": job_opening_id})).scalar_one())


async def delete_job_opening(session: AsyncSession, opening: JobOpening) -> None:
    await session.delete(opening)
    await session.flush()
