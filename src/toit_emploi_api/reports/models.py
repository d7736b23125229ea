"""The reports' maintained summary, in two levels: one row per household and one per completed pass through a stage
(`report_households`, `report_stage_passes`), and their counts per grain (`report_household_counts`,
`report_day_counts`).

Written only by PostgreSQL itself: statement-level triggers on `stage_transitions`, `households`,
`household_members` and `housing_allocations` call `report_refresh(household ids)` (migration 20261202_reports),
and statement-level triggers on the two per-household tables add each change to the counts (migration
20261202_reports_counts), so every writer — the API, a bulk history import, its rollback — keeps both exact in the
same transaction. The application never writes these tables; the reports only read them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Identity, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from toit_emploi_api.core.models import Base
from toit_emploi_api.households.models import stage_enum
from toit_emploi_api.vocab.stages import Stage


class ReportHousehold(Base):
    """A household's dated steps and outcome, derived from its stage history (and its members at retention)."""

    __tablename__ = "report_households"

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)
    referring_organisation_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
    stage: Mapped[Stage] = mapped_column(stage_enum)
    submitted_at: Mapped[datetime | None]
    presented_at: Mapped[datetime | None]
    retained_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    left_stage: Mapped[Stage | None] = mapped_column(stage_enum)
    left_reason: Mapped[str | None] = mapped_column(String(40))
    reached_relay_stay: Mapped[bool] = mapped_column(Boolean)
    reached_lease: Mapped[bool] = mapped_column(Boolean)
    reached_follow_up: Mapped[bool] = mapped_column(Boolean)
    lease_signed_on: Mapped[date | None] = mapped_column(Date)
    adults: Mapped[int] = mapped_column(Integer)
    children: Mapped[int] = mapped_column(Integer)
    anonymised: Mapped[bool] = mapped_column(Boolean)
    # Paris years of the three dates the reports group by (computed once, not per report).
    retained_year: Mapped[int | None] = mapped_column(Integer)
    submitted_year: Mapped[int | None] = mapped_column(Integer)
    withdrawn_year: Mapped[int | None] = mapped_column(Integer)


class ReportStagePass(Base):
    """One completed pass of a household through a stage, in whole days, with the household's cohort dates."""

    __tablename__ = "report_stage_passes"

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), primary_key=True)
    pass_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[Stage] = mapped_column(stage_enum)
    days: Mapped[int] = mapped_column(Integer)
    retained_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    retained_year: Mapped[int | None] = mapped_column(Integer)


HOUSEHOLD_GRAIN = (
    "referring_organisation_id",
    "retained_year",
    "submitted_year",
    "withdrawn_year",
    "stage",
    "left_stage",
    "left_reason",
    "presented",
    "reached_relay_stay",
    "reached_lease",
    "reached_follow_up",
    "completed",
)
"""What the households of one row of report_household_counts share (NULLs equal: a year not reached)."""
DAY_GRAIN = ("retained_year", "submitted_year", "measure", "days")
"""What the passes or spans of one row of report_day_counts share."""


class ReportHouseholdCount(Base):
    """How many households (and their adults and children at retention) share one grain: the years of their dated
    steps, their referring organisation, their stage and outcome, the steps they reached. The programme report and
    the funnel's steps read these few thousand rows instead of one row per household (migration
    20261202_reports_counts: statement-level triggers on `report_households` add each change to them)."""

    __tablename__ = "report_household_counts"
    __table_args__ = (
        UniqueConstraint(*HOUSEHOLD_GRAIN, name="uq_report_household_counts_grain", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    referring_organisation_id: Mapped[uuid.UUID]
    retained_year: Mapped[int | None] = mapped_column(Integer)
    submitted_year: Mapped[int | None] = mapped_column(Integer)
    withdrawn_year: Mapped[int | None] = mapped_column(Integer)
    stage: Mapped[Stage] = mapped_column(stage_enum)
    left_stage: Mapped[Stage | None] = mapped_column(stage_enum)
    left_reason: Mapped[str | None] = mapped_column(String(40))
    presented: Mapped[bool] = mapped_column(Boolean)
    reached_relay_stay: Mapped[bool] = mapped_column(Boolean)
    reached_lease: Mapped[bool] = mapped_column(Boolean)
    reached_follow_up: Mapped[bool] = mapped_column(Boolean)
    completed: Mapped[bool] = mapped_column(Boolean)
    households: Mapped[int] = mapped_column(Integer)
    adults: Mapped[int] = mapped_column(Integer)
    children: Mapped[int] = mapped_column(Integer)


class ReportDayCount(Base):
    """How many completed passes through a stage (`measure` = the stage), or households' spans (`measure` =
    submission_to_lease, retention_to_completion), took `days` whole days, per year of retention and of submission:
    the funnel's day histograms (kept from `report_stage_passes` and `report_households` by the same triggers)."""

    __tablename__ = "report_day_counts"
    __table_args__ = (
        UniqueConstraint(*DAY_GRAIN, name="uq_report_day_counts_grain", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    retained_year: Mapped[int | None] = mapped_column(Integer)
    submitted_year: Mapped[int | None] = mapped_column(Integer)
    measure: Mapped[str] = mapped_column(String(30))
    days: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)
