"""SQL of the programme's holds on housing units (see `holds`)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.vocab.statuses import UnitStatus


async def lock_unit(session: AsyncSession, unit_id: uuid.UUID) -> HousingUnit | None:
    """The unit, `SELECT … FOR UPDATE`, re-read under the lock even when the session already holds it."""
    stmt = (
        select(HousingUnit).where(HousingUnit.id == unit_id).with_for_update().execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_units(session: AsyncSession, unit_ids: list[uuid.UUID]) -> None:
    """Lock the units `FOR UPDATE` in one statement, in id order (the order the vacancy sync locks them in)."""
    stmt = select(HousingUnit.id).where(HousingUnit.id.in_(unit_ids)).order_by(HousingUnit.id).with_for_update()
    await session.execute(stmt)


def _released() -> Any:
    """What a unit the programme stops holding becomes (see `holds.released_status`), as SQL."""
    return case(
        (HousingUnit.held_absent_since.is_not(None), literal(UnitStatus.UNAVAILABLE, HousingUnit.status.type)),
        else_=literal(UnitStatus.VACANT, HousingUnit.status.type),
    )


async def let_units(session: AsyncSession, unit_ids: list[uuid.UUID], now: datetime) -> int:
    result = await session.execute(
        update(HousingUnit)
        .where(HousingUnit.id.in_(unit_ids), HousingUnit.status == UnitStatus.VACANT)
        .values(status=UnitStatus.LET, updated_at=now, version=HousingUnit.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def end_lets(session: AsyncSession, unit_ids: list[uuid.UUID], now: datetime) -> int:
    result = await session.execute(
        update(HousingUnit)
        .where(HousingUnit.id.in_(unit_ids), HousingUnit.status == UnitStatus.LET)
        .values(status=_released(), held_absent_since=None, updated_at=now, version=HousingUnit.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def release_units(session: AsyncSession, unit_ids: list[uuid.UUID], now: datetime) -> None:
    """Reserved units released in one statement: `unavailable` when the landlord's last snapshot dropped them
    (``held_absent_since``), else `vacant`; the mark is cleared. A unit that is no longer reserved (its landlord
    changed it meanwhile) is left alone."""
    await session.execute(
        update(HousingUnit)
        .where(HousingUnit.id.in_(unit_ids), HousingUnit.status == UnitStatus.RESERVED)
        .values(
            status=case(
                (
                    HousingUnit.held_absent_since.is_not(None),
                    literal(UnitStatus.UNAVAILABLE, HousingUnit.status.type),
                ),
                else_=literal(UnitStatus.VACANT, HousingUnit.status.type),
            ),
            held_absent_since=None,
            updated_at=now,
            version=HousingUnit.version + 1,
        )
        .execution_options(synchronize_session="fetch")
    )


async def set_relay_hold(session: AsyncSession, unit_id: uuid.UUID, until: date | None) -> None:
    """Bookkeeping only, like ``held_absent_since``: the unit's version and ``updated_at`` stay as they are."""
    await session.execute(
        update(HousingUnit)
        .where(HousingUnit.id == unit_id)
        .values(relay_held_until=until, updated_at=HousingUnit.updated_at)
        .execution_options(synchronize_session="fetch")
    )
