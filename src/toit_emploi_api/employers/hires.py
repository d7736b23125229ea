"""Employers' contract for the hires the pipeline records on job openings. Employers own `job_openings`; the
pipeline reads an opening and counts a hire through these functions, never by writing its columns.

- `find_opening` / `require_open`: the opening a placement proposes, which must be `open` (no lock: a placement
  only refers to it; the hire is what takes a position).
- `count_hire`: one atomic `UPDATE … WHERE hires_count < open_positions AND status <> 'closed'` takes a position
  (the row is locked by the UPDATE until the transaction ends) and marks the opening `filled` with its last one;
  the database CHECK `hires_count <= open_positions` backs it. A hire is never undone, except:
- `lock_openings`, `count_past_hires`, `undo_past_hires`: the hires of a history import, counted on their openings
  whatever the openings' status now (a past hire took a position), and taken back when the import is rolled back
  (a `filled` opening with a free position again is `open`).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.errors import ProblemError
from toit_emploi_api.employers import hires_repository
from toit_emploi_api.employers.models import JobOpening
from toit_emploi_api.vocab.problems import JOB_OPENING_CLOSED, JOB_OPENING_FULL, JOB_OPENING_NOT_OPEN
from toit_emploi_api.vocab.statuses import JobOpeningStatus


async def find_opening(session: AsyncSession, job_opening_id: uuid.UUID) -> JobOpening | None:
    """The job opening, or None when unknown."""
    return await hires_repository.get_opening(session, job_opening_id)


def require_open(opening: JobOpening) -> None:
    """409 `job-opening-not-open` (with `job_opening_status`) unless the opening is open."""
    if opening.status is not JobOpeningStatus.OPEN:
        raise ProblemError(
            JOB_OPENING_NOT_OPEN,
            f"The job opening is {opening.status.value}.",
            extra={"job_opening_status": opening.status.value},
        )


async def lock_openings(session: AsyncSession, job_opening_ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int]]:
    """Lock the openings `FOR UPDATE` (in id order) until the transaction ends: opening → (positions, hires)."""
    if not job_opening_ids:
        return {}
    return await hires_repository.lock_openings(session, sorted(job_opening_ids))


async def count_past_hires(session: AsyncSession, hires: dict[uuid.UUID, int]) -> None:
    """Count `hires[opening]` more hires on each (locked) opening: `filled` when an open one reaches its positions.
    409 `job-opening-full` when one has not that many positions free (the caller checks first)."""
    for opening_id, count in sorted(hires.items()):
        if count and not await hires_repository.add_hires(session, opening_id, count):
            raise ProblemError(JOB_OPENING_FULL, "The job opening already has as many hires as open positions.")


async def undo_past_hires(session: AsyncSession, hires: dict[uuid.UUID, int]) -> None:
    """Take back `hires[opening]` hires on each opening (a history import rolled back)."""
    for opening_id, count in sorted(hires.items()):
        if count:
            await hires_repository.add_hires(session, opening_id, -count)


async def count_hire(session: AsyncSession, job_opening_id: uuid.UUID) -> None:
    """Take one of the opening's positions for a hire: 409 `job-opening-closed` when it is closed,
    `job-opening-full` (with `open_positions`) when every position is taken."""
    if await hires_repository.take_position(session, job_opening_id):
        return
    opening = await hires_repository.get_opening(session, job_opening_id)
    if opening is not None and opening.status is JobOpeningStatus.CLOSED:
        raise ProblemError(JOB_OPENING_CLOSED, "The job opening is closed.")
    raise ProblemError(
        JOB_OPENING_FULL,
        "The job opening already has as many hires as open positions.",
        extra={"open_positions": opening.open_positions if opening else None},
    )
