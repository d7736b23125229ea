"""Set-based SQL of the vacancy sync: a few statements whatever the number of units, never a loop of ORM objects.

1. ``pg_advisory_xact_lock``: two syncs of one landlord run one after the other (released at commit/rollback).
2. ``SELECT … ORDER BY id FOR UPDATE`` of the rows the sync may touch (after any concurrent reservation commits).
3. One statement: ``unnest`` the column arrays, compare with the stored units, and
   ``INSERT … ON CONFLICT (landlord_organisation_id, landlord_reference) DO UPDATE … WHERE (facts) IS DISTINCT FROM
   (incoming facts) AND status NOT IN ('reserved', 'let')`` for the new or changed rows only, counting created vs
   updated with ``xmax = 0``; the same statement lists the conflicts (reserved/let units whose facts differ).
   Unchanged rows are neither written nor locked: version, updated_at and last_synced_at stay as they were.
4. Snapshot only: one ``UPDATE`` making this landlord's vacant units absent from the snapshot ``unavailable``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.housing.sync_input import COLUMNS

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
_HELD: Final = "('reserved', 'let')"


def _row(prefix: str, columns: Sequence[str]) -> str:
    return "(" + ", ".join(f"{prefix}.{c}" for c in columns) + ")"


_UNNEST_ARGS = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in _ARRAY_TYPES.items())
_INCOMING_COLUMNS = ", ".join(f"CAST(t.{c} AS dpe_class) AS {c}" if c == "dpe_class" else f"t.{c}" for c in COLUMNS)
_DIFF_FIELDS = ", ".join(f"CASE WHEN h.{c} IS DISTINCT FROM c.{c} THEN '{c}' END" for c in _FACTS)

# Built from the constant column table above, never from input: only bound parameters carry values.
UPSERT_SQL: Final = f"""
WITH incoming AS (
    SELECT {_INCOMING_COLUMNS}
    FROM unnest({_UNNEST_ARGS}) AS t({", ".join(COLUMNS)})
),
compared AS (
    SELECT i.*, u.id AS unit_id, u.status AS current_status,
           {_row("u", _FACTS)} IS DISTINCT FROM {_row("i", _FACTS)} AS facts_differ
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
           'vacant', 1, now(), now(), now()
    FROM compared
    WHERE unit_id IS NULL
       OR (current_status NOT IN {_HELD} AND (facts_differ OR current_status <> 'vacant'))
    ON CONFLICT (landlord_organisation_id, landlord_reference) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _FACTS)},
        status = 'vacant', version = u.version + 1, updated_at = now(), last_synced_at = now()
    WHERE u.status NOT IN {_HELD}
      AND ({_row("u", _FACTS)} IS DISTINCT FROM {_row("EXCLUDED", _FACTS)} OR u.status <> 'vacant')
    RETURNING (u.xmax = 0) AS created
)
SELECT NULL AS landlord_reference, NULL AS status, NULL AS fields,
       (SELECT count(*) FROM written WHERE created) AS created,
       (SELECT count(*) FROM written WHERE NOT created) AS updated
UNION ALL
SELECT c.landlord_reference, CAST(c.current_status AS text),
       array_remove(ARRAY[{_DIFF_FIELDS}], NULL), NULL, NULL
FROM compared c JOIN housing_units h ON h.id = c.unit_id
WHERE c.current_status IN {_HELD} AND c.facts_differ
"""  # noqa: S608

# Locks, in one consistent order (id), every row of this landlord the sync may compare, write or mark: the rows it
# lists, and for a snapshot all of the landlord's rows (absent ones may be marked). Waits for a concurrent holder
# (an allocation reserving a unit holds it FOR UPDATE; a relay stay being booked holds FOR KEY SHARE through its
# foreign key, which FOR UPDATE also waits for) and, until the sync commits, makes them wait. The upsert that
# follows is a new statement, hence a new snapshot: what it compares (status, relay stays) is the committed truth.
LOCK_ROWS_SQL: Final = """
SELECT count(*) FROM (
    SELECT 1 FROM housing_units AS u
    WHERE u.landlord_organisation_id = CAST(:org AS uuid)
      AND (CAST(:whole AS boolean) OR u.landlord_reference = ANY(CAST(:references AS text[])))
    ORDER BY u.id
    FOR UPDATE
) AS locked
"""

MARK_ABSENT_SQL: Final = """
UPDATE housing_units AS u
SET status = 'unavailable', version = u.version + 1, updated_at = now(), last_synced_at = now()
WHERE u.landlord_organisation_id = CAST(:org AS uuid)
  AND u.status = 'vacant'
  AND NOT EXISTS (SELECT 1 FROM unnest(CAST(:references AS text[])) AS r(ref) WHERE r.ref = u.landlord_reference)
"""


@dataclass(frozen=True)
class Conflict:
    landlord_reference: str
    status: str
    fields: list[str]


@dataclass(frozen=True)
class UpsertOutcome:
    created: int
    updated: int
    conflicts: list[Conflict]


def lock_key(landlord_organisation_id: uuid.UUID) -> int:
    """A signed 64-bit advisory lock key for one landlord's syncs."""
    return int.from_bytes(landlord_organisation_id.bytes[:8], "big", signed=True)


async def lock_landlord(session: AsyncSession, landlord_organisation_id: uuid.UUID) -> None:
    """Serialise this landlord's syncs; for this transaction only, give the join room in memory and plan each
    statement for its actual array sizes (a cached generic plan would guess 10 rows per ``unnest``)."""
    await session.execute(
        text(
            "SELECT set_config('work_mem', '32MB', true), set_config('plan_cache_mode', 'force_custom_plan', true),"
            " pg_advisory_xact_lock(:key)"
        ),
        {"key": lock_key(landlord_organisation_id)},
    )


async def lock_rows(
    session: AsyncSession, landlord_organisation_id: uuid.UUID, references: Sequence[str], *, whole_landlord: bool
) -> None:
    """Lock the rows the sync may touch (see ``LOCK_ROWS_SQL``); call it after ``lock_landlord``, before ``upsert``."""
    params = {"org": landlord_organisation_id, "whole": whole_landlord, "references": list(references)}
    await session.execute(text(LOCK_ROWS_SQL), params)


async def upsert(
    session: AsyncSession, landlord_organisation_id: uuid.UUID, columns: Mapping[str, list[Any]]
) -> UpsertOutcome:
    params: dict[str, Any] = {"org": landlord_organisation_id, **columns}
    rows = (await session.execute(text(UPSERT_SQL), params)).all()
    created = updated = 0
    conflicts: list[Conflict] = []
    for reference, status, fields, n_created, n_updated in rows:
        if reference is None:
            created, updated = int(n_created), int(n_updated)
        else:
            conflicts.append(Conflict(reference, status, list(fields)))
    conflicts.sort(key=lambda c: c.landlord_reference)
    return UpsertOutcome(created, updated, conflicts)


async def mark_absent_unavailable(
    session: AsyncSession, landlord_organisation_id: uuid.UUID, present_references: Sequence[str]
) -> int:
    result = await session.execute(
        text(MARK_ABSENT_SQL), {"org": landlord_organisation_id, "references": list(present_references)}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
