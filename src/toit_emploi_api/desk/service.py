"""The manager's desk: the rules of its lists (windows, bounds, settings) and the audit of the reads that show
households' records. The agenda names households by reference only, so it is not audited."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit, clock
from toit_emploi_api.core.errors import FieldError, ValidationProblemError
from toit_emploi_api.core.resources import ListQuery, Page, PageParams
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.desk import repository
from toit_emploi_api.desk.schemas import AgendaItemOut, DeskPlacementOut, DeskRelayStayOut
from toit_emploi_api.pipeline.schemas import PlacementOut, RelayStayOut
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.statuses import PlacementStatus, RelayStayStatus

AGENDA_DEFAULT_DAYS = 14
AGENDA_MAX_DAYS = 366
API = "/api/v1"


def _window(start: date | None, end: date | None, *, default_days: int | None) -> tuple[date | None, date | None]:
    if start is not None and end is not None and end < start:
        raise ValidationProblemError(
            "The window ends before it starts.",
            errors=[FieldError(field="query.to", message="must be on or after from")],
        )
    if default_days is None:
        return start, end
    start = start or clock.today()
    end = end or start + timedelta(days=default_days)
    if (end - start).days > AGENDA_MAX_DAYS:
        raise ValidationProblemError(
            "The agenda covers at most a year.",
            errors=[FieldError(field="query.to", message=f"must be at most {AGENDA_MAX_DAYS} days after from")],
        )
    return start, end


async def relay_stays(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    q: ListQuery,
    *,
    start: date | None,
    end: date | None,
    unit_id: uuid.UUID | None,
    status: RelayStayStatus | None,
) -> Page[DeskRelayStayOut]:
    start, end = _window(start, end, default_days=None)
    rows = await repository.relay_stays(session, repository.StayFilters(start, end, unit_id, status), page, q)
    await _audit(session, principal, AuditAction.RELAY_STAY_LIST, "relay_stay", [r[0].household_id for r in rows.rows])

    def out(row: Any) -> DeskRelayStayOut:
        stay, reference, landlord_reference, insee, name = row
        return DeskRelayStayOut(
            **RelayStayOut.model_validate(stay).model_dump(),
            household_reference=reference,
            unit_landlord_reference=landlord_reference,
            unit_commune_insee=insee,
            unit_commune_name=name,
        )

    return rows.to(out)


async def placements(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    q: ListQuery,
    *,
    status: PlacementStatus | None,
    job_opening_id: uuid.UUID | None,
    employer_id: uuid.UUID | None,
    updated_before: date | None,
) -> Page[DeskPlacementOut]:
    before = clock.paris_midnight(updated_before) if updated_before is not None else None
    filters = repository.PlacementFilters(status, job_opening_id, employer_id, before)
    rows = await repository.placements(session, filters, page, q)
    await _audit(session, principal, AuditAction.PLACEMENT_LIST, "placement", [r[0].household_id for r in rows.rows])

    def out(row: Any) -> DeskPlacementOut:
        placement, reference, title, employer, employer_name = row
        return DeskPlacementOut(
            **PlacementOut.model_validate(placement).model_dump(),
            household_reference=reference,
            job_opening_title=title,
            employer_id=employer,
            employer_name=employer_name,
        )

    return rows.to(out)


_ACTIONS = {
    "relay_stay_start": "Welcome the family in the relay apartment (the stay starts).",
    "relay_stay_end": "Record the relay stay's outcome: does the family agree, does the employer agree?",
    "job_start": "The adult starts the job: check in with the employer.",
    "lease_signature": "Lease signature for the household's home.",
    "move_in": "The household moves in.",
    "follow_up_overdue": "Record a follow-up entry: none for {follow_up} days.",
    "placement_without_news": "Ask the employer for news of the placement: unchanged for {stale} days.",
    "application_awaiting_decision": "Decide on the presented application: retain the household (move it to "
    "matching) or withdraw it.",
    "right_to_work_expiry": "A right-to-work document expires: help renew it before this date.",
}


def _href(kind: str, object_type: str, object_id: uuid.UUID, household_id: uuid.UUID) -> str:
    if object_type == "relay_stay":
        return f"{API}/relay-stays/{object_id}"
    if object_type == "placement":
        return f"{API}/placements/{object_id}"
    if object_type == "allocation":
        return f"{API}/households/{household_id}/allocation"
    if kind == "application_awaiting_decision":
        return f"{API}/households/{household_id}/transitions"
    if object_type == "member":
        return f"{API}/households/{household_id}/members/{object_id}"
    return f"{API}/households/{household_id}/follow-up-entries"


async def agenda(
    session: AsyncSession, settings: Settings, page: PageParams, *, start: date | None, end: date | None
) -> Page[AgendaItemOut]:
    first, last = _window(start, end, default_days=AGENDA_DEFAULT_DAYS)
    assert first is not None
    assert last is not None
    stale = settings.agenda_placement_stale_days
    query = repository.AgendaQuery(
        start=first,
        end=last,
        follow_up_days=settings.agenda_follow_up_days,
        stale_days=stale,
        # An open placement is due when its last change's Paris day + `stale` is on or before the window's end.
        stale_before=clock.paris_midnight(last - timedelta(days=stale - 1)),
        right_to_work_days=settings.agenda_right_to_work_days,
    )
    rows, total = await repository.agenda(session, query, page)
    today = clock.today()
    items = [
        AgendaItemOut(
            date=r["day"],
            kind=r["kind"],
            overdue=r["day"] < today,
            household_id=r["household_id"],
            household_reference=r["reference"],
            action=_ACTIONS[r["kind"]].format(follow_up=settings.agenda_follow_up_days, stale=stale),
            object_type=r["object_type"],
            object_id=r["object_id"],
            href=_href(r["kind"], r["object_type"], r["object_id"], r["household_id"]),
        )
        for r in rows
    ]
    return page.of(items, total)


async def _audit(
    session: AsyncSession, principal: Principal, action: AuditAction, entity_type: str, households: list[uuid.UUID]
) -> None:
    """One event for a list read, with the households it showed (`shown`), as the households list does."""
    await audit.record(session, principal, action, entity_type, None, shown=sorted(set(households)))
