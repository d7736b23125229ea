"""Set-based SQL of the vacancy sync: a few statements whatever the number of units, never a loop of ORM objects.

1. ``pg_advisory_xact_lock``: two syncs of one landlord run one after the other (released at commit/rollback).
2. The valid rows into a temporary table with one binary ``COPY`` (``copy_records_to_table``): they travel once.
   ``SELECT … ORDER BY id FOR UPDATE`` of the rows the sync may write, clear or report (after any concurrent
   reservation commits): the listed rows that differ, are not vacant or carry an absent mark (an identical re-sync
   locks nothing), and for a snapshot the rows it omits.
3. One statement: read the temporary table, compare with the stored units, and
   ``INSERT … ON CONFLICT (landlord_organisation_id, landlord_reference) DO UPDATE … WHERE (facts) IS DISTINCT FROM
   (incoming facts) AND status NOT IN (reserved, let)`` for the new or changed rows only, counting created vs
   updated with ``xmax = 0``; the same statement clears ``held_absent_since`` on the other listed units that carry it
   and lists the conflicts: reserved/let units whose facts differ, and relay apartments with a booked stay whose
   `is_relay` or status would change (those are left as they are).
   Unchanged rows are not written: version, updated_at and last_synced_at stay as they were. Not run at all when
   step 2 found every listed unit and locked none (nothing to create, write, clear or report: an identical re-sync).
4. Only when invalid rows listed references: one ``UPDATE`` clearing their units' ``held_absent_since``.
5. Snapshot only: one statement making this landlord's vacant units absent from the snapshot ``unavailable`` (not a
   relay apartment with a booked stay), marking absent reserved/let units ``held_absent_since``, and listing both.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.enums import sql_list, sql_literal
from toit_emploi_api.housing import rules
from toit_emploi_api.housing.sync_input import COLUMNS
from toit_emploi_api.vocab.statuses import UnitStatus

# PostgreSQL array type of each synced column, in COLUMNS order.
_ARRAY_TYPES: Final[Mapping[str, str]] = {
    "landlord_reference": "text",
    "commune_insee": "text",
    "postcode": "text",
    "street_number": "text",
    "street_type": "text",
    "street_name": "text",
    "floor": "integer",
    "rooms": "integer",
    "living_area_m2": "numeric",  # numeric columns are sent as text[] (cheaper to encode), cast back here
    "rent": "numeric",
    "charges": "numeric",
    "dpe_class": "text",
    "construction_year": "integer",
    "available_from": "date",
    "is_relay": "boolean",
    "elevator": "boolean",
    "step_free_access": "boolean",
    "latitude": "numeric",
    "longitude": "numeric",
}
assert tuple(_ARRAY_TYPES) == COLUMNS
# The facts compared to decide whether a unit changed (everything the sync carries but the key).
_FACTS: Final = tuple(c for c in COLUMNS if c != "landlord_reference")


# Status literals of the constant SQL below, written from the enum (never from input).
_HELD: Final = sql_list(rules.PIPELINE_STATUSES)  # the programme's: never overwritten by a sync
_VACANT: Final = sql_literal(UnitStatus.VACANT)
_UNAVAILABLE: Final = sql_literal(UnitStatus.UNAVAILABLE)
_ABSENT_CANDIDATES: Final = sql_list([UnitStatus.VACANT, *rules.PIPELINE_STATUSES])


def _row(prefix: str, columns: Sequence[str]) -> str:
    return "(" + ", ".join(f"{prefix}.{c}" for c in columns) + ")"


# The temporary table the rows are copied into (COPY, binary): decimals travel as text, cast back below.
INCOMING_TABLE: Final = "sync_incoming"
_TEMP_TYPES: Final = {c: "text" if t == "numeric" else t for c, t in _ARRAY_TYPES.items()}
CREATE_INCOMING_SQL: Final = (
    f"CREATE TEMPORARY TABLE {INCOMING_TABLE} ("
    + ", ".join(f"{c} {t}" for c, t in _TEMP_TYPES.items())
    + ") ON COMMIT DROP"
)
# The statistics the plans need: the row count and the join key's (every statement joins on the reference). The
# other 18 columns are only compared, never joined or filtered on by an index: analysing them cost ≈ 170 ms of server
# CPU per 20,000 rows (sorting 12 text columns' samples), the reference alone ≈ 5 ms, with the same plans.
ANALYZE_INCOMING_SQL: Final = f"ANALYZE {INCOMING_TABLE} (landlord_reference)"
_INCOMING_COLUMNS = ", ".join(
    f"CAST(t.{c} AS dpe_class) AS {c}"
    if c == "dpe_class"
    else (f"CAST(t.{c} AS numeric) AS {c}" if _ARRAY_TYPES[c] == "numeric" else f"t.{c}")
    for c in COLUMNS
)
_DIFF_FIELDS = ", ".join(f"CASE WHEN h.{c} IS DISTINCT FROM c.{c} THEN '{c}' END" for c in _FACTS)

# A relay apartment with a booked stay that is not over yet: ``relay_held_until`` (the stay's last day, kept by the
# pipeline through ``housing.holds``) is today or later; ``:today`` is the Paris date, bound by the caller. Its
# `is_relay` and `status` are held by the programme.
_RELAY_HELD: Final = "COALESCE(u.relay_held_until >= CAST(:today AS date), false)"

# Built from the constant column table above, never from input: only bound parameters carry values.
# action: create | update | same | held (reserved/let, facts differ) | relay (booked relay stay, is_relay or status
# would change).
UPSERT_SQL: Final = f"""
WITH incoming AS (
    SELECT {_INCOMING_COLUMNS}
    FROM {INCOMING_TABLE} AS t
),
compared AS (
    SELECT i.*, u.id AS unit_id, u.status AS current_status, u.held_absent_since AS absent_since,
           CASE
               WHEN u.id IS NULL THEN 'create'
               WHEN u.status IN {_HELD} THEN
                   CASE WHEN {_row("u", _FACTS)} IS DISTINCT FROM {_row("i", _FACTS)} THEN 'held' ELSE 'same' END
               WHEN {_RELAY_HELD} AND (u.is_relay IS DISTINCT FROM i.is_relay OR u.status <> {_VACANT})
                   THEN 'relay'
               WHEN {_row("u", _FACTS)} IS DISTINCT FROM {_row("i", _FACTS)} OR u.status <> {_VACANT} THEN 'update'
               ELSE 'same'
           END AS action
    FROM incoming i
    LEFT JOIN housing_units u
           ON u.landlord_organisation_id = CAST(:org AS uuid) AND u.landlord_reference = i.landlord_reference
),
written AS (
    INSERT INTO housing_units AS u (
        id, landlord_organisation_id, {", ".join(COLUMNS)},
        status, version, last_synced_at, created_at, updated_at
    )
    SELECT gen_random_uuid(), CAST(:org AS uuid), {", ".join(COLUMNS)},
           {_VACANT}, 1, now(), now(), now()
    FROM compared
    WHERE action IN ('create', 'update')
    ON CONFLICT (landlord_organisation_id, landlord_reference) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _FACTS)},
        status = {_VACANT}, held_absent_since = NULL,
        version = u.version + 1, updated_at = now(), last_synced_at = now()
    WHERE u.status NOT IN {_HELD}
      AND ({_row("u", _FACTS)} IS DISTINCT FROM {_row("EXCLUDED", _FACTS)} OR u.status <> {_VACANT})
    RETURNING (u.xmax = 0) AS created
),
cleared AS (
    -- A listed unit is no longer "absent": its mark goes (bookkeeping only, version and updated_at stay); the rows
    -- written above are cleared by their own SET.
    UPDATE housing_units AS u SET held_absent_since = NULL
    FROM compared c
    WHERE u.id = c.unit_id AND c.absent_since IS NOT NULL AND c.action NOT IN ('create', 'update')
)
SELECT NULL AS landlord_reference, NULL AS status, NULL AS action, NULL AS fields,
       (SELECT count(*) FROM written WHERE created) AS created,
       (SELECT count(*) FROM written WHERE NOT created) AS updated
UNION ALL
SELECT c.landlord_reference, CAST(c.current_status AS text), c.action,
       array_remove(
           ARRAY[{_DIFF_FIELDS}, CASE WHEN c.action = 'relay' AND h.status <> {_VACANT} THEN 'status' END], NULL
       ),
       NULL, NULL
FROM compared c JOIN housing_units h ON h.id = c.unit_id
WHERE c.action IN ('held', 'relay')
"""  # noqa: S608

# Locks, in one consistent order (id), every row of this landlord the upsert may write, clear or report: the listed
# rows whose facts differ from the incoming ones, whose status is not vacant or that carry an absent mark, and for a
# snapshot every row it does not list (absent ones may be marked). Waits for a concurrent holder (an allocation
# reserving a unit holds it FOR UPDATE; booking a relay stay updates the unit's relay_held_until) and, until the sync
# commits, makes them wait. The upsert that follows is a new statement, hence a new snapshot: what it compares (status,
# relay hold) is the committed truth. A listed row that is vacant, unmarked and identical is not locked: the upsert
# neither writes nor reports it, whatever a concurrent transaction does to it (the same outcome as if the sync had
# run first); an identical re-sync locks nothing. (``ON CONFLICT DO UPDATE … WHERE`` would lock every conflicting
# row, changed or not: the upsert below only proposes the rows to create or update.)
_LOCK_WORTHY: Final = (
    f"u.status <> {_VACANT} OR u.held_absent_since IS NOT NULL"
    f" OR {_row('u', _FACTS)} IS DISTINCT FROM {_row('i', _FACTS)}"
)
# Both answer (listed units that exist, units locked): when every listed unit exists and none is locked, the upsert
# has nothing to create, write, clear or report, and is not run (an identical re-sync).
_LOCK_AND_COUNT: Final = """
locked AS (
    SELECT 1 FROM housing_units AS u
    WHERE u.id IN (SELECT m.id FROM matched AS m WHERE m.to_lock)
    ORDER BY u.id
    FOR UPDATE
)
SELECT (SELECT count(*) FROM matched AS m WHERE m.listed) AS listed, (SELECT count(*) FROM locked) AS locked
"""
LOCK_LISTED_ROWS_SQL: Final = f"""
WITH matched AS MATERIALIZED (
    SELECT u.id, ({_LOCK_WORTHY}) AS to_lock, true AS listed
    FROM (SELECT {_INCOMING_COLUMNS} FROM {INCOMING_TABLE} AS t) AS i
    JOIN housing_units AS u
      ON u.landlord_organisation_id = CAST(:org AS uuid) AND u.landlord_reference = i.landlord_reference
),
{_LOCK_AND_COUNT}"""  # noqa: S608
LOCK_SNAPSHOT_ROWS_SQL: Final = f"""
WITH matched AS MATERIALIZED (
    SELECT u.id, (i.landlord_reference IS NULL OR {_LOCK_WORTHY}) AS to_lock, i.landlord_reference IS NOT NULL AS listed
    FROM housing_units AS u
    LEFT JOIN (SELECT {_INCOMING_COLUMNS} FROM {INCOMING_TABLE} AS t) AS i
      ON i.landlord_reference = u.landlord_reference
    WHERE u.landlord_organisation_id = CAST(:org AS uuid)
),
{_LOCK_AND_COUNT}"""  # noqa: S608

# A unit listed on an invalid row is no longer "absent" either: clear its mark (bookkeeping only: version and
# updated_at stay). The copied rows' marks are cleared by the upsert itself.
CLEAR_ABSENT_SQL: Final = """
UPDATE housing_units AS u SET held_absent_since = NULL
WHERE u.landlord_organisation_id = CAST(:org AS uuid)
  AND u.landlord_reference = ANY(CAST(:references AS text[]))
  AND u.held_absent_since IS NOT NULL
"""

# Snapshot: this landlord's units absent from it. Vacant ones become unavailable, except relay apartments with a booked
# stay (left vacant, reported); reserved/let ones keep their status and get held_absent_since (once: bookkeeping only,
# version and updated_at stay), reported every time.
MARK_ABSENT_SQL: Final = f"""
WITH absent AS (
    SELECT u.id, u.landlord_reference, u.status, u.held_absent_since, {_RELAY_HELD} AS relay_held
    FROM housing_units AS u
    WHERE u.landlord_organisation_id = CAST(:org AS uuid)
      AND u.status IN {_ABSENT_CANDIDATES}
      AND NOT EXISTS (SELECT 1 FROM sync_incoming AS i WHERE i.landlord_reference = u.landlord_reference)
      AND u.landlord_reference <> ALL(CAST(:references AS text[]))
),
unavailable AS (
    UPDATE housing_units AS u
    SET status = {_UNAVAILABLE}, version = u.version + 1, updated_at = now(), last_synced_at = now()
    FROM absent a
    WHERE u.id = a.id AND a.status = {_VACANT} AND NOT a.relay_held
    RETURNING u.id
),
marked AS (
    UPDATE housing_units AS u SET held_absent_since = now()
    FROM absent a
    WHERE u.id = a.id AND a.status IN {_HELD} AND a.held_absent_since IS NULL
    RETURNING u.id
)
SELECT NULL AS landlord_reference, NULL AS status, NULL AS relay_held,
       (SELECT count(*) FROM unavailable) AS made_unavailable
UNION ALL
SELECT landlord_reference, CAST(status AS text), relay_held, NULL
FROM absent
WHERE status IN {_HELD} OR relay_held
"""  # noqa: S608


@dataclass(frozen=True)
class Conflict:
    landlord_reference: str
    status: str
    code: rules.SyncConflictCode
    fields: list[str]


@dataclass(frozen=True)
class UpsertOutcome:
    created: int
    updated: int
    conflicts: list[Conflict]  # listed units left as they were


@dataclass(frozen=True)
class AbsentOutcome:
    made_unavailable: int
    conflicts: list[Conflict]  # absent units the programme holds (reserved/let, or a booked relay apartment)


def lock_key(landlord_organisation_id: uuid.UUID) -> int:
    """A signed 64-bit advisory lock key for one landlord's syncs."""
    return int.from_bytes(landlord_organisation_id.bytes[:8], "big", signed=True)


async def lock_landlord(session: AsyncSession, landlord_organisation_id: uuid.UUID) -> None:
    """Serialise this landlord's syncs; for this transaction only, give the joins room in memory.

    No ``plan_cache_mode = force_custom_plan`` (it was there for the ``unnest`` arrays): the statements read the
    temporary table, new and analysed in each transaction, so they are planned for it anyway, while that setting
    made PostgreSQL re-plan the foreign key's check (``organisations``) for every inserted row: measured, ≈ 40 % more
    CPU for the upsert of 20,000 new units."""
    await session.execute(
        text("SELECT set_config('work_mem', '32MB', true), pg_advisory_xact_lock(:key)"),
        {"key": lock_key(landlord_organisation_id)},
    )


async def copy_incoming(session: AsyncSession, columns: Mapping[str, list[Any]]) -> None:
    """The valid rows into a temporary table (dropped at commit) with one binary COPY: the statements below read
    them from there, so the rows travel once, without an array parameter per column. Call it after
    ``lock_landlord`` (inside the request's transaction)."""
    connection = await session.connection()
    await connection.exec_driver_sql(CREATE_INCOMING_SQL)
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    records = list(zip(*(columns[c] for c in COLUMNS), strict=True))
    await driver.copy_records_to_table(INCOMING_TABLE, records=records, columns=list(COLUMNS))
    await connection.exec_driver_sql(ANALYZE_INCOMING_SQL)


@dataclass(frozen=True)
class Locked:
    listed_existing: int  # copied rows whose unit exists
    locked: int  # units locked


async def lock_rows(session: AsyncSession, landlord_organisation_id: uuid.UUID, *, whole_landlord: bool) -> Locked:
    """Lock the rows the sync may write, clear or report (see ``LOCK_LISTED_ROWS_SQL``); after ``copy_incoming``,
    before ``upsert``. ``whole_landlord`` (a snapshot): the rows it does not list too."""
    sql = LOCK_SNAPSHOT_ROWS_SQL if whole_landlord else LOCK_LISTED_ROWS_SQL
    listed, locked = (await session.execute(text(sql), {"org": landlord_organisation_id})).one()
    return Locked(int(listed), int(locked))


async def upsert(session: AsyncSession, landlord_organisation_id: uuid.UUID, *, today: date) -> UpsertOutcome:
    """The rows of ``copy_incoming``, compared and written (see ``UPSERT_SQL``)."""
    params: dict[str, Any] = {"org": landlord_organisation_id, "today": today}
    rows = (await session.execute(text(UPSERT_SQL), params)).all()
    created = updated = 0
    conflicts: list[Conflict] = []
    for reference, status, action, fields, n_created, n_updated in rows:
        if reference is None:
            created, updated = int(n_created), int(n_updated)
        else:
            code: rules.SyncConflictCode = "relay_stay_booked" if action == "relay" else "unit_held_by_programme"
            conflicts.append(Conflict(reference, status, code, list(fields)))
    conflicts.sort(key=lambda c: c.landlord_reference)
    return UpsertOutcome(created, updated, conflicts)


async def clear_absent_marks(
    session: AsyncSession, landlord_organisation_id: uuid.UUID, other_listed: Sequence[str]
) -> None:
    """Units listed on an invalid row (``other_listed``) are not absent (the copied rows: ``upsert``). No statement
    when there is none."""
    if not other_listed:
        return
    await session.execute(text(CLEAR_ABSENT_SQL), {"org": landlord_organisation_id, "references": list(other_listed)})


async def mark_absent(
    session: AsyncSession, landlord_organisation_id: uuid.UUID, other_present: Sequence[str], *, today: date
) -> AbsentOutcome:
    """Units absent from the snapshot: neither copied nor in ``other_present`` (references of invalid rows)."""
    params = {"org": landlord_organisation_id, "today": today, "references": list(other_present)}
    rows = (await session.execute(text(MARK_ABSENT_SQL), params)).all()
    made_unavailable = 0
    conflicts: list[Conflict] = []
    for reference, status, relay_held, count in rows:
        if reference is None:
            made_unavailable = int(count)
        else:
            code: rules.SyncConflictCode = "relay_stay_booked" if relay_held else "held_unit_absent_from_snapshot"
            conflicts.append(Conflict(reference, status, code, []))
    conflicts.sort(key=lambda c: c.landlord_reference)
    return AbsentOutcome(made_unavailable, conflicts)
