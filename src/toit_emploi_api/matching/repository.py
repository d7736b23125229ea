# ruff: noqa: S608 - the statement is built from the constant fragments of this module; every value is bound.
"""All SQL of the matching read model: (adult, job opening, housing unit) proposals, ranked, in ONE statement.

The statement is built from one template for the three questions (a household's suggestions, an opening's
candidates, a unit's candidates); only the filters and the "best one per" step differ. Its steps (CTEs):

- `adults`: the adults of the households concerned (in matching; in lease too for a unit's candidates);
- `families`: per household, the bedrooms it needs (1 + ceil(children / 2)) and its commute limit;
- `fits`: (adult, opening) pairs that pass the job rules, with the workplace (the employer's commune);
- `units`: vacant units that are not relay apartments;
- `near`, `radius`, `pairs`: the DISTINCT (workplace commune, unit commune) pairs within reach with their distance,
  read from `commune_distances` by index (computed, once per pair of communes, beyond its 30 km), each workplace
  first bounded by a radius that no farther commune could beat (see `_pairs_table`);
- `stats`, `bounds`, `floors`, `kept`, `reachable`, the frontier's layers: which communes and units can be among a
  job's k best, so that only those are scored;
- `scored`: the triples that pass the housing rules, each factor's contribution computed in SQL (numeric);
- then the page, ordered by score (ties: distance, opening id, unit id, member id), and the total.

Nothing here writes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.enums import sql_list, sql_literal
from toit_emploi_api.core.resources import PageParams
from toit_emploi_api.reference.communes import DISTANCE_TABLE_KM, KM_PER_DEGREE_LATITUDE, distance_km_sql
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import (
    ACTIVE_ALLOCATION_STATUSES,
    OPEN_PLACEMENT_STATUSES,
    JobOpeningStatus,
    MemberRole,
    PlacementStatus,
    UnitStatus,
)

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

# Points of the unit's own facts, as SQL over `u` (a housing_units row) and a need; one definition for the
# ranking and for the page.
_C_RENT = (
    f"round({W_RENT}00 * greatest(0, least(1,"
    f" ({RENT_ZERO} - (u.rent + u.charges)::float8) / {RENT_ZERO - RENT_FULL})))::int"
)


def _c_size(need: str) -> str:
    return f"CASE u.rooms - 1 - {need} WHEN 0 THEN {W_SIZE}00 WHEN 1 THEN {W_SIZE}00 / 2 ELSE 0 END"


def _c_wait(available: str, start: str) -> str:
    return (
        f"round({W_WAIT}00 * (1 - greatest(0, {available} - {start})::float8"
        " / greatest(CAST(:max_wait AS integer), 1)))::int"
    )


def _c_commute(max_km: str, km10: str) -> str:
    return f"round({W_COMMUTE}00.0 * ({max_km} * 10 - {km10}) / ({max_km} * 10))::int"


_DISTANCE = distance_km_sql("cw.latitude", "cw.longitude", "ch.latitude", "ch.longitude", rounded=False)

_TEMPLATE = """
WITH adults AS MATERIALIZED (
    SELECT m.id AS member_id, m.household_id, m.rome_codes, coalesce(m.years_of_experience, 0) AS years, h.stage
    FROM household_members m
    JOIN households h ON h.id = m.household_id
    WHERE m.role <> {child} AND h.anonymised_at IS NULL AND h.stage IN {stages} {adult_filter}
),
families AS MATERIALIZED (
    SELECT m.household_id,
           1 + (count(*) FILTER (WHERE m.role = {child}) + 1) / 2 AS need,
           coalesce(
               CAST(:max_km AS integer),
               CASE WHEN bool_or(coalesce(m.driving_licence, false)) THEN {with_licence} ELSE {without_licence} END
           ) AS max_km
    FROM household_members m
    WHERE m.household_id IN (SELECT household_id FROM adults)
    GROUP BY m.household_id
),
-- Only what the steps below read: a narrower row is cheaper to store and scan (the page reads the unit again).
units AS MATERIALIZED (
    SELECT u.id AS unit_id, u.commune_insee AS home_insee,
           coalesce(u.available_from, CAST(:today AS date)) AS available, n.need,
           {c_rent} + {c_size_units} AS pts
    FROM housing_units u
    JOIN (SELECT DISTINCT need FROM families) n ON u.rooms - 1 >= n.need
    WHERE u.status = {vacant} AND NOT u.is_relay {unit_filter}
),
{reach}
-- Each adult's ROME codes (or their families, with include_related), so that openings are joined by hash.
codes AS MATERIALIZED (
    SELECT DISTINCT a.member_id, a.household_id, a.years, a.rome_codes,
           CASE WHEN CAST(:related AS boolean) THEN left(code, 3) ELSE code END AS code_key
    FROM adults a CROSS JOIN LATERAL unnest(a.rome_codes) AS code
    WHERE a.stage = {matching}
),
fits AS MATERIALIZED (
    SELECT a.member_id, a.household_id, a.years, o.id AS opening_id, o.start_date, e.commune_insee AS work_insee,
           o.rome_code = ANY(a.rome_codes) AS exact, fam.need, fam.max_km
    FROM codes a
    JOIN job_openings o
      ON (CASE WHEN CAST(:related AS boolean) THEN left(o.rome_code, 3) ELSE o.rome_code END) = a.code_key
     AND o.status = {opening_open} AND o.hires_count < o.open_positions
    JOIN employers e ON e.id = o.employer_id AND e.active
    JOIN families fam ON fam.household_id = a.household_id
    WHERE NOT EXISTS (
          SELECT 1 FROM placements p
          WHERE p.member_id = a.member_id AND p.job_opening_id = o.id
            AND p.status IN {open_placements}
      ) {opening_filter} {fits_filter}
    {lease_fits}
),
-- What the choice of a unit depends on: the job (workplace, start) and the family (need, commute limit).
keys AS MATERIALIZED (
    SELECT DISTINCT opening_id, coalesce(start_date, CAST(:today AS date)) AS start, work_insee, need, max_km
    FROM fits
),
-- Per commune and need: the best points of its units (rent and size), and the k best points of its units free today.
stats AS MATERIALIZED (
    SELECT need, home_insee, max(pts) AS p_max, {now_pts} AS now_pts FROM units GROUP BY need, home_insee
),
{pairs}
-- Each workplace and family with the unit communes within its commute limit, and the commute points.
bounds AS MATERIALIZED (
    SELECT pw.*, st.p_max, st.now_pts[1] AS p_now, st.now_pts[CAST(:k AS integer)] AS p_now_k
    FROM (
        SELECT w.work_insee, w.need, w.max_km, p.home_insee, p.km10,
               {c_commute_bounds} AS c_commute
        FROM pairs p
        JOIN (SELECT DISTINCT work_insee, need, max_km FROM keys) w
          ON w.work_insee = p.work_insee AND p.km10 <= w.max_km * 10
        OFFSET 0
    ) pw
    JOIN stats st ON st.home_insee = pw.home_insee AND st.need = pw.need
),
-- A sure score for a job starting today or later: the k-th best of the units free today (their availability gives
-- full points), at least the k-th best commune by its best unit free today, or one commune's k-th unit free today.
-- A commune whose best possible score (its best unit, full availability points) is below it cannot place a unit
-- among the k best: it is skipped for such jobs (and kept for jobs already started).
floors AS MATERIALIZED (
    SELECT work_insee, need, max_km, {floor} AS floor
    FROM bounds GROUP BY work_insee, need, max_km
),
kept AS MATERIALIZED (
    SELECT b.work_insee, b.need, b.max_km, b.home_insee, b.km10, b.c_commute
    FROM bounds b
    JOIN floors fl ON fl.work_insee = b.work_insee AND fl.need = b.need AND fl.max_km = b.max_km
    WHERE fl.floor IS NULL OR b.c_commute + b.p_max >= fl.floor
),
reachable AS MATERIALIZED (
    SELECT k.opening_id, k.need, k.max_km, k.start, b.home_insee, b.km10, b.c_commute
    FROM keys k JOIN kept b ON b.work_insee = k.work_insee AND b.need = k.need AND b.max_km = k.max_km
    WHERE k.start >= CAST(:today AS date)
    UNION ALL
    SELECT k.opening_id, k.need, k.max_km, k.start, b.home_insee, b.km10, b.c_commute
    FROM keys k JOIN bounds b ON b.work_insee = k.work_insee AND b.need = k.need AND b.max_km = k.max_km
    WHERE k.start < CAST(:today AS date)
),
-- Per commune and need, the units that could be among the k best of some job (only these are scored): a unit W
-- beats V for every job when W is free no later and has more points of its own (rent and size), since W then ranks
-- before V whatever the job. Kept: the k best of each availability date (on equal points the first by id: the
-- others are beaten by those k), in k layers: the units that no remaining unit beats (the running best points of
-- the earlier units, in availability order), then the same among the rest, k times; a unit left after k layers is
-- beaten by k units (a chain), so it is never among a job's k best. Only the communes and sizes some job reaches
-- (`reachable`) are looked at.
{layers}
frontier AS MATERIALIZED (
    SELECT f.*, row_number() OVER (ORDER BY f.unit_id, f.need)::int AS ux FROM (
        {layer_union}
    ) f
),
-- The k best units of each key: by points, then distance, then unit index (the unit ids' order).
choice AS (
    SELECT * FROM (
        SELECT r.opening_id, r.need, r.max_km, r.start, r.km10, fr.ux,
               r.c_commute + fr.pts + {c_wait_choice} AS points,
               row_number() OVER (
                   PARTITION BY r.opening_id, r.need, r.max_km, r.start
                   ORDER BY r.c_commute + fr.pts + {c_wait_choice} DESC, r.km10, fr.ux) AS nth
        FROM reachable r
        JOIN frontier fr ON fr.home_insee = r.home_insee AND fr.need = r.need
         AND fr.available <= r.start + CAST(:max_wait AS integer)
    ) c
    WHERE c.nth <= CAST(:k AS integer)
),
ranked AS (
    SELECT f.member_id, f.household_id, f.opening_id, c.ux, c.km10, f.exact, f.years,
           f.max_km, f.need, c.start,
           CASE WHEN f.exact THEN {w_rome}00 ELSE {w_rome}00 / 2 END AS c_rome,
           {w_exp}00 * least(f.years, {exp_full}) / {exp_full} AS c_experience,
           CASE WHEN f.exact THEN {w_rome}00 ELSE {w_rome}00 / 2 END
               + {w_exp}00 * least(f.years, {exp_full}) / {exp_full} + c.points AS score
    FROM fits f
    JOIN choice c ON c.opening_id = f.opening_id AND c.need = f.need AND c.max_km = f.max_km
     AND c.start = coalesce(f.start_date, CAST(:today AS date))
),
best AS ({best}),
page AS MATERIALIZED (
    SELECT * FROM best
    ORDER BY score DESC, km10, opening_id, ux, member_id
    LIMIT CAST(:limit AS integer) OFFSET CAST(:offset AS integer)
),
unit_ids AS (SELECT array_agg(unit_id ORDER BY ux) AS ids FROM frontier),
total AS (SELECT count(*) AS total FROM best)
SELECT t.total,
       pg.member_id, pg.household_id, h.reference AS household_reference,
       pg.opening_id, o.title AS opening_title, o.rome_code, o.contract_type, o.start_date AS opening_start_date,
       o.open_positions - o.hires_count AS positions_left,
       e.id AS employer_id, e.legal_name AS employer_name, e.commune_insee AS work_insee, cw.name AS work_name,
       u.id AS unit_id, u.landlord_reference, u.rooms, u.rent, u.charges, u.available_from, u.postcode,
       u.commune_insee AS home_insee, ch.name AS home_name, u.rent + u.charges AS total_rent,
       pg.km10, pg.exact, pg.years, pg.max_km, pg.need, u.rooms - 1 - pg.need AS spare,
       greatest(0, coalesce(u.available_from, CAST(:today AS date)) - pg.start) AS gap_days,
       pg.c_rome, pg.c_experience,
       {c_commute_page} AS c_commute,
       {c_rent} AS c_rent, {c_wait_page} AS c_wait, {c_size_page} AS c_size, pg.score
FROM total t
LEFT JOIN page pg ON true
LEFT JOIN LATERAL (SELECT * FROM households h WHERE h.id = pg.household_id OFFSET 0) h ON true
LEFT JOIN LATERAL (SELECT * FROM job_openings o WHERE o.id = pg.opening_id OFFSET 0) o ON true
LEFT JOIN LATERAL (SELECT * FROM employers e WHERE e.id = o.employer_id OFFSET 0) e ON true
LEFT JOIN LATERAL (SELECT * FROM communes cw WHERE cw.insee_code = e.commune_insee OFFSET 0) cw ON true
LEFT JOIN LATERAL (SELECT * FROM housing_units u WHERE u.id = (SELECT ids FROM unit_ids)[pg.ux] OFFSET 0) u ON true
LEFT JOIN LATERAL (SELECT * FROM communes ch WHERE ch.insee_code = u.commune_insee OFFSET 0) ch ON true
ORDER BY pg.score DESC, pg.km10, pg.opening_id, pg.ux, pg.member_id
"""


def _within_reach(communes: str, home_insee: str, distance: str) -> str:
    """The (work commune `cw`, home commune `ch`) pairs of `communes` (a FROM … JOIN … ending where the ON of `cw`
    and `ch` goes) within reach: a bounding box first, then the exact distance (km10: tenths of a km, an integer).
    `{box_lat}` and `{box_lng}` are left for the geometry."""
    return f"""SELECT * FROM (
        SELECT cw.insee_code AS work_insee, {home_insee} AS home_insee, round(10 * {distance})::int AS km10
        FROM {communes}
          ON abs(cw.latitude - ch.latitude) <= {{box_lat}} AND abs(cw.longitude - ch.longitude) <= {{box_lng}}
        OFFSET 0
    ) d
    WHERE km10 <= CAST(:reach_km AS integer) * 10"""


# Distinct workplace communes × the communes of the units: from `commune_distances` (precomputed up to
# DISTANCE_TABLE_KM, read by index for each workplace), else (a longer commute asked) computed, a bounding box first.
#
# Read from the table, the communes are first bounded by a radius per workplace: the floor (see `floors` in the
# template) computed over the communes within NEAR_KM only is a lower bound of the floor (a best score among fewer
# units), so any commune too far for its commute points plus the best points of any unit (`top`, the family's
# size) to reach it cannot be kept; the radius is that distance (from c_commute's formula, plus a tenth of a km).
# Jobs already started are not pruned (`reachable`): their workplaces keep the whole commute limit.
NEAR_KM = 10


def _within(from_insee: str, km10: str) -> str:
    """A LATERAL read of `commune_distances` by index, as `d` (`to_insee`, `km10`): the communes at most `km10`
    tenths of a km from the commune `from_insee`."""
    return f"""CROSS JOIN LATERAL (
        SELECT d.to_insee, d.km10 FROM commune_distances d
        WHERE d.from_insee = {from_insee} AND d.km10 <= {km10} OFFSET 0
    ) d"""


def _pairs_table(floor: str) -> str:
    """`near`, `radius` and `pairs` from the table; `floor` is the template's floor expression."""
    return f"""near AS MATERIALIZED (
    SELECT nb.*, st.now_pts[1] AS p_now, st.now_pts[CAST(:k AS integer)] AS p_now_k FROM (
        SELECT w.work_insee, w.need, w.max_km, d.to_insee AS home_insee, {_c_commute("w.max_km", "d.km10")} AS c_commute
        FROM (SELECT DISTINCT work_insee, need, max_km FROM keys) w
        {_within("w.work_insee", f"least(w.max_km, {NEAR_KM}) * 10")}
        OFFSET 0
    ) nb
    JOIN stats st ON st.home_insee = nb.home_insee AND st.need = nb.need
),
radius AS MATERIALIZED (
    SELECT g.work_insee, max(CASE
               WHEN g.started OR fl.floor IS NULL OR fl.floor <= tp.top THEN g.max_km * 10
               ELSE least(g.max_km * 10,
                          floor(g.max_km * 10 * ({W_COMMUTE}00.5 - (fl.floor - tp.top)) / {W_COMMUTE}00.0)::int + 1)
           END) AS km10
    FROM (SELECT work_insee, need, max_km, bool_or(start < CAST(:today AS date)) AS started
          FROM keys GROUP BY work_insee, need, max_km) g
    JOIN (SELECT need, max(p_max) AS top FROM stats GROUP BY need) tp ON tp.need = g.need
    LEFT JOIN (SELECT work_insee, need, max_km, {floor} AS floor FROM near GROUP BY work_insee, need, max_km) fl
      ON fl.work_insee = g.work_insee AND fl.need = g.need AND fl.max_km = g.max_km
    GROUP BY g.work_insee
),
pairs AS MATERIALIZED (
    SELECT r.work_insee, d.to_insee AS home_insee, d.km10
    FROM radius r
    {_within("r.work_insee", "r.km10")}
    WHERE d.to_insee IN (SELECT home_insee FROM units)
),"""


_PAIRS_COMPUTED = (
    """pairs AS MATERIALIZED (
    """
    + _within_reach(
        "(SELECT DISTINCT work_insee FROM keys) w\n        JOIN communes cw ON cw.insee_code = w.work_insee\n"
        "        JOIN communes ch",
        "ch.insee_code",
        "{distance}",
    )
    + """ AND home_insee IN (SELECT home_insee FROM units)
),"""
)

# For one unit: the communes within reach of its commune, computed first (fits are restricted to them). The
# distance is symmetric: the table's rows from the unit's commune are the workplaces' distances to it.
_REACH_TABLE = f"""reach AS MATERIALIZED (
    SELECT d.to_insee AS work_insee, h.home_insee, d.km10
    FROM (SELECT DISTINCT home_insee FROM units) h
    {_within("h.home_insee", "CAST(:reach_km AS integer) * 10")}
),"""
_REACH_COMPUTED = (
    """reach AS MATERIALIZED (
    """
    + _within_reach(
        "(SELECT DISTINCT home_insee FROM units) h\n        JOIN communes ch ON ch.insee_code = h.home_insee\n"
        "        JOIN communes cw",
        "h.home_insee",
        "{distance}",
    )
    + """
),"""
)

# Households in lease: the job is the one they were hired for (a signed job counts as an exact match).
_LEASE_FITS = f"""UNION ALL
    SELECT a.member_id, a.household_id, a.years, o.id, coalesce(p.start_date, o.start_date), e.commune_insee, true,
           fam.need, fam.max_km
    FROM adults a
    JOIN placements p ON p.member_id = a.member_id AND p.status = {sql_literal(PlacementStatus.HIRED)}
    JOIN job_openings o ON o.id = p.job_opening_id
    JOIN employers e ON e.id = o.employer_id
    JOIN families fam ON fam.household_id = a.household_id
    WHERE a.stage = {sql_literal(Stage.LEASE)} AND e.commune_insee IN (SELECT work_insee FROM reach)"""

_WITHIN_REACH_OF_THE_OPENING = """AND u.commune_insee IN (
            SELECT d.to_insee FROM commune_distances d
            WHERE d.from_insee = (SELECT e.commune_insee FROM job_openings o JOIN employers e ON e.id = o.employer_id
                                  WHERE o.id = CAST(:opening_id AS uuid))
              AND d.km10 <= CAST(:reach_km AS integer) * 10)"""

_NO_ACTIVE_ALLOCATION = f"""AND NOT EXISTS (
        SELECT 1 FROM housing_allocations al
        WHERE al.household_id = m.household_id AND al.status IN {sql_list(ACTIVE_ALLOCATION_STATUSES)})"""


_UNIT_COLUMNS = "unit_id, home_insee, available, need, pts"
_LAYER = """layer_{n} AS MATERIALIZED (
    SELECT {columns}, coalesce(x.pts >= max(x.pts) OVER (
               PARTITION BY x.need, x.home_insee ORDER BY x.available, x.pts DESC, x.unit_id
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), true) AS kept
    FROM {source} x
),"""


def _layers(k: int, *, prune: bool) -> tuple[str, str]:
    """The frontier's k layer CTEs (see the template) and the union of the units they keep (every unit, in one
    layer, without `prune`)."""
    columns = ", ".join(f"x.{c.strip()}" for c in _UNIT_COLUMNS.split(","))
    if not prune:
        return f"layer_1 AS MATERIALIZED (SELECT {columns}, true AS kept FROM units x),", (  # every unit
            f"SELECT {_UNIT_COLUMNS} FROM layer_1"
        )
    first = (
        "(SELECT * FROM (SELECT un.*, row_number() OVER (PARTITION BY un.need, un.home_insee, un.available"
        " ORDER BY un.pts DESC, un.unit_id) AS nth_of_day FROM units un"
        f" WHERE (un.need, un.home_insee) IN (SELECT need, home_insee FROM reachable)) d WHERE d.nth_of_day <= {k})"
    )
    layers = [
        _LAYER.format(n=n, columns=columns, source=first if n == 1 else f"(SELECT * FROM layer_{n - 1} WHERE NOT kept)")
        for n in range(1, k + 1)
    ]
    union = "\n        UNION ALL ".join(f"SELECT {_UNIT_COLUMNS} FROM layer_{n} WHERE kept" for n in range(1, k + 1))
    return "\n".join(layers), union


def _statement(mode: Mode, *, member: bool, k: int = 1, prune: bool = True, reach_km: int = DISTANCE_TABLE_KM) -> str:
    box_lat = f"CAST(:reach_km AS double precision) / {KM_PER_DEGREE_LATITUDE:.1f}"
    box_lng = f"({box_lat}) / 0.6"  # cos(53°): generous for the latitudes of France
    geometry = {"distance": _DISTANCE, "box_lat": box_lat, "box_lng": box_lng}
    tabled = reach_km <= DISTANCE_TABLE_KM
    layers, layer_union = _layers(k, prune=prune)
    floor = "max(c_commute + p_now)"
    now_pts = "ARRAY[max(pts) FILTER (WHERE available <= CAST(:today AS date))]"
    if k > 1:
        now_pts = "array_agg(pts ORDER BY pts DESC) FILTER (WHERE available <= CAST(:today AS date))"
    if not prune:
        floor = "CAST(NULL AS integer)"
    elif k > 1:
        floor = (
            f"greatest(max(c_commute + p_now_k), (array_agg(c_commute + p_now ORDER BY c_commute + p_now DESC)"
            f" FILTER (WHERE p_now IS NOT NULL))[{k}])"
        )
    parts: dict[str, Any] = {
        "floor": floor,
        "now_pts": now_pts,
        "layers": layers,
        "layer_union": layer_union,
        "stages": sql_list([Stage.MATCHING]),
        "child": sql_literal(MemberRole.CHILD),
        "vacant": sql_literal(UnitStatus.VACANT),
        "matching": sql_literal(Stage.MATCHING),
        "opening_open": sql_literal(JobOpeningStatus.OPEN),
        "open_placements": sql_list(OPEN_PLACEMENT_STATUSES),
        "adult_filter": "",
        "unit_filter": "",
        "opening_filter": "",
        "fits_filter": "",
        "lease_fits": "",
        "reach": "",
        "pairs": _pairs_table(floor) if tabled else _PAIRS_COMPUTED.format(**geometry),
        "best": "SELECT * FROM ranked",
        "with_licence": DEFAULT_COMMUTE_KM_WITH_LICENCE,
        "without_licence": DEFAULT_COMMUTE_KM_WITHOUT_LICENCE,
        "c_rent": _C_RENT,
        "c_size_units": _c_size("n.need"),
        "c_size_page": _c_size("pg.need"),
        "c_wait_choice": _c_wait("fr.available", "r.start"),
        "c_wait_page": _c_wait("coalesce(u.available_from, CAST(:today AS date))", "pg.start"),
        "w_rome": W_ROME,
        "w_exp": W_EXPERIENCE,
        "exp_full": EXPERIENCE_FULL_YEARS,
        "c_commute_bounds": _c_commute("w.max_km", "p.km10"),
        "c_commute_page": _c_commute("pg.max_km", "pg.km10"),
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
        if tabled:  # only the units within reach of the opening's workplace (read by index: a scalar subquery)
            parts["unit_filter"] = _WITHIN_REACH_OF_THE_OPENING
    else:
        parts["stages"] = sql_list([Stage.MATCHING, Stage.LEASE])
        parts["adult_filter"] = _NO_ACTIVE_ALLOCATION
        parts["unit_filter"] = "AND u.id = CAST(:unit_id AS uuid)"
        parts["reach"] = _REACH_TABLE if tabled else _REACH_COMPUTED.format(**geometry)
        parts["fits_filter"] = "AND e.commune_insee IN (SELECT work_insee FROM reach)"
        parts["lease_fits"] = _LEASE_FITS
        parts["pairs"] = "pairs AS (SELECT work_insee, home_insee, km10 FROM reach),"
        # Per household, its best score by hash, then the order among the few rows that reach it.
        parts["best"] = (
            "SELECT DISTINCT ON (r.household_id) r.* FROM ranked r"
            " JOIN (SELECT household_id, max(score) AS top FROM ranked GROUP BY household_id) t"
            " ON t.household_id = r.household_id AND r.score = t.top"
            " ORDER BY r.household_id, r.km10, r.opening_id, r.ux, r.member_id"
        )
    return _TEMPLATE.format(**parts)


_PLANNER_SETTINGS = {"enable_nestloop": "off", "work_mem": "32MB", "plan_cache_mode": "force_generic_plan"}
_SET = (
    "SELECT ARRAY["
    + ", ".join(f"current_setting('{name}')" for name in _PLANNER_SETTINGS)
    + "], "
    + ", ".join(f"set_config('{name}', '{value}', true)" for name, value in _PLANNER_SETTINGS.items())
)
_RESTORE = "SELECT " + ", ".join(
    f"set_config('{name}', (CAST(:previous AS text[]))[{n}], true)" for n, name in enumerate(_PLANNER_SETTINGS, 1)
)


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
    units_per_opening: int = 1
    """How many units (the best first) are proposed with each (adult, opening); the candidates' modes use 1."""
    prune: bool = True
    """False: score every (adult, opening, unit) that passes the rules, without the frontier and the floor (slow;
    for checks: `bench/matching.py --check` compares both)."""


@dataclass(frozen=True)
class Rows:
    rows: list[dict[str, Any]]
    total: int


async def proposals(session: AsyncSession, query: Query, page: PageParams) -> Rows:
    """One page of ranked proposals and the total: one statement."""
    reach = query.max_commute_km or max(DEFAULT_COMMUTE_KM_WITH_LICENCE, DEFAULT_COMMUTE_KM_WITHOUT_LICENCE)
    k = query.units_per_opening if query.mode == "household" else 1
    params: dict[str, Any] = {
        "today": query.today,
        "related": query.related,
        "max_wait": query.max_wait_days,
        "max_km": query.max_commute_km,
        "reach_km": reach,
        "limit": page.limit,
        "offset": page.offset,
        "k": k,
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
    sql = _statement(query.mode, member=query.member_id is not None, k=k, prune=query.prune, reach_km=reach)
    # The planner cannot estimate the CTEs' sizes (it sees a row or two where there are hundreds) and would join
    # them by nested loops (hundreds of thousands of comparisons): hash joins only, for this statement (the lookups
    # of the page are LATERAL, index scans either way), and room to sort a unit's candidates in memory. Set for
    # the transaction, then restored (a failed statement aborts the transaction, which drops the settings too).
    # The plan does not depend on the values (every CTE is materialised, joins are hashed): the prepared
    # statement's generic plan is reused instead of planning it on each call (planning is ≈ 9 ms; measured gain
    # 0-8 ms a call, docs/matching.md).
    previous = (await session.execute(text(_SET))).scalar_one()
    result = await session.execute(text(sql), params)
    rows = [dict(row) for row in result.mappings()]
    await session.execute(text(_RESTORE), {"previous": previous})
    total = int(rows[0]["total"]) if rows else 0
    return Rows(rows=[row for row in rows if row["member_id"] is not None], total=total)
