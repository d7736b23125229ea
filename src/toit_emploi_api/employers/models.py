"""Employers in the Cantal and their job openings."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, select, text
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from toit_emploi_api.core.enums import pg_enum
from toit_emploi_api.core.models import Base, Timestamps, UUIDPrimaryKey, Versioned
from toit_emploi_api.reference.models import Commune
from toit_emploi_api.vocab.statuses import ContractType, JobOpeningStatus

contract_type_enum = pg_enum(ContractType, "contract_type")


class Employer(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "employers"

    siret: Mapped[str] = mapped_column(String(14), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    trade_name: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(100))
    # fold(sector): the sector filter ignores case and accents.
    sector_folded: Mapped[str | None] = mapped_column(String(400))  # folding can lengthen text: FOLDED_MAX
    address: Mapped[str | None] = mapped_column(String(300))
    postcode: Mapped[str | None] = mapped_column(String(5))
    commune_insee: Mapped[str] = mapped_column(String(5))
    # The commune's name from the reference (None for a code it does not hold), read in the same SELECT.
    commune_name: Mapped[str | None] = column_property(
        select(Commune.name).where(Commune.insee_code == commune_insee).correlate_except(Commune).scalar_subquery()
    )
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str | None] = mapped_column(String(4000))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    job_openings: Mapped[list[JobOpening]] = relationship(back_populates="employer", lazy="raise")

    __table_args__ = (
        Index("ix_employers_commune_insee", "commune_insee"),
        Index("ix_employers_sector_folded", "sector_folded"),
        Index("ix_employers_created_at", "created_at"),
    )


class JobOpening(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "job_openings"

    employer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("employers.id", ondelete="RESTRICT"))
    rome_code: Mapped[str] = mapped_column(String(5))
    title: Mapped[str] = mapped_column(String(200))
    contract_type: Mapped[ContractType] = mapped_column(contract_type_enum)
    hours_per_week: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    monthly_gross_wage: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    open_positions: Mapped[int] = mapped_column(Integer)
    # Placements hired on this opening; kept by the pipeline under a row lock, never above open_positions.
    hires_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    start_date: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(String(4000))
    status: Mapped[JobOpeningStatus] = mapped_column(
        pg_enum(JobOpeningStatus, "job_opening_status"), server_default=JobOpeningStatus.OPEN.value
    )

    employer: Mapped[Employer] = relationship(back_populates="job_openings", lazy="raise")

    __table_args__ = (
        Index("ix_job_openings_employer_id", "employer_id"),
        Index("ix_job_openings_rome_code", "rome_code"),
        Index("ix_job_openings_status", "status"),
        Index("ix_job_openings_created_at", "created_at"),
        CheckConstraint("open_positions >= 1", name="open_positions_positive"),
        CheckConstraint("hires_count >= 0 AND hires_count <= open_positions", name="hires_within_positions"),
        CheckConstraint("monthly_gross_wage IS NULL OR monthly_gross_wage >= 0", name="wage_non_negative"),
        CheckConstraint("hours_per_week IS NULL OR (hours_per_week > 0 AND hours_per_week <= 48)", name="hours_range"),
    )
