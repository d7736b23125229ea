"""Privacy's rules: the access log and the audit trail as answers, the due list, erasure on request, the access
export. Flushes only (the request's session commits); SQL is `privacy.repository`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit, clock
from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.core.csv import stream_rows
from toit_emploi_api.core.errors import ProblemError
from toit_emploi_api.core.resources import Page, PageParams
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.households.access import check_members_readable
from toit_emploi_api.households.models import Household
from toit_emploi_api.households.schemas import HouseholdStaffOut
from toit_emploi_api.households.service import household_out
from toit_emploi_api.pipeline import views
from toit_emploi_api.pipeline.schemas import (
    AllocationOut,
    PlacementOut,
    RelayStayOut,
)
from toit_emploi_api.privacy import repository, retention
from toit_emploi_api.privacy.repository import AuditFilters
from toit_emploi_api.privacy.schemas import (
    AdminAuditEventOut,
    AnonymiseIn,
    AnonymiseOut,
    AuditEventOut,
    DueHouseholdOut,
    HouseholdExport,
)
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.problems import HOUSEHOLD_ANONYMISED, HOUSEHOLD_STILL_ACTIVE
from toit_emploi_api.vocab.stages import TERMINAL_STAGES

CSV_HEADER = (
    "date",
    "acteur_type",
    "acteur_id",
    "acteur_role",
    "acteur_organisation_id",
    "action",
    "objet_type",
    "objet_id",
    "foyer_id",
    "request_id",
    "foyers_affiches",
    "details",
)


def event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id,
        at=event.at,
        actor=views.actor_out(event.actor_kind, event.actor_id, event.actor_role),
        actor_organisation_id=event.actor_organisation_id,
        action=event.action,
        object_type=event.entity_type,
        object_id=event.entity_id,
        household_id=event.household_id,
        request_id=event.request_id,
        details=event.details,
    )


def admin_event_out(event: AuditEvent) -> AdminAuditEventOut:
    return AdminAuditEventOut(**event_out(event).model_dump(), household_ids=event.household_ids)


# --- the audit trail -----------------------------------------------------------------------------------------
async def access_log(
    session: AsyncSession, principal: Principal, household: Household, page: PageParams, sort: str = "-at"
) -> Page[AuditEventOut]:
    """Every read and change of the household's file, newest first (a partner worker: while in diagnostic only,
    403 `household-status-only` afterwards). The households other lists showed at the same time are not shown."""
    check_members_readable(principal, household)
    rows = await repository.access_log(session, household.id, page, sort)
    await audit.record(
        session, principal, AuditAction.HOUSEHOLD_ACCESS_LOG_READ, "household", household.id, household_id=household.id
    )
    return rows.to(event_out)


async def audit_events(
    session: AsyncSession, principal: Principal, filters: AuditFilters, page: PageParams, sort: str = "-at"
) -> Page[AdminAuditEventOut]:
    rows = await repository.audit_events(session, filters, page, sort)
    await _record_listing(session, principal, filters, "json")
    return rows.to(admin_event_out)


async def audit_events_csv(
    session: AsyncSession,
    maker: async_sessionmaker[AsyncSession],
    principal: Principal,
    filters: AuditFilters,
    sort: str = "-at",
) -> AsyncIterator[Sequence[Any]]:
    """Every event matching the filters, in the `sort` order (newest first), as CSV rows (streamed in one
    snapshot)."""
    await _record_listing(session, principal, filters, "csv")
    stmt = repository.audit_events_stmt(filters, sort)

    async def rows() -> AsyncIterator[Sequence[Any]]:
        async for (event,) in stream_rows(maker, stmt):
            yield (
                event.at,
                event.actor_kind,
                event.actor_id,
                event.actor_role,
                event.actor_organisation_id,
                event.action,
                event.entity_type,
                event.entity_id,
                event.household_id,
                event.request_id,
                event.household_ids or [],
                json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else None,
            )

    return rows()


async def _record_listing(session: AsyncSession, principal: Principal, filters: AuditFilters, form: str) -> None:
    await audit.record(
        session,
        principal,
        AuditAction.AUDIT_EVENT_LIST,
        "audit_event",
        None,
        details={"filters": filters.used(), "format": form},
    )


# --- retention -----------------------------------------------------------------------------------------------
async def due_list(
    session: AsyncSession, principal: Principal, settings: Settings, page: PageParams, sort: str = "due_on"
) -> Page[DueHouseholdOut]:
    """Files due within 30 days, soonest first unless `sort` says otherwise; the households shown are recorded."""
    day = clock.today()
    rows = await repository.due_list(session, settings.retention_months, day, page, sort)
    await audit.record(
        session, principal, AuditAction.RETENTION_DUE_LIST, "household", None, shown=[r.id for r in rows.rows]
    )
    return rows.to(
        lambda r: DueHouseholdOut(
            household_id=r.id,
            reference=r.reference,
            stage=r.stage,
            last_contact_date=r.last_contact_date,
            due_on=r.due_on,
            is_due=r.due_on <= day,
            decision_needed=r.stage not in TERMINAL_STAGES,
        )
    )


async def erase(session: AsyncSession, principal: Principal, household: Household, body: AnonymiseIn) -> AnonymiseOut:
    """Anonymise the (locked) household now, on request. 409 when already anonymised, or still active (withdraw
    it first: an active file erased would stay in progress forever in the programme's figures)."""
    if household.anonymised_at is not None:
        raise ProblemError(HOUSEHOLD_ANONYMISED, "This household's file has already been anonymised.")
    if household.stage not in TERMINAL_STAGES:
        raise ProblemError(
            HOUSEHOLD_STILL_ACTIVE,
            f"The household is still active ({household.stage.value}): withdraw it through the pipeline first "
            "(POST …/transitions with to=withdrawn), then erase its file.",
            extra={"stage": household.stage.value},
        )
    await retention.anonymise_households(session, [household.id], principal, {"cause": body.reason.value})
    await session.refresh(household)
    assert household.anonymised_at is not None
    return AnonymiseOut(household_id=household.id, anonymised_at=household.anonymised_at)


# --- the access export (right of access) ---------------------------------------------------------------------
async def export(session: AsyncSession, principal: Principal, household: Household) -> HouseholdExport:
    """Everything held about the household in one document; recorded as an export of that household."""
    records = await repository.records_of(session, household.id)
    log = await repository.whole_access_log(session, household.id)
    view = household_out(principal, household)
    assert isinstance(view, HouseholdStaffOut)
    await audit.record(
        session,
        principal,
        AuditAction.HOUSEHOLD_EXPORT,
        "household",
        household.id,
        household_id=household.id,
        shown=[household.id],
        details={
            "sections": [
                "household",
                "stage_history",
                "placements",
                "relay_stays",
                "allocations",
                "follow_up_entries",
                "access_log",
            ]
        },
    )
    return HouseholdExport(
        exported_at=clock.utcnow(),
        household=view,
        anonymised_at=household.anonymised_at,
        stage_history=[views.transition_out(m) for m in records.transitions],
        placements=[PlacementOut.model_validate(p) for p in records.placements],
        relay_stays=[RelayStayOut.model_validate(s) for s in records.relay_stays],
        allocations=[AllocationOut.model_validate(a) for a in records.allocations],
        follow_up_entries=[views.entry_out(e) for e in records.follow_up_entries],
        access_log=[event_out(e) for e in log],
    )
