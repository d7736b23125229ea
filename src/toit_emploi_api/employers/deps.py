"""Loader dependencies: the employer or job opening of the path (404 when unknown).

async def route(principal: WriterDep, employer: LockedEmployer, if_match: IfMatchDep) -> ...
Declare the route's principal first, so that a refused role is a 403 before any 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from toit_emploi_api.auth.policy import Authenticated
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.employers import service
from toit_emploi_api.employers.models import Employer, JobOpening


async def _employer(_: Authenticated, session: SessionDep, employer_id: uuid.UUID) -> Employer:
    return await service.get_employer_or_404(session, employer_id)


async def _locked_employer(_: Authenticated, session: SessionDep, employer_id: uuid.UUID) -> Employer:
    return await service.get_employer_or_404(session, employer_id, for_update=True)


async def _job_opening(principal: Authenticated, session: SessionDep, job_opening_id: uuid.UUID) -> JobOpening:
    return await service.get_job_opening_or_404(session, job_opening_id, only_open=not service.is_staff(principal))


async def _locked_job_opening(_: Authenticated, session: SessionDep, job_opening_id: uuid.UUID) -> JobOpening:
    return await service.get_job_opening_or_404(session, job_opening_id, for_update=True)


CurrentEmployer = Annotated[Employer, Depends(_employer)]
"""The path's employer."""
LockedEmployer = Annotated[Employer, Depends(_locked_employer)]
"""The same, locked `FOR UPDATE` until the request's transaction ends (for writes)."""
CurrentJobOpening = Annotated[JobOpening, Depends(_job_opening)]
"""The path's job opening with its employer, as the caller may see it (partner workers: open ones only)."""
LockedJobOpening = Annotated[JobOpening, Depends(_locked_job_opening)]
"""The same, with the opening's row locked `FOR UPDATE` (for writes; the pipeline hires under the same lock)."""
