"""SQL of the hires counted on job openings (see `hires`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from toit_emploi_api.employers.models import JobOpening
from toit_emploi_api.vocab.statuses import JobOpeningStatus


async def get_opening(session: AsyncSession, job_opening_id: uuid.UUID) -> JobOpening | None:
    stmt = select(JobOpening).where(JobOpening.id == job_opening_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _count_hires(
    session: AsyncSession, job_opening_id: uuid.UUID, hires: ColumnElement[int], status: ColumnElement[Any], *where: Any
) -> bool:
    """Set the opening's hires to `hires` and its status to `status` (a new version) when `where` holds: the UPDATE
    locks the row, the CHECK ``hires_within_positions`` backs the conditions. False when no row matched."""
    stmt = (
        update(JobOpening)
        .where(JobOpening.id == job_opening_id, *where)
        .values(hires_count=hires, status=status, version=JobOpening.version + 1, updated_at=func.now())
        .returning(JobOpening.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).first() is not None


def _status(value: JobOpeningStatus) -> ColumnElement[Any]:
    return literal(value, JobOpening.status.type)


async def take_position(session: AsyncSession, job_opening_id: uuid.UUID) -> bool:
    """Atomically count one more hire, marking the opening filled with its last position; False when it is full
    or closed."""
    hires = JobOpening.hires_count + 1
    status = case((hires >= JobOpening.open_positions, _status(JobOpeningStatus.FILLED)), else_=JobOpening.status)
    return await _count_hires(
        session,
        job_opening_id,
        hires,
        status,
        JobOpening.hires_count < JobOpening.open_positions,
        JobOpening.status != JobOpeningStatus.CLOSED,
    )


async def lock_openings(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int]]:
    stmt = (
        select(JobOpening.id, JobOpening.open_positions, JobOpening.hires_count)
        .where(JobOpening.id.in_(ids))
        .order_by(JobOpening.id)
        .with_for_update()
    )
    return {r.id: (int(r.open_positions), int(r.hires_count)) for r in await session.execute(stmt)}


async def add_hires(session: AsyncSession, job_opening_id: uuid.UUID, count: int) -> bool:
    """`count` more hires (fewer when negative): an open opening reaching its positions is `filled`, a filled one
    below them `open` again; a closed one stays closed. False when that would exceed the positions or go below 0."""
    hires = JobOpening.hires_count + count
    status = case(
        (
            (JobOpening.status == JobOpeningStatus.OPEN) & (hires >= JobOpening.open_positions),
            _status(JobOpeningStatus.FILLED),
        ),
        (
            (JobOpening.status == JobOpeningStatus.FILLED) & (hires < JobOpening.open_positions),
            _status(JobOpeningStatus.OPEN),
        ),
        else_=JobOpening.status,
    )
    return await _count_hires(session, job_opening_id, hires, status, hires <= JobOpening.open_positions, hires >= 0)
