"""Pipeline records: stage moves, placements, relay stays, housing allocations, follow-up entries."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from toit_emploi_api.core.enums import pg_enum
from toit_emploi_api.core.models import Base, Timestamps, UUIDPrimaryKey, Versioned
from toit_emploi_api.employers.models import contract_type_enum
from toit_emploi_api.households.models import stage_enum
from toit_emploi_api.vocab.stages import HistoryKind, Stage
from toit_emploi_api.vocab.statuses import (
    AllocationStatus,
    ContractType,
    PlacementParty,
    PlacementStatus,
    RelayStayStatus,
)


class FollowUpDomain(StrEnum):
    EMPLOYMENT = "employment"
    HOUSING = "housing"
    SCHOOLING = "schooling"
    HEALTH_INSURANCE = "health_insurance"
    BENEFITS = "benefits"
    ADMINISTRATIVE = "administrative"
    OTHER = "other"


# Names of the constraints the service translates into 409 problems.
RELAY_STAY_OVERLAP_CONSTRAINT = "ex_relay_stays_unit_overlap"
ALLOCATION_UNIT_ACTIVE_INDEX = "uq_housing_allocations_unit_active"
ALLOCATION_HOUSEHOLD_ACTIVE_INDEX = "uq_housing_allocations_household_active"
PLACEMENT_OPEN_INDEX = "uq_placements_member_opening_open"


class StageTransition(UUIDPrimaryKey, Base):
    """One item of a household's stage history: a move between stages (from, to, when, who, why), or a dated step of
    the application inside diagnostic (`kind` application_submitted or application_presented, from and to
    diagnostic)."""

    __tablename__ = "stage_transitions"

    kind: Mapped[HistoryKind] = mapped_column(
        pg_enum(HistoryKind, "stage_history_kind"), server_default=HistoryKind.MOVE.value
    )
    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    from_stage: Mapped[Stage] = mapped_column(stage_enum)
    to_stage: Mapped[Stage] = mapped_column(stage_enum)
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(String(4000))

    __table_args__ = (
        Index("ix_stage_transitions_household_id_at", "household_id", "at"),
        CheckConstraint(
            "kind = 'move' OR (from_stage = 'diagnostic' AND to_stage = 'diagnostic')",
            name="application_step_in_diagnostic",
        ),
        CheckConstraint("kind <> 'move' OR from_stage <> to_stage", name="move_changes_stage"),
    )


class Placement(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """A job opening proposed to one adult of a household (mise en relation)."""

    __tablename__ = "placements"

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    member_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("household_members.id"))
    job_opening_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("job_openings.id"))
    status: Mapped[PlacementStatus] = mapped_column(
        pg_enum(PlacementStatus, "placement_status"), server_default=PlacementStatus.PROPOSED.value
    )
    declined_by: Mapped[PlacementParty | None] = mapped_column(pg_enum(PlacementParty, "placement_party"))
    reason: Mapped[str | None] = mapped_column(String(200))
    contract_type: Mapped[ContractType | None] = mapped_column(contract_type_enum)
    start_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(4000))

    __table_args__ = (
        Index("ix_placements_household_id", "household_id"),
        Index("ix_placements_job_opening_id", "job_opening_id"),
        Index(
            PLACEMENT_OPEN_INDEX,
            "member_id",
            "job_opening_id",
            unique=True,
            postgresql_where=text("status IN ('proposed', 'interview', 'offered')"),
        ),
        CheckConstraint(
            "status <> 'hired' OR (contract_type IS NOT NULL AND start_date IS NOT NULL)", name="hired_has_contract"
        ),
        CheckConstraint("status <> 'declined' OR declined_by IS NOT NULL", name="declined_has_party"),
        CheckConstraint("declined_by IS NULL OR status = 'declined'", name="declined_by_only_when_declined"),
    )


class RelayStay(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """A 3-to-5-day stay of a household in a relay apartment, and its outcome."""

    __tablename__ = "relay_stays"

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("housing_units.id"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[RelayStayStatus] = mapped_column(
        pg_enum(RelayStayStatus, "relay_stay_status"), server_default=RelayStayStatus.BOOKED.value
    )
    family_agrees: Mapped[bool | None] = mapped_column(Boolean)
    employer_agrees: Mapped[bool | None] = mapped_column(Boolean)
    outcome_note: Mapped[str | None] = mapped_column(String(4000))
    outcome_recorded_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_relay_stays_household_id", "household_id"),
        CheckConstraint("end_date - start_date BETWEEN 2 AND 4", name="three_to_five_days"),
        ExcludeConstraint(
            ("unit_id", "="),
            (text("daterange(start_date, end_date, '[]')"), "&&"),
            name=RELAY_STAY_OVERLAP_CONSTRAINT,
            using="gist",
            where=text("status <> 'cancelled'"),
        ),
    )


class HousingAllocation(UUIDPrimaryKey, Timestamps, Versioned, Base):
    """A housing unit allocated to a household: reserved → lease signed → ended, or cancelled."""

    __tablename__ = "housing_allocations"

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("housing_units.id"))
    status: Mapped[AllocationStatus] = mapped_column(
        pg_enum(AllocationStatus, "allocation_status"), server_default=AllocationStatus.RESERVED.value
    )
    override_reason: Mapped[str | None] = mapped_column(String(200))
    lease_signed_date: Mapped[date | None] = mapped_column(Date)
    move_in_date: Mapped[date | None] = mapped_column(Date)
    cancelled_at: Mapped[datetime | None]

    __table_args__ = (
        # The reports' summary reads a household's signed leases (reports.models).
        Index("ix_housing_allocations_household_id", "household_id"),
        Index(
            ALLOCATION_UNIT_ACTIVE_INDEX,
            "unit_id",
            unique=True,
            postgresql_where=text("status IN ('reserved', 'lease_signed')"),
        ),
        Index(
            ALLOCATION_HOUSEHOLD_ACTIVE_INDEX,
            "household_id",
            unique=True,
            postgresql_where=text("status IN ('reserved', 'lease_signed')"),
        ),
        CheckConstraint(
            "status <> 'lease_signed' OR (lease_signed_date IS NOT NULL AND move_in_date IS NOT NULL)",
            name="lease_signed_has_dates",
        ),
    )


class FollowUpEntry(UUIDPrimaryKey, Timestamps, Base):
    """One note of the global support given during follow-up."""

    __tablename__ = "follow_up_entries"

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    entry_date: Mapped[date] = mapped_column(Date)
    domain: Mapped[FollowUpDomain] = mapped_column(pg_enum(FollowUpDomain, "follow_up_domain"))
    note: Mapped[str] = mapped_column(String(4000))
    author_kind: Mapped[str] = mapped_column(String(10))
    author_id: Mapped[uuid.UUID | None]
    author_role: Mapped[str | None] = mapped_column(String(30))

    __table_args__ = (Index("ix_follow_up_entries_household_id_entry_date", "household_id", "entry_date"),)
