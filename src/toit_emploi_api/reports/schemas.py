"""Query options and answers of the reports: aggregates only, never a name, a birth date, a note, a reference or a
household id."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from toit_emploi_api.core.schemas import OutputModel


class ProgrammeGroupBy(StrEnum):
    NONE = "none"
    RETENTION_YEAR = "retention_year"
    REFERRING_ORGANISATION = "referring_organisation"


class FunnelGroupBy(StrEnum):
    NONE = "none"
    RETENTION_YEAR = "retention_year"


class ReferringKind(StrEnum):
    """The kinds of organisation that refer families: the partner associations and Aurore's own structures."""

    REFERRAL_PARTNER = "referral_partner"
    OPERATOR = "operator"


class Definition(OutputModel):
    fr: str
    en: str


_SUPPRESSED = (
    "For the funder role: the names of the cells shown as null because they count 1 to threshold - 1 households "
    "(e.g. `households_completed`, `withdrawals_by_reason.lost_contact`)."
)
_BREAKDOWN = "Null when suppressed for the funder role."
_IMPORTED = "False: the households of a history import (`POST /history/import`) were left out."


# --- the programme report ------------------------------------------------------------------------------------
class ProgrammeTotals(OutputModel):
    """The figures of the whole selection: never suppressed (their breakdown cells may be)."""

    applications_submitted: int
    households_retained: int
    adults: int
    children: int
    households_installed: int
    households_completed: int
    households_not_completed: int
    households_in_progress: int
    declined_at_diagnostic: int
    withdrawals_by_reason: dict[str, int | None] = Field(description="Reason code → retained households. " + _BREAKDOWN)
    withdrawals_by_stage: dict[str, int | None] = Field(description="Stage left → retained households. " + _BREAKDOWN)
    suppressed: list[str] = Field(description=_SUPPRESSED)


class ProgrammeGroup(ProgrammeTotals):
    """The same figures for one group; for the funder role any of them may be null (suppressed)."""

    key: str = Field(description="The year (`2024`) or the referring organisation's id.")
    label: str = Field(description="The year, or the referring organisation's name.")
    applications_submitted: int | None  # type: ignore[assignment]
    households_retained: int | None  # type: ignore[assignment]
    adults: int | None  # type: ignore[assignment]
    children: int | None  # type: ignore[assignment]
    households_installed: int | None  # type: ignore[assignment]
    households_completed: int | None  # type: ignore[assignment]
    households_not_completed: int | None  # type: ignore[assignment]
    households_in_progress: int | None  # type: ignore[assignment]
    declined_at_diagnostic: int | None  # type: ignore[assignment]


class ProgrammeReport(ProgrammeTotals):
    as_of: datetime = Field(description="When the figures were computed.")
    retained_since: date | None
    retained_before: date | None
    referring_organisation_kind: ReferringKind | None
    group_by: ProgrammeGroupBy
    include_imported: bool = Field(default=True, description=_IMPORTED)
    suppression_threshold: int | None = Field(
        description="For the funder role: cells counting from 1 to this minus 1 are suppressed; null for others."
    )
    definitions: dict[str, Definition] = Field(description="One sentence per figure, in French and English.")
    groups: list[ProgrammeGroup] = Field(description="Empty unless `group_by` is set; ordered by key.")


# --- the funnel ----------------------------------------------------------------------------------------------
class FunnelStep(OutputModel):
    step: str = Field(description="diagnostic (the cohort), application_submitted, application_presented, then stages.")
    reached: int | None = Field(description="Households of the cohort that reached this step. " + _BREAKDOWN)
    conversion_from_previous: Decimal | None = Field(
        description="reached / reached of the previous step, 4 decimals (as a string); null for the first step, "
        "when the previous step counts 0 or either count is suppressed."
    )


class StageDuration(OutputModel):
    stage: str
    passes: int | None = Field(description="Completed passes through the stage (a step back counts both passes).")
    median_days: int | None
    p75_days: int | None
    p90_days: int | None


class Span(OutputModel):
    households: int | None
    median_days: int | None


class FunnelFigures(OutputModel):
    steps: list[FunnelStep]
    stage_durations: list[StageDuration] = Field(
        description="Whole days spent in each stage per completed pass: nearest-rank percentiles "
        "(percentile_disc). Null when suppressed or when no pass is complete."
    )
    submission_to_lease: Span = Field(description="Whole days from the submission to the lease signature date.")
    retention_to_completion: Span = Field(description="Whole days from the retention to the move to completed.")
    suppressed: list[str] = Field(description=_SUPPRESSED)


class FunnelGroup(FunnelFigures):
    key: str = Field(description="The year of retention.")
    label: str


class FunnelReport(FunnelFigures):
    as_of: datetime
    retained_since: date | None
    retained_before: date | None
    submitted_since: date | None
    submitted_before: date | None
    group_by: FunnelGroupBy
    include_imported: bool = Field(default=True, description=_IMPORTED)
    suppression_threshold: int | None
    definitions: dict[str, Definition]
    groups: list[FunnelGroup]
