"""The reference tables: ROME codes (filled by the migration baseline, literal rows equal to ``rome_codes.csv``) and
communes (filled by the migration ``20261202_matching`` from ``communes.csv``) and the distances between communes
(computed by the migration ``20261203_matching_distances``)."""

from __future__ import annotations

from sqlalchemy import ARRAY, CheckConstraint, Double, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from toit_emploi_api.core.models import Base
from toit_emploi_api.reference.communes import DISTANCE_TABLE_KM


class RomeCodeEntry(Base):
    """One ROME code the API knows. Reference data: written by migrations only, never by the API."""

    __tablename__ = "rome_codes"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    # fold(label): lower case, no accents; searched with LIKE.
    label_folded: Mapped[str] = mapped_column(String(400))  # folding can lengthen text

    __table_args__ = (CheckConstraint("code ~ '^[A-N][0-9]{4}$'", name="code_format"),)


class Commune(Base):
    """A commune of the Cantal or a neighbouring department (`communes.csv`). Reference data: written by
    migrations only. Coordinates are the commune's (WGS 84), used for great-circle distances."""

    __tablename__ = "communes"

    insee_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    department: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(100))
    # fold(name): lower case, no accents, hyphens and apostrophes as spaces; searched with LIKE.
    name_folded: Mapped[str] = mapped_column(String(400))
    postcodes: Mapped[list[str]] = mapped_column(ARRAY(String(5)))
    latitude: Mapped[float] = mapped_column(Double)
    longitude: Mapped[float] = mapped_column(Double)
    population: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_communes_department", "department"),
        Index("ix_communes_name_folded", "name_folded"),
        CheckConstraint("insee_code ~ '^([0-9]{2}|2A|2B)[0-9]{3}$'", name="insee_code_format"),
        CheckConstraint("latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180", name="coordinates_range"),
    )


class CommuneDistance(Base):
    """The great-circle distance from one commune to another, in tenths of a km (`km10`), for every ordered pair of
    communes at most `DISTANCE_TABLE_KM` apart (both directions; a commune with itself at 0). Reference data:
    written by migrations only; read by the suggestions (`matching.repository`)."""

    __tablename__ = "commune_distances"

    from_insee: Mapped[str] = mapped_column(
        String(5), ForeignKey("communes.insee_code", ondelete="CASCADE"), primary_key=True
    )
    to_insee: Mapped[str] = mapped_column(
        String(5), ForeignKey("communes.insee_code", ondelete="CASCADE"), primary_key=True
    )
    km10: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_commune_distances_from_insee_km10_to_insee", "from_insee", "km10", "to_insee"),
        CheckConstraint(f"km10 BETWEEN 0 AND {DISTANCE_TABLE_KM * 10}", name="km10_range"),
    )
