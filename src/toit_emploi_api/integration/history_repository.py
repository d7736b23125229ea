"""SQL of the history import: what the file's records name (one statement each), the set-based inserts of an
import, and the checks and delete of a rollback.

The imported rows are written here, not through each domain's live services: those stamp facts with today's date
and one row at a time, while an import writes past facts in bulk. Every row written carries the import's id. What the
import changes on rows other packages own (a unit let, hires counted on a job opening) goes through their contracts,
`housing.holds` and `employers.hires` (`history_service`), never through this module."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.accounts.models import Organisation
from toit_emploi_api.core.imports_models import ImportBatch
from toit_emploi_api.households.models import Household, Member, household_reference_seq
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline.models import FollowUpEntry, HousingAllocation, Placement, RelayStay, StageTransition
from toit_emploi_api.vocab.roles import OrganisationKind
from toit_emploi_api.vocab.statuses import (
    ACTIVE_ALLOCATION_STATUSES,
    AllocationStatus,
    PlacementStatus,
    RelayStayStatus,
    UnitStatus,
)

IMPORTED: tuple[type[Any], ...] = (Member, StageTransition, Placement, RelayStay, HousingAllocation, FollowUpEntry)
VERSIONED: tuple[type[Any], ...] = (Member, Placement, RelayStay, HousingAllocation)


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


async def referring_organisations(session: AsyncSession, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    kinds = (OrganisationKind.REFERRAL_PARTNER, OrganisationKind.OPERATOR)
    stmt = select(Organisation.id).where(
        Organisation.id.in_(ids), Organisation.active.is_(True), Organisation.kind.in_(kinds)
    )
    return set((await session.execute(stmt)).scalars())


async def units(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[bool, UnitStatus, int]]:
    """Unit → (is a relay apartment, its status, its rooms). The caller locked them (`housing.holds.lock_units`)."""
    stmt = select(HousingUnit.id, HousingUnit.is_relay, HousingUnit.status, HousingUnit.rooms).where(
        HousingUnit.id.in_(ids)
    )
    return {r.id: (bool(r.is_relay), UnitStatus(r.status), int(r.rooms)) for r in await session.execute(stmt)}


async def stays(session: AsyncSession, unit_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[tuple[date, date]]]:
    stmt = select(RelayStay.unit_id, RelayStay.start_date, RelayStay.end_date).where(
        RelayStay.unit_id.in_(unit_ids), RelayStay.status != RelayStayStatus.CANCELLED
    )
    out: dict[uuid.UUID, list[tuple[date, date]]] = {}
    for r in await session.execute(stmt):
        out.setdefault(r.unit_id, []).append((r.start_date, r.end_date))
    return out


async def allocated_units(session: AsyncSession, unit_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    stmt = select(HousingAllocation.unit_id).where(
        HousingAllocation.unit_id.in_(unit_ids), HousingAllocation.status.in_(ACTIVE_ALLOCATION_STATUSES)
    )
    return set((await session.execute(stmt)).scalars())


async def held_by_import(session: AsyncSession, import_id: uuid.UUID) -> tuple[list[uuid.UUID], dict[uuid.UUID, int]]:
    """What the import holds: the units of its allocations still `lease_signed` (it let them), and its hired
    placements per job opening (it counted them)."""
    units_stmt = select(HousingAllocation.unit_id).where(
        HousingAllocation.import_id == import_id, HousingAllocation.status == AllocationStatus.LEASE_SIGNED
    )
    hires_stmt = (
        select(Placement.job_opening_id, func.count())
        .where(Placement.import_id == import_id, Placement.status == PlacementStatus.HIRED)
        .group_by(Placement.job_opening_id)
    )
    unit_ids = list((await session.execute(units_stmt)).scalars())
    hires = {r[0]: int(r[1]) for r in await session.execute(hires_stmt)}
    return unit_ids, hires


async def reference_numbers(session: AsyncSession, count: int) -> list[int]:
    stmt = select(household_reference_seq.next_value()).select_from(func.generate_series(1, count))
    return [int(n) for n in (await session.execute(stmt)).scalars()]


async def insert_all(session: AsyncSession, batch: dict[str, Any], rows: dict[type[Any], list[dict[str, Any]]]) -> None:
    """The import's row, then every table's rows (parents first), each in one executemany."""
    await session.execute(insert(_table(ImportBatch)), [batch])
    models: tuple[type[Any], ...] = (Household, *IMPORTED)
    for model in models:
        if rows.get(model):
            await session.execute(insert(_table(model)), rows[model])


async def lock_import(session: AsyncSession, import_id: uuid.UUID) -> ImportBatch | None:
    stmt = select(ImportBatch).where(ImportBatch.id == import_id).with_for_update()
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


async def get_import(session: AsyncSession, import_id: uuid.UUID) -> ImportBatch | None:
    return await session.get(ImportBatch, import_id)


async def changed_since_import(session: AsyncSession, import_id: uuid.UUID) -> list[uuid.UUID]:
    """The imported households something was changed on or added to since the import: the household itself
    (its version, which its members' changes also bump), one of its imported records, or a record not imported."""
    imported = select(Household.id).where(Household.import_id == import_id)
    # Lock every imported household first: a live write on one of them (which locks its household) waits for the
    # rollback, then finds it gone, instead of adding a record the delete would silently take along.
    locked = await session.execute(
        select(Household.id, Household.version).where(Household.import_id == import_id).with_for_update()
    )
    changed: set[uuid.UUID] = {row.id for row in locked if row.version > 1}
    for model in IMPORTED:
        conditions = [model.import_id.is_distinct_from(import_id)]
        if model in VERSIONED:
            conditions.append(model.version > 1)
        stmt = select(model.household_id).where(model.household_id.in_(imported), or_(*conditions)).distinct()
        changed |= set((await session.execute(stmt)).scalars())
    return sorted(changed)


async def delete_imported(session: AsyncSession, import_id: uuid.UUID) -> int:
    """Delete the import's households (their members and records go with them: ON DELETE CASCADE)."""
    result = await session.execute(
        delete(Household).where(Household.import_id == import_id).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def mark_rolled_back(session: AsyncSession, import_id: uuid.UUID) -> None:
    await session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == import_id)
        .values(status="rolled_back", rolled_back_at=func.now(), updated_at=func.now(), version=ImportBatch.version + 1)
        .execution_options(synchronize_session=False)
    )
