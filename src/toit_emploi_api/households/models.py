"""Households and their members (the diagnostic file)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from toit_emploi_api.core.enums import pg_enum
from toit_emploi_api.core.models import Base, Timestamps, UUIDPrimaryKey, Versioned
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import MemberRole

household_reference_seq = Sequence("household_reference_seq", metadata=Base.metadata)


class HousingSituation(StrEnum):
    HOTEL_115 = "hotel_115"
    SHELTER = "shelter"
    HOSTED_BY_RELATIVES = "hosted_by_relatives"
    STREET = "street"
    OTHER = "other"


class FrenchLevel(StrEnum):
    NONE = "none"
    A1 = "a1"
    A2 = "a2"
    B1 = "b1"
    B2 = "b2"
    C1 = "c1"
    C2 = "c2"
    NATIVE = "native"


class SchoolingLevel(StrEnum):
    NONE = "none"
    CRECHE = "creche"
    MATERNELLE = "maternelle"
    ELEMENTAIRE = "elementaire"
    COLLEGE = "college"
    LYCEE = "lycee"
    OTHER = "other"


stage_enum = pg_enum(Stage, "stage")


class Household(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "households"

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    referring_organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"))
    created_by_organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"))
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    housing_situation: Mapped[HousingSituation] = mapped_column(pg_enum(HousingSituation, "housing_situation"))
    needs_constraints: Mapped[str | None] = mapped_column(String(1000))
    consent_date: Mapped[date | None] = mapped_column(Date)
    consent_scope: Mapped[str | None] = mapped_column(String(500))
    stage: Mapped[Stage] = mapped_column(stage_enum, server_default=Stage.DIAGNOSTIC.value)
    stage_entered_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_contact_date: Mapped[date | None] = mapped_column(Date)
    # The service manager's own notes: never shown to partner workers.
    manager_notes: Mapped[str | None] = mapped_column(String(4000))
    closure_date: Mapped[date | None] = mapped_column(Date)
    closure_note: Mapped[str | None] = mapped_column(String(4000))
    withdrawal_reason: Mapped[str | None] = mapped_column(String(40))
    anonymised_at: Mapped[datetime | None]

    members: Mapped[list[Member]] = relationship(
        back_populates="household", lazy="raise", cascade="all, delete-orphan", order_by="Member.created_at"
    )

    __table_args__ = (
        Index("ix_households_referring_organisation_id", "referring_organisation_id"),
        Index("ix_households_stage", "stage"),
        Index("ix_households_created_at", "created_at"),
        # Keyset pages of the default sort (created_at, id).
        Index("ix_households_created_at_id", "created_at", "id"),
        # The retention due list (privacy.retention): files not yet anonymised, by last contact.
        Index("ix_households_last_contact_date", "last_contact_date", postgresql_where=text("anonymised_at IS NULL")),
    )


class Member(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "household_members"

    household_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # Case- and accent-folded names (reference.text.fold), for search and duplicate detection.
    # Wider than the names: folding can lengthen them ("ß" → "ss"); bounded by reference.text.FOLDED_MAX.
    first_name_folded: Mapped[str] = mapped_column(String(400))
    last_name_folded: Mapped[str] = mapped_column(String(400))
    birth_date: Mapped[date] = mapped_column(Date)
    role: Mapped[MemberRole] = mapped_column(pg_enum(MemberRole, "member_role"))
    # Adults: professional profile.
    rome_codes: Mapped[list[str]] = mapped_column(ARRAY(String(5)), server_default=text("'{}'"))
    years_of_experience: Mapped[int | None] = mapped_column(Integer)
    driving_licence: Mapped[bool | None] = mapped_column(Boolean)
    french_level: Mapped[FrenchLevel | None] = mapped_column(pg_enum(FrenchLevel, "french_level"))
    qualifications: Mapped[str | None] = mapped_column(String(1000))
    right_to_work_expiry: Mapped[date | None] = mapped_column(Date)
    # Children: schooling level needed.
    schooling_level: Mapped[SchoolingLevel | None] = mapped_column(pg_enum(SchoolingLevel, "schooling_level"))

    household: Mapped[Household] = relationship(back_populates="members", lazy="raise")

    __table_args__ = (
        Index("ix_household_members_household_id", "household_id"),
        Index("ix_household_members_identity", "last_name_folded", "first_name_folded", "birth_date"),
        Index("ix_household_members_rome_codes", "rome_codes", postgresql_using="gin"),
        # The list's has_children filter (and its count) without reading every member.
        Index("ix_household_members_household_id_child", "household_id", postgresql_where=text("role = 'child'")),
        # The list's name search (LIKE '%word%' on the folded "first last" name): pg_trgm's GIN operator class.
        Index(
            "ix_household_members_full_name_trgm",
            literal_column("((first_name_folded || ' ') || last_name_folded)").label("full_name"),
            postgresql_using="gin",
            postgresql_ops={"full_name": "gin_trgm_ops"},
        ),
        CheckConstraint("years_of_experience IS NULL OR years_of_experience BETWEEN 0 AND 60", name="experience_range"),
        # Defence in depth for the API rule: children carry no professional profile, adults no schooling level.
        CheckConstraint("role = 'child' OR schooling_level IS NULL", name="schooling_children_only"),
        CheckConstraint(
            "role <> 'child' OR (cardinality(rome_codes) = 0 AND years_of_experience IS NULL"
            " AND driving_licence IS NULL AND french_level IS NULL AND qualifications IS NULL"
            " AND right_to_work_expiry IS NULL)",
            name="profile_adults_only",
        ),
        CheckConstraint("cardinality(rome_codes) <= 10", name="rome_codes_max"),
    )
