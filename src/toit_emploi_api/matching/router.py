"""HTTP endpoints of the matching read model: suggestions for a household, candidates for a job opening and for a
housing unit ([matching.md](matching.md)). Read only; each read is audited."""

from __future__ import annotations

import inspect
import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from toit_emploi_api.auth.policy import ManagerDep
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.core.problems import NOT_FOUND
from toit_emploi_api.core.resources import Page, PageDep
from toit_emploi_api.employers.deps import CurrentJobOpening
from toit_emploi_api.housing.deps import CurrentUnit
from toit_emploi_api.matching import service
from toit_emploi_api.matching.deps import DEFAULT_UNITS_PER_OPENING, MAX_UNITS_PER_OPENING, MatchingSettings
from toit_emploi_api.matching.schemas import ProposalOut
from toit_emploi_api.pipeline.deps import StageHousehold
from toit_emploi_api.vocab.problems import (
    JOB_OPENING_FULL,
    JOB_OPENING_NOT_OPEN,
    UNIT_IS_RELAY_APARTMENT,
    UNIT_NOT_AVAILABLE,
    WRONG_STAGE,
)

router = APIRouter(prefix="/api/v1", tags=["matching"])


_RULES = """
**Hard rules** (a proposal that breaks one is not listed): the opening is open with positions left, of an active
employer, and its ROME code is one of the adult's codes (or of the same family, its first three characters, with
`include_related=true`); the adult has no open placement (proposed, interview, offered) for it; the unit is vacant,
not a relay apartment, has at least 1 + ceil(children / 2) bedrooms (rooms - 1), and is free (`available_from`,
null meaning now) at most `max_wait_days` after the job's start (today when the job has none); the great-circle
distance between the unit's commune and the employer's commune is at most `max_commute_km` (default 30 km when an
adult of the household has a driving licence, 5 km otherwise). Communes outside the reference (`/communes`) have
no coordinates: their units and employers are never proposed.

**Score** (0-100): the sum of six factors, each returned with its `value`, `weight` and `contribution`:
`rome_match` (30; half for a related code), `experience` (15, full from 5 years), `commute` (25 at 0 km, 0 at the
limit), `rent` (15 up to 300 EUR rent + charges, 0 from 1000 EUR), `availability` (10 when free by the start, 0 at
`max_wait_days` after it), `size_fit` (5 with no spare bedroom, 2.5 with one, 0 with more). Ties are broken by
distance, then job opening id, unit id and member id, so a page is stable. `distance_km` is an approximation of the
road distance. `links` give the calls to propose the job (placement) and reserve the unit (allocation).
"""


def _described(text: str) -> str:
    return inspect.cleandoc(text) + "\n" + _RULES


@router.get(
    "/households/{household_id}/suggestions",
    summary="Suggest jobs and homes for a household",
    responses=problem_responses(NOT_FOUND, WRONG_STAGE),
    description=_described(
        """Ranked (adult, job opening, housing unit) proposals for a household in matching (409 `wrong-stage`
        otherwise), best first, paginated with `limit` and `offset`; `member_id` keeps one adult.

        Each (adult, job opening) comes with its `units_per_opening` best units (1-10; default 1, for speed: ask
        3 to have the next homes at hand), each a separate proposal, so that the manager has other homes to offer
        if the family turns the best one down.
        All proposals are ranked together by score (a second home of a good job may come before the best home of
        a weaker one); the same unit may appear with several jobs.

        **Who:** the service manager (and admins); others 403. The read is audited (`household.suggestions`)."""
    ),
)
async def household_suggestions(
    principal: ManagerDep,
    session: SessionDep,
    household: StageHousehold,
    settings: MatchingSettings,
    page: PageDep,
    member_id: Annotated[
        uuid.UUID | None, Query(description="Only this adult of the household (another household's member: 404).")
    ] = None,
    units_per_opening: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_UNITS_PER_OPENING,
            description="How many homes to propose with each (adult, job opening): its best units, each a separate "
            "proposal, ranked with all the others (1, the default: only the best unit of each pair; 3 gives the "
            "manager the next homes if the family turns the best one down).",
        ),
    ] = DEFAULT_UNITS_PER_OPENING,
) -> Page[ProposalOut]:
    """Suggestions for the household of the path (the description above has the rules)."""
    return await service.suggestions(session, principal, household, settings, member_id, page, units_per_opening)


@router.get(
    "/job-openings/{job_opening_id}/candidates",
    summary="Candidates for a job opening",
    responses=problem_responses(NOT_FOUND, JOB_OPENING_NOT_OPEN, JOB_OPENING_FULL),
    description=_described(
        """Adults of households in matching ranked for this job opening, each with the best unit near it (one item
        per adult; an adult with no unit that passes the rules is not listed). 409 `job-opening-not-open` for a
        filled or closed opening, `job-opening-full` when every position is taken.

        **Who:** the service manager (and admins); others 403. The read is audited (`job_opening.candidates`)."""
    ),
)
async def job_opening_candidates(
    principal: ManagerDep,
    session: SessionDep,
    opening: CurrentJobOpening,
    settings: MatchingSettings,
    page: PageDep,
) -> Page[ProposalOut]:
    """Candidates for the job opening of the path (the description above has the rules)."""
    return await service.opening_candidates(session, principal, opening, settings, page)


@router.get(
    "/housing-units/{unit_id}/candidates",
    summary="Candidate households for a housing unit",
    responses=problem_responses(NOT_FOUND, UNIT_NOT_AVAILABLE, UNIT_IS_RELAY_APARTMENT),
    description=_described(
        """Households that this vacant unit fits, ranked, each with its best job: households in matching with an
        opening that passes the rules, and households in lease (hired, no home yet) with the job they were hired
        for (counted as an exact ROME match, its start date the placement's). Households that already hold an
        active allocation are left out. One item per household. 409 `unit-not-available` when the unit is not
        vacant, `unit-is-relay-apartment` for a relay apartment.

        **Who:** the service manager (and admins); others 403. The read is audited (`housing_unit.candidates`)."""
    ),
)
async def housing_unit_candidates(
    principal: ManagerDep,
    session: SessionDep,
    unit: CurrentUnit,
    settings: MatchingSettings,
    page: PageDep,
) -> Page[ProposalOut]:
    """Candidates for the housing unit of the path (the description above has the rules)."""
    return await service.unit_candidates(session, principal, unit, settings, page)
