"""How the pipeline services save a record: flush (translating the constraints they rely on into problems), read
back what the database made, and record the audit event."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit
from toit_emploi_api.core.clock import today
from toit_emploi_api.core.errors import ProblemError, constraint_name
from toit_emploi_api.core.resources import PageParams, Slice
from toit_emploi_api.households.models import Household
from toit_emploi_api.households.service import touch_contact
from toit_emploi_api.pipeline.models import FollowUpEntry, HousingAllocation, Placement, RelayStay
from toit_emploi_api.vocab.audit import AuditAction

R = TypeVar("R", Placement, RelayStay, HousingAllocation, FollowUpEntry)
P = ParamSpec("P")
T = TypeVar("T")

ENTITY_TYPES: Mapping[type[Any], str] = {
    Placement: "placement",
    RelayStay: "relay_stay",
    HousingAllocation: "housing_allocation",
    FollowUpEntry: "follow_up_entry",
}
"""The audit trail's name of each record."""


async def flush(session: AsyncSession, problems: Mapping[str, Callable[[], ProblemError]] | None = None) -> None:
    """Flush; a violation of one of the constraints named in `problems` is raised as its problem instead."""
    try:
        await session.flush()
    except IntegrityError as exc:
        problem = (problems or {}).get(constraint_name(exc) or "")
        if problem is None:
            raise
        raise problem() from None


async def saved(
    session: AsyncSession,
    principal: Principal,
    action: AuditAction,
    record: R,
    household_id: uuid.UUID,
    details: Mapping[str, object] | None = None,
    problems: Mapping[str, Callable[[], ProblemError]] | None = None,
) -> R:
    """Flush the record (see `flush`), read back its version and timestamps, record the audit event and touch the
    household's last contact (a follow-up entry's date, today for the other records)."""
    await flush(session, problems)
    await session.refresh(record)
    await touch_contact(session, household_id, record.entry_date if isinstance(record, FollowUpEntry) else today())
    await audit.record(
        session,
        principal,
        action,
        ENTITY_TYPES[type(record)],
        record.id,
        household_id=household_id,
        details=dict(details) if details is not None else None,
    )
    return record


async def read(
    session: AsyncSession,
    principal: Principal,
    action: AuditAction,
    household_id: uuid.UUID,
    records: Sequence[Any],
    entity_type: str = "household",
) -> None:
    """Record a read of pipeline records (notes may be in them): the household, and the ids of the records shown."""
    entity_id = records[0].id if entity_type != "household" and len(records) == 1 else household_id
    await audit.record(
        session,
        principal,
        action,
        entity_type,
        entity_id,
        household_id=household_id,
        details={"ids": [str(r.id) for r in records]},
    )


def household_list(
    action: AuditAction, page_of: Callable[Concatenate[AsyncSession, uuid.UUID, PageParams, P], Awaitable[Slice[T]]]
) -> Callable[Concatenate[AsyncSession, Principal, Household, PageParams, P], Awaitable[Slice[T]]]:
    """The service function that lists one page of a household's records (`page_of`, from the repository, which
    may take further arguments: the list's query) and records the read (`action`) with the ids shown."""

    async def list_for(
        session: AsyncSession,
        principal: Principal,
        household: Household,
        page: PageParams,
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Slice[T]:
        rows = await page_of(session, household.id, page, *args, **kwargs)
        await read(session, principal, action, household.id, rows.rows)
        return rows

    return list_for
