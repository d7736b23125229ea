"""The reports' maintained summary: one row per household and one per completed pass through a stage.

Written only by PostgreSQL itself: statement-level triggers on `stage_transitions`, `households`,
`household_members` and `housing_allocations` call `report_refresh(household ids)` (see the migration
20261202_reports), so every writer — the API, a bulk history import — keeps it exact in the same transaction.
The application never writes these tables; the reports only read them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
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
