"""HTTP endpoints of the reports: the programme's published table and the funnel. HTTP only; the figures and
their rules are in `reports.service` and docs/reports.md."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.clock import CALENDAR_END, PROGRAMME_START
from toit_emploi_api.core.csv import CSV_CONTENT, csv_response, wants_csv
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.reports import service
from toit_emploi_api.reports.schemas import (
    FunnelGroupBy,
    FunnelReport,
    ProgrammeGroupBy,
    ProgrammeReport,
    ReferringKind,
)
from toit_emploi_api.vocab.problems import REPORT_OPTION_NOT_PERMITTED
from toit_emploi_api.vocab.roles import Role

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

ReportReader = Annotated[Principal, Depends(authorize(Role.FUNDER, Role.SERVICE_MANAGER))]
QueryDate = Annotated[date, Field(ge=PROGRAMME_START, le=CALENDAR_END)]
_BOUNDS = "(2014-01-01..2100-12-31)"
IncludeImported = Annotated[
    bool,
    Query(
        description="False: only the households recorded live; the households of a history import "
        "(`POST /history/import`) are left out whole."
    ),
]


def _threshold(request: Request) -> int:
    return int(request.app.state.settings.report_suppression_threshold)


@router.get(
    "/programme",
    summary="The programme's outcomes (funders' table)",
    response_model=ProgrammeReport,
    responses={200: CSV_CONTENT, **problem_responses(REPORT_OPTION_NOT_PERMITTED)},
)
async def reports_programme(
    principal: ReportReader,
    session: SessionDep,
    request: Request,
    retained_since: Annotated[
        QueryDate | None, Query(description=f"Households retained on or after this Paris date {_BOUNDS}.")
    ] = None,
    retained_before: Annotated[
        QueryDate | None, Query(description=f"Households retained strictly before this Paris date {_BOUNDS}.")
    ] = None,
    referring_organisation_kind: Annotated[
        ReferringKind | None, Query(description="Only households referred by this kind of organisation (not funders).")
    ] = None,
    group_by: Annotated[
        ProgrammeGroupBy, Query(description="`retention_year`, or `referring_organisation` (not funders).")
    ] = ProgrammeGroupBy.NONE,
    include_imported: IncludeImported = True,
) -> ProgrammeReport | StreamingResponse:
    """The table funders ask for, for the whole selection and per group: aggregates only, never a name, a birth
    date, a note, a reference or a household id.

    **Figures** (integers, defined in `definitions` in French and English): `applications_submitted`,
    `households_retained` (ever moved diagnostic → matching), `adults` and `children` of the retained households (18
    or older at the retention date), `households_installed` (now in lease, follow_up or completed),
    `households_completed`, `households_not_completed` (retained, now withdrawn), `households_in_progress` (now in
    matching or relay_stay; installed + not completed + in progress = retained), `declined_at_diagnostic`
    (withdrawn from diagnostic), and over the retained households `withdrawals_by_reason` and
    `withdrawals_by_stage` (stage left). `as_of` is when they were computed.

    **Period.** `retained_since` (on or after) and `retained_before` (strictly before), Paris dates: each figure is
    counted by its own date (retention, submission, withdrawal from diagnostic); default the whole history;
    `retained_before` must be after `retained_since` (422 naming it).

    **History.** `include_imported=false` leaves out the households of history imports (live records only);
    default: included.

    **Grouping.** `group_by=retention_year` (each figure by the year of its date) or `referring_organisation`;
    `groups` then holds the same figures per group, ordered by key.

    **Who.** Funders, the service manager and admins (others: 403). `referring_organisation_kind` and
    `group_by=referring_organisation` are for the service manager and admins (403 `report-option-not-permitted` for
    funders). For funders, any group or breakdown cell counting 1 or 2 households (below
    `TOIT_EMPLOI_REPORT_SUPPRESSION_THRESHOLD`, default 3) is null and named in that level's `suppressed`; the
    totals are never suppressed.

    **CSV.** `Accept: text/csv` answers the same report as a spreadsheet: one row per group then a total row (or one
    row), French headers, `;`, UTF-8 with BOM; a suppressed cell shows `s`.
    """
    query = service.ProgrammeQuery(
        retained_since, retained_before, referring_organisation_kind, group_by, include_imported
    )
    report = await service.programme(session, principal, query, threshold=_threshold(request))
    if wants_csv(request):
        header, rows = service.programme_csv(report)
        return csv_response(header, rows, filename="programme.csv")
    return report


@router.get("/funnel", summary="The funnel and the time spent in each stage", responses=problem_responses())
async def reports_funnel(
    principal: ReportReader,
    session: SessionDep,
    request: Request,
    retained_since: Annotated[
        QueryDate | None, Query(description=f"Cohort: households retained on or after this Paris date {_BOUNDS}.")
    ] = None,
    retained_before: Annotated[
        QueryDate | None, Query(description=f"Cohort: households retained strictly before this Paris date {_BOUNDS}.")
    ] = None,
    submitted_since: Annotated[
        QueryDate | None, Query(description=f"Cohort: applications submitted on or after this Paris date {_BOUNDS}.")
    ] = None,
    submitted_before: Annotated[
        QueryDate | None, Query(description=f"Cohort: applications submitted strictly before this date {_BOUNDS}.")
    ] = None,
    group_by: Annotated[FunnelGroupBy, Query(description="`retention_year`: one group per year.")] = (
        FunnelGroupBy.NONE
    ),
    include_imported: IncludeImported = True,
) -> FunnelReport:
    """How far a cohort went and how long each stage took, from the stage history.

    **Cohort.** Households retained in a period (`retained_since`, `retained_before`), or whose application was
    submitted in a period (`submitted_since`, `submitted_before`), or both; default every household.
    `include_imported=false` leaves out the households of history imports.

    **Steps.** `steps` gives, in path order, how many households of the cohort reached diagnostic (the whole
    cohort), application_submitted, application_presented, matching, relay_stay, lease, follow_up and completed, and
    `conversion_from_previous` (4 decimals).

    **Durations.** `stage_durations`: for diagnostic, matching, relay_stay, lease and follow_up, the number of
    completed passes and the median, 75th and 90th percentiles (nearest rank) of the whole days spent in the stage;
    a household that stepped back relay_stay → matching counts in both passes of each. A pass of diagnostic starts
    when the household was created; a stage the household is still in is not counted.
    `submission_to_lease`: median whole days from the submission to the lease signature date (the allocation's);
    `retention_to_completion`: median whole days from the retention to the move to completed.

    **Grouping.** `group_by=retention_year`: `groups` holds the same per year of retention (retained households).

    **Who.** Funders, the service manager and admins (others: 403). For funders, a group's step count of 1 or 2,
    and any duration or span computed over 1 or 2 passes or households, is null and named in `suppressed`.
    """
    query = service.FunnelQuery(
        retained_since, retained_before, submitted_since, submitted_before, group_by, include_imported
    )
    return await service.funnel(session, principal, query, threshold=_threshold(request))
