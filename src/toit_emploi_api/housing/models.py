"""Housing units (Polygone's and other landlords'), including relay apartments."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from toit_emploi_api.core.enums import pg_enum
from toit_emploi_api.core.models import Base, Timestamps, UUIDPrimaryKey, Versioned
from toit_emploi_api.reference.models import Commune
from toit_emploi_api.vocab.statuses import UnitStatus


class DpeClass(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"
    G = "G"


class HousingUnit(UUIDPrimaryKey, Timestamps, Versioned, Base):
    __tablename__ = "housing_units"

    landlord_organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"))
    landlord_reference: Mapped[str] = mapped_column(String(64))
    street_number: Mapped[str | None] = mapped_column(String(10))  # NUMVOIE
    street_type: Mapped[str | None] = mapped_column(String(20))  # TYPVOIE
    street_name: Mapped[str | None] = mapped_column(String(200))  # NOMVOIE
    postcode: Mapped[str] = mapped_column(String(5))  # CODEPOSTAL
    commune_insee: Mapped[str] = mapped_column(String(5))  # DEPCOM
    # The commune's name from the reference (None for a code it does not hold), read in the same SELECT.
    commune_name: Mapped[str | None] = column_property(
        select(Commune.name).where(Commune.insee_code == commune_insee).correlate_except(Commune).scalar_subquery()
    )
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    rooms: Mapped[int] = mapped_column(Integer)  # NBPIECE, living room included
    living_area_m2: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))  # SURFHAB
    floor: Mapped[int | None] = mapped_column(Integer)  # ETAGE
    elevator: Mapped[bool | None] = mapped_column(Boolean)
    rent: Mapped[Decimal] = mapped_column(Numeric(8, 2))  # LOYERPRINC, euros
    charges: Mapped[Decimal] = mapped_column(Numeric(8, 2), server_default=text("0"))
    dpe_class: Mapped[DpeClass | None] = mapped_column(pg_enum(DpeClass, "dpe_class"))  # DPEENERGIE
    construction_year: Mapped[int | None] = mapped_column(Integer)  # CONSTRUCT
    available_from: Mapped[date | None] = mapped_column(Date)
    step_free_access: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    status: Mapped[UnitStatus] = mapped_column(
        pg_enum(UnitStatus, "unit_status"), server_default=UnitStatus.VACANT.value
    )
    is_relay: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    last_synced_at: Mapped[datetime | None]
    # Set by a landlord's snapshot that no longer lists a unit the programme holds (reserved/let): when the
    # programme releases the unit it becomes `unavailable`, not `vacant`, since the landlord withdrew it.
    held_absent_since: Mapped[datetime | None]
    # Relay apartments: the last day of a stay booked in it (set by the pipeline through `housing.holds`); the
    # unit is held by the programme (relay flag and status kept) while this date is today or later.
    relay_held_until: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        UniqueConstraint("landlord_organisation_id", "landlord_reference"),
        Index("ix_housing_units_status", "status"),
        Index("ix_housing_units_commune_insee", "commune_insee"),
        CheckConstraint("rooms BETWEEN 1 AND 10", name="rooms_range"),
        CheckConstraint("rent >= 0 AND charges >= 0", name="money_non_negative"),
        CheckConstraint("living_area_m2 IS NULL OR living_area_m2 > 0", name="area_positive"),
        CheckConstraint("construction_year IS NULL OR construction_year BETWEEN 1500 AND 2100", name="year_range"),
        # The same bounds as the API and the sync parser.
        CheckConstraint("floor IS NULL OR floor BETWEEN -5 AND 99", name="floor_range"),
        CheckConstraint(
            "(latitude IS NULL OR latitude BETWEEN -90 AND 90)"
            " AND (longitude IS NULL OR longitude BETWEEN -180 AND 180)",
            name="coordinates_range",
        ),
        CheckConstraint("length(btrim(landlord_reference)) > 0", name="reference_not_blank"),
    )
