"""All SQL of the matching read model: (adult, job opening, housing unit) proposals, ranked, in ONE statement.

The statement is built from one template for the three questions (a household's suggestions, an opening's
candidates, a unit's candidates); only the filters and the "best one per" step differ. Its steps (CTEs):

- `adults`: the adults of the households concerned (in matching; in lease too for a unit's candidates);
- `families`: per household, the bedrooms it needs (1 + ceil(children / 2)) and its commute limit;
- `fits`: (adult, opening) pairs that pass the job rules, with the workplace (the employer's commune);
- `units`: vacant units that are not relay apartments;
- `pairs`: the great-circle distance between each DISTINCT (workplace commune, unit commune) pair within reach,
  so that the trigonometry runs once per pair of communes, not once per (opening, unit);
- `scored`: the triples that pass the housing rules, each factor's contribution computed in SQL (numeric);
- then the page, ordered by score (ties: distance, opening id, unit id, member id), and the total.

Nothing here writes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.resources import PageParams
from toit_emploi_api.reference.communes import KM_PER_DEGREE_LATITUDE, distance_km_sql

Mode = Literal["household", "opening", "unit"]

# The weights (points); a proposal's score is the sum of the contributions, at most 100. docs/matching.md.
W_ROME = 30  # exact code: 30; same ROME family (include_related): half
W_EXPERIENCE = 15  # linear up to EXPERIENCE_FULL_YEARS
W_COMMUTE = 25  # 25 at 0 km, 0 at the commute limit
W_RENT = 15  # rent + charges: 15 at RENT_FULL or less, 0 at RENT_ZERO or more
W_WAIT = 10  # 10 when the unit is free by the job's start, 0 at max_wait_days after it
W_SIZE = 5  # bedrooms beyond the need: none 5, one 2.5, more 0
EXPERIENCE_FULL_YEARS = 5
RENT_FULL = 300
RENT_ZERO = 1000
DEFAULT_COMMUTE_KM_WITH_LICENCE = 30
DEFAULT_COMMUTE_KM_WITHOUT_LICENCE = 5

_DISTANCE = distance_km_sql("cw.latitude", "cw.longitude", "ch.latitude", "ch.longitude")

_TEMPLATE = """
WITH adults AS (
    SELECT m.id AS member_id, m.household_id, m.rome_codes, coalesce(m.years_of_experience, 0) AS years, h.stage
    FROM household_members m
    JOIN households h ON h.id = m.household_id
    WHERE m.role <> 'child' AND h.anonymised_at IS NULL AND h.stage IN ({stages}) {adult_filter}
),
families AS (
    SELECT m.household_id,
           1 + (count(*) FILTER (WHERE m.role = 'child') + 1) / 2 AS bedrooms_needed,
           coalesce(
               CAST(:max_km AS numeric),
               CASE WHEN bool_or(coalesce(m.driving_licence, false)) THEN {with_licence} ELSE {without_licence} END
           ) AS max_km
    FROM household_members m
    WHERE m.household_id IN (SELECT household_id FROM adults)
    GROUP BY m.household_id
),
units AS (
    SELECT u.id AS unit_id, u.commune_insee AS home_insee, u.rooms, u.rent + u.charges AS total_rent,
           coalesce(u.available_from, CAST(:today AS date)) AS available
    FROM housing_units u
    WHERE u.status = 'vacant' AND NOT u.is_relay
      AND u.rooms - 1 >= (SELECT coalesce(min(bedrooms_needed), 1) FROM families) {unit_filter}
),
{reach}
fits AS (
    SELECT a.member_id, a.household_id, a.years, o.id AS opening_id, o.start_date, e.commune_insee AS work_insee,
           o.rome_code = ANY(a.rome_codes) AS exact
    FROM adults a
    JOIN job_openings o
      ON o.status = 'open' AND o.hires_count < o.open_positions
     AND (o.rome_code = ANY(a.rome_codes)
          OR (CAST(:related AS boolean)
              AND left(o.rome_code, 3) IN (SELECT left(code, 3) FROM unnest(a.rome_codes) AS code)))
    JOIN employers e ON e.id = o.employer_id AND e.active
    WHERE a.stage = 'matching' {opening_filter} {fits_filter}
      AND NOT EXISTS (
          SELECT 1 FROM placements p
          WHERE p.member_id = a.member_id AND p.job_opening_id = o.id
            AND p.status IN ('proposed', 'interview', 'offered')
      )
    {lease_fits}
),
{pairs}
scored AS (
    SELECT f.member_id, f.household_id, f.opening_id, u.unit_id, p.km, f.exact, f.years, u.total_rent,
           fam.max_km, fam.bedrooms_needed, u.rooms - 1 - fam.bedrooms_needed AS spare,
           greatest(0, u.available - coalesce(f.start_date, CAST(:today AS date))) AS gap_days,
           CAST(CASE WHEN f.exact THEN {w_rome} ELSE {w_rome} / 2.0 END AS numeric(6, 2)) AS c_rome,
           round({w_exp} * least(f.years, {exp_full}) / {exp_full}.0, 2) AS c_experience,
           round({w_commute} * (1 - p.km / fam.max_km), 2) AS c_commute,
           round({w_rent} * greatest(0, least(1, ({rent_zero} - u.total_rent) / ({rent_zero} - {rent_full})::numeric)), 2)
               AS c_rent,
           round({w_wait} * (1 - greatest(0, u.available - coalesce(f.start_date, CAST(:today AS date)))::numeric
                 / greatest(CAST(:max_wait AS integer), 1)), 2) AS c_wait,
           CAST(CASE u.rooms - 1 - fam.bedrooms_needed WHEN 0 THEN {w_size} WHEN 1 THEN {w_size} / 2.0 ELSE 0 END
                AS numeric(6, 2)) AS c_size
    FROM fits f
    JOIN families fam ON fam.household_id = f.household_id
    JOIN pairs p ON p.work_insee = f.work_insee AND p.km <= fam.max_km
    JOIN units u ON u.home_insee = p.home_insee
    WHERE u.rooms - 1 >= fam.bedrooms_needed
      AND u.available <= coalesce(f.start_date, CAST(:today AS date)) + CAST(:max_wait AS integer)
),
ranked AS (
    SELECT s.*, s.c_rome + s.c_experience + s.c_commute + s.c_rent + s.c_wait + s.c_size AS score FROM scored s
),
best AS ({best}),
page AS (
    SELECT * FROM best
    ORDER BY score DESC, km, opening_id, unit_id, member_id
    LIMIT CAST(:limit AS integer) OFFSET CAST(:offset AS integer)
),
total AS (SELECT count(*) AS total FROM best)
SELECT t.total,
       pg.member_id, pg.household_id, h.reference AS household_reference,
       pg.opening_id, o.title AS opening_title, o.rome_code, o.contract_type, o.start_date AS opening_start_date,
       o.open_positions - o.hires_count AS positions_left,
       e.id AS employer_id, e.legal_name AS employer_name, e.commune_insee AS work_insee, cw.name AS work_name,
       pg.unit_id, u.landlord_reference, u.rooms, u.rent, u.charges, u.available_from, u.postcode,
       u.commune_insee AS home_insee, ch.name AS home_name,
       pg.km, pg.exact, pg.years, pg.total_rent, pg.gap_days, pg.spare, pg.max_km, pg.bedrooms_needed,
       pg.c_rome, pg.c_experience, pg.c_commute, pg.c_rent, pg.c_wait, pg.c_size, pg.score
FROM total t
LEFT JOIN page pg ON true
LEFT JOIN households h ON h.id = pg.household_id
LEFT JOIN job_openings o ON o.id = pg.opening_id
LEFT JOIN employers e ON e.id = o.employer_id
LEFT JOIN communes cw ON cw.insee_code = e.commune_insee
LEFT JOIN housing_units u ON u.id = pg.unit_id
LEFT JOIN communes ch ON ch.insee_code = u.commune_insee
ORDER BY pg.score DESC, pg.km, pg.opening_id, pg.unit_id, pg.member_id
"""

# Distinct workplace communes × distinct unit communes, with a bounding box before the exact distance.
_PAIRS = """pairs AS (
    SELECT w.work_insee, h.home_insee, {distance} AS km
    FROM (SELECT DISTINCT work_insee FROM fits) w
    JOIN communes cw ON cw.insee_code = w.work_insee
    JOIN (SELECT DISTINCT home_insee FROM units) h ON true
    JOIN communes ch ON ch.insee_code = h.home_insee
    WHERE abs(cw.latitude - ch.latitude) <= {box_lat} AND abs(cw.longitude - ch.longitude) <= {box_lng}
      AND {distance} <= CAST(:reach_km AS numeric)
),"""

# For one unit: the communes within reach of its commune, computed first (fits are restricted to them).
_REACH = """reach AS (
    SELECT cw.insee_code AS work_insee, h.home_insee, {distance} AS km
    FROM (SELECT DISTINCT home_insee FROM units) h
    JOIN communes ch ON ch.insee_code = h.home_insee
    JOIN communes cw ON abs(cw.latitude - ch.latitude) <= {box_lat} AND abs(cw.longitude - ch.longitude) <= {box_lng}
    WHERE {distance} <= CAST(:reach_km AS numeric)
),"""

# Households in lease: the job is the one they were hired for (a signed job counts as an exact match).
_LEASE_FITS = """UNION ALL
    SELECT a.member_id, a.household_id, a.years, o.id, coalesce(p.start_date, o.start_date), e.commune_insee, true
    FROM adults a
    JOIN placements p ON p.member_id = a.member_id AND p.status = 'hired'
    JOIN job_openings o ON o.id = p.job_opening_id
    JOIN employers e ON e.id = o.employer_id
    WHERE a.stage = 'lease' AND e.commune_insee IN (SELECT work_insee FROM reach)"""

_NO_ACTIVE_ALLOCATION = """AND NOT EXISTS (
        SELECT 1 FROM housing_allocations al
        WHERE al.household_id = m.household_id AND al.status IN ('reserved', 'lease_signed'))"""


def _statement(mode: Mode, *, member: bool) -> str:
    box_lat = "CAST(:reach_km AS double precision) / {:.1f}".format(KM_PER_DEGREE_LATITUDE)
    box_lng = f"({box_lat}) / 0.6"  # cos(53°): generous for the latitudes of France
    geometry = {"distance": _DISTANCE, "box_lat": box_lat, "box_lng": box_lng}
    parts: dict[str, Any] = {
        "stages": "'matching'",
        "adult_filter": "",
        "unit_filter": "",
        "opening_filter": "",
        "fits_filter": "",
        "lease_fits": "",
        "reach": "",
        "pairs": _PAIRS.format(**geometry),
        "best": "SELECT * FROM ranked",
        "with_licence": DEFAULT_COMMUTE_KM_WITH_LICENCE,
        "without_licence": DEFAULT_COMMUTE_KM_WITHOUT_LICENCE,
        "w_rome": W_ROME,
        "w_exp": W_EXPERIENCE,
        "exp_full": EXPERIENCE_FULL_YEARS,
        "w_commute": W_COMMUTE,
        "w_rent": W_RENT,
        "rent_full": RENT_FULL,
        "rent_zero": RENT_ZERO,
        "w_wait": W_WAIT,
        "w_size": W_SIZE,
    }
    if mode == "household":
        parts["adult_filter"] = "AND m.household_id = CAST(:household_id AS uuid)"
        if member:
            parts["adult_filter"] += " AND m.id = CAST(:member_id AS uuid)"
    elif mode == "opening":
        parts["adult_filter"] = (
            "AND (CAST(:rome_code AS varchar) = ANY(m.rome_codes) OR (CAST(:related AS boolean) AND "
            "left(CAST(:rome_code AS varchar), 3) IN (SELECT left(code, 3) FROM unnest(m.rome_codes) AS code)))"
        )
        parts["opening_filter"] = "AND o.id = CAST(:opening_id AS uuid)"
        parts["best"] = "SELECT DISTINCT ON (member_id) * FROM ranked ORDER BY member_id, score DESC, km, unit_id"
    else:
        parts["stages"] = "'matching', 'lease'"
        parts["adult_filter"] = _NO_ACTIVE_ALLOCATION
        parts["unit_filter"] = "AND u.id = CAST(:unit_id AS uuid)"
        parts["reach"] = _REACH.format(**geometry)
        parts["fits_filter"] = "AND e.commune_insee IN (SELECT work_insee FROM reach)"
        parts["lease_fits"] = _LEASE_FITS
        parts["pairs"] = "pairs AS (SELECT work_insee, home_insee, km FROM reach),"
        parts["best"] = (
            "SELECT DISTINCT ON (household_id) * FROM ranked ORDER BY household_id, score DESC, km, opening_id, member_id"
        )
    return _TEMPLATE.format(**parts)


@dataclass(frozen=True)
class Query:
    """What one question asks: the mode, its object, and the caller's settings."""

    mode: Mode
    today: date
    related: bool
    max_wait_days: int
    max_commute_km: int | None
    household_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None
    opening_id: uuid.UUID | None = None
    rome_code: str | None = None
    unit_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Rows:
    rows: list[dict[str, Any]]
    total: int


async def proposals(session: AsyncSession, query: Query, page: PageParams) -> Rows:
    """One page of ranked proposals and the total: one statement."""
    reach = query.max_commute_km or max(DEFAULT_COMMUTE_KM_WITH_LICENCE, DEFAULT_COMMUTE_KM_WITHOUT_LICENCE)
    params: dict[str, Any] = {
        "today": query.today,
        "related": query.related,
        "max_wait": query.max_wait_days,
        "max_km": Decimal(query.max_commute_km) if query.max_commute_km is not None else None,
        "reach_km": Decimal(reach),
        "limit": page.limit,
        "offset": page.offset,
    }
    if query.mode == "household":
        params["household_id"] = query.household_id
        if query.member_id is not None:
            params["member_id"] = query.member_id
    elif query.mode == "opening":
        params["opening_id"] = query.opening_id
        params["rome_code"] = query.rome_code
    else:
        params["unit_id"] = query.unit_id
    sql = _statement(query.mode, member=query.member_id is not None)
    result = await session.execute(text(sql), params)
    rows = [dict(row) for row in result.mappings()]
    total = int(rows[0]["total"]) if rows else 0
    return Rows(rows=[row for row in rows if row["member_id"] is not None], total=total)
