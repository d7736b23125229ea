"""The communes reference (package data `communes.csv`, attribution in `communes-ATTRIBUTION.md`).

The `communes` table is filled by the migration `20261202_matching`, which reads this same file and folds the
names with its own frozen copy of `reference.text.fold`; `load_communes` reads the file for the tests and tools.

Distances: `distance_km_sql` is the great-circle (haversine) distance between two communes' coordinates, in km,
rounded to 0.1, as a SQL expression. It approximates the road distance (roads in the Cantal are longer). The
table `commune_distances` holds it, in tenths of a km, for every two communes at most `DISTANCE_TABLE_KM` apart.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Final

EARTH_RADIUS_KM: Final = 6371.0088
"""The mean Earth radius (IUGG), in km."""

COMMUNE_NAME_DOC: Final = (
    "Name of the commune of `commune_insee` in the communes reference (`GET /api/v1/communes`); null for a code the "
    "reference does not hold (it covers the Cantal and its neighbouring departments)."
)

DISTANCE_TABLE_KM: Final = 30
"""The distances between communes up to this many km are precomputed in `commune_distances` (its migration)."""

KM_PER_DEGREE_LATITUDE: Final = 111.2
"""One degree of latitude in km (used for a bounding-box prefilter before the exact distance)."""


@dataclass(frozen=True, slots=True)
class CommuneRow:
    insee_code: str
    department: str
    name: str
    postcodes: tuple[str, ...]
    latitude: Decimal
    longitude: Decimal
    population: int


@functools.cache
def load_communes() -> tuple[CommuneRow, ...]:
    """Every row of the shipped `communes.csv`, in file order."""
    text = resources.files("toit_emploi_api.reference").joinpath("communes.csv").read_text(encoding="utf-8")
    return tuple(
        CommuneRow(
            insee_code=row["insee_code"],
            department=row["department"],
            name=row["name"],
            postcodes=tuple(row["postcodes"].split()),
            latitude=Decimal(row["lat"]),
            longitude=Decimal(row["lng"]),
            population=int(row["population_2021"]),
        )
        for row in csv.DictReader(io.StringIO(text))
    )


def distance_km_sql(lat1: str, lng1: str, lat2: str, lng2: str, *, rounded: bool = True) -> str:
    """SQL for the great-circle distance in km between two points given in degrees (column expressions): the
    haversine formula on a sphere of radius `EARTH_RADIUS_KM`; rounded to 0.1 km (numeric) unless told not to
    (double precision)."""
    a = (
        f"power(sin(radians({lat2} - {lat1}) / 2), 2)"
        f" + cos(radians({lat1})) * cos(radians({lat2})) * power(sin(radians({lng2} - {lng1}) / 2), 2)"
    )
    km = f"({2 * EARTH_RADIUS_KM} * asin(least(1.0, sqrt({a}))))"
    return f"round({km}::numeric, 1)" if rounded else km
