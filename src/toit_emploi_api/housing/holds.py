"""Housing's contract for the programme's holds on units: how the pipeline reserves, lets and releases a unit, and
holds a relay apartment for the stays booked in it. Housing owns `housing_units`; the pipeline calls these
functions and never writes a unit's columns itself.

- `lock_unit` (or `lock_units`, in id order) first: every decision on a unit is taken with its row locked
  (`FOR UPDATE`) until the request's transaction ends, so that the landlord's vacancy sync (which locks the same
  rows) cannot change it meanwhile.
- `reserve_unit` (vacant → reserved), `let_unit` (→ let), `release_unit`/`release_units` (reserved → vacant, or →
  unavailable when the landlord's last snapshot no longer listed the unit): the unit's version changes.
- `let_units` / `end_lets`: a history import's households still in their lease (vacant → let), and its rollback
  (let → vacant, or unavailable as above), in one statement each.
- `set_relay_hold`: the last day of a stay booked in this relay apartment (None: no booked stay). The apartment is
  held by the programme (its relay flag and status kept by the sync and by unit updates) while that date is today
  or later. Bookkeeping only: the unit's version does not change.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.clock import utcnow
from toit_emploi_api.core.errors import ProblemError
from toit_emploi_api.housing import holds_repository
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.vocab.problems import UNIT_NOT_AVAILABLE
from toit_emploi_api.vocab.statuses import UnitStatus


async def lock_unit(session: AsyncSession, unit_id: uuid.UUID) -> HousingUnit | None:
    """The unit, locked `FOR UPDATE` until the transaction ends (re-read under the lock); None when unknown."""
    return await holds_repository.lock_unit(session, unit_id)


async def lock_units(session: AsyncSession, unit_ids: list[uuid.UUID]) -> None:
    """Lock several units `FOR UPDATE` at once, in id order (the vacancy sync's order: no deadlock with it)."""
    if unit_ids:
        await holds_repository.lock_units(session, sorted(set(unit_ids)))


def released_status(unit: HousingUnit) -> UnitStatus:
    """What a unit the programme stops holding becomes: `unavailable` when the landlord's last snapshot no longer
    listed it (``held_absent_since`` set), else `vacant`."""
    return UnitStatus.UNAVAILABLE if unit.held_absent_since is not None else UnitStatus.VACANT


async def reserve_unit(session: AsyncSession, unit: HousingUnit) -> None:
    """A locked vacant unit becomes `reserved` (409 `unit-not-available` when it is not vacant)."""
    if unit.status is not UnitStatus.VACANT:
        raise ProblemError(UNIT_NOT_AVAILABLE, "The housing unit is not vacant.")
    unit.status = UnitStatus.RESERVED
    await session.flush()


async def let_unit(session: AsyncSession, unit: HousingUnit) -> None:
    """The locked unit reserved for a household becomes `let` (its lease is signed)."""
    unit.status = UnitStatus.LET
    await session.flush()


async def release_unit(session: AsyncSession, unit: HousingUnit) -> None:
    """The programme stops holding a locked unit: a reserved unit becomes `vacant`, or `unavailable` when the
    landlord's last snapshot dropped it (the mark is then cleared); a unit in any other status is left alone."""
    if unit.status is UnitStatus.RESERVED:
        unit.status = released_status(unit)
        unit.held_absent_since = None
        await session.flush()


async def release_units(session: AsyncSession, unit_ids: list[uuid.UUID]) -> None:
    """`release_unit` for many units in one statement (they need not be locked first: the UPDATE locks them)."""
    if unit_ids:
        await holds_repository.release_units(session, unit_ids, utcnow())


async def let_units(session: AsyncSession, unit_ids: list[uuid.UUID]) -> int:
    """Vacant units become `let` in one statement (a history import's current leases); how many. The caller has
    locked them (`lock_units`) and checked they are vacant."""
    if not unit_ids:
        return 0
    return await holds_repository.let_units(session, unit_ids, utcnow())


async def end_lets(session: AsyncSession, unit_ids: list[uuid.UUID]) -> int:
    """The programme stops holding let units (a history import rolled back): `vacant`, or `unavailable` when the
    landlord's last snapshot dropped them; a unit no longer `let` is left alone. How many."""
    if not unit_ids:
        return 0
    return await holds_repository.end_lets(session, unit_ids, utcnow())


async def set_relay_hold(session: AsyncSession, unit_id: uuid.UUID, until: date | None) -> None:
    """Hold the relay apartment until `until` (the last day of the stays booked in it), or release it (None).

    The caller computes `until` with the unit locked (`lock_unit`), so that two bookings or cancellations in the
    same apartment cannot overwrite each other's hold."""
    await holds_repository.set_relay_hold(session, unit_id, until)
