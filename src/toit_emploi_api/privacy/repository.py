"""Privacy's SQL: the audit trail's views, the retention due list, the anonymisation statements, the export.

Anonymisation is set-based: a fixed list of statements over an array of household ids (one `UPDATE` per table,
whatever the number of households), so that 10,000 files take seconds, not a Python loop of thousands of
statements. It reads and erases across domains by nature (members, pipeline records, idempotency records, the
audit trail's old details): those statements are written here, in one reviewed place."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Select, Uuid, bindparam, cast, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.core.audit import AuditEvent, allow_anonymisation
from toit_emploi_api.core.enums import sql_literal
from toit_emploi_api.core.resources import PageParams, Slice, equal_if_given, paginate, sorted_by
from toit_emploi_api.households.models import Household
from toit_emploi_api.pipeline.models import FollowUpEntry, HousingAllocation, Placement, RelayStay, StageTransition
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.stages import TERMINAL_STAGES, Stage

DUE_HORIZON = timedelta(days=30)
"""The due list shows files 30 days before they become due."""

ADVISORY_LOCK_KEY = 0x7E_2012_0001
"""pg_advisory_lock key of the retention run: one run at a time across workers and machines."""


# --- the audit trail -------------------------------------------------------------------------------------------
_EVENT_SORTS = {"at": AuditEvent.at}


def _household_events(household_id: uuid.UUID, sort: str = "-at") -> Select[AuditEvent]:
    """Every event about the household: its own, and the lists and exports that showed it."""
    stmt = select(AuditEvent).where(
        or_(AuditEvent.household_id == household_id, AuditEvent.household_ids.contains([household_id]))
    )
    return sorted_by(stmt, sort, _EVENT_SORTS, AuditEvent.id)


async def access_log(
    session: AsyncSession, household_id: uuid.UUID, page: PageParams, sort: str = "-at"
) -> Slice[AuditEvent]:
    return await paginate(session, _household_events(household_id, sort), page)


async def whole_access_log(session: AsyncSession, household_id: uuid.UUID) -> Sequence[AuditEvent]:
    return (await session.execute(_household_events(household_id))).scalars().all()


@dataclass(frozen=True)
class AuditFilters:
    actor_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: uuid.UUID | None = None
    household_id: uuid.UUID | None = None
    since: datetime | None = None
    before: datetime | None = None

    def used(self) -> list[str]:
        """The names of the filters used (for the audit trail)."""
        return [name for name, value in vars(self).items() if value is not None]


def audit_events_stmt(filters: AuditFilters, sort: str = "-at") -> Select[AuditEvent]:
    stmt = select(AuditEvent)
    stmt = stmt.where(
        *equal_if_given(
            (AuditEvent.actor_id, filters.actor_id),
            (AuditEvent.actor_organisation_id, filters.organisation_id),
            (AuditEvent.action, filters.action),
            (AuditEvent.entity_type, filters.object_type),
            (AuditEvent.entity_id, filters.object_id),
        )
    )
    if filters.household_id is not None:
        hid = filters.household_id
        stmt = stmt.where(or_(AuditEvent.household_id == hid, AuditEvent.household_ids.contains([hid])))
    if filters.since is not None:
        stmt = stmt.where(AuditEvent.at >= filters.since)
    if filters.before is not None:
        stmt = stmt.where(AuditEvent.at < filters.before)
    return sorted_by(stmt, sort, _EVENT_SORTS, AuditEvent.id)


async def audit_events(
    session: AsyncSession, filters: AuditFilters, page: PageParams, sort: str = "-at"
) -> Slice[AuditEvent]:
    return await paginate(session, audit_events_stmt(filters, sort), page)


# --- retention -----------------------------------------------------------------------------------------------
def _counted_from() -> Any:
    """The last contact, or the creation date (Paris) when none was ever recorded."""
    return func.coalesce(Household.last_contact_date, cast(func.timezone("Europe/Paris", Household.created_at), Date))


def _due_on(months: int) -> Any:
    """The first day on which the last contact is more than `months` months old."""
    return cast(_counted_from() + literal_column(f"INTERVAL '{int(months)} months 1 day'"), Date)


def _due_columns(months: int) -> Select[Any]:
    return select(
        Household.id,
        Household.reference,
        Household.stage,
        _counted_from().label("last_contact_date"),
        _due_on(months).label("due_on"),
    ).where(Household.anonymised_at.is_(None))


async def due_list(
    session: AsyncSession, months: int, as_of: date, page: PageParams, sort: str = "due_on"
) -> Slice[Any]:
    """Files not anonymised whose due date is at most 30 days after `as_of`, in the `sort` order (soonest first)."""
    due_on = _due_on(months)
    columns = {"due_on": due_on, "reference": Household.reference}
    stmt = sorted_by(_due_columns(months).where(due_on <= as_of + DUE_HORIZON), sort, columns, Household.id)
    return await paginate(session, stmt, page, scalars=False)


def _automatic(months: int, as_of: date) -> Select[Any]:
    """Completed and withdrawn files past their retention period on `as_of`: anonymised automatically."""
    return _due_columns(months).where(Household.stage.in_(TERMINAL_STAGES), _due_on(months) <= as_of)


async def automatic_candidates(session: AsyncSession, months: int, as_of: date) -> Sequence[Any]:
    stmt = _automatic(months, as_of).order_by(_due_on(months), Household.id)
    rows: Sequence[Any] = (await session.execute(stmt)).all()
    return rows


async def lock_batch(session: AsyncSession, months: int, as_of: date, size: int) -> Sequence[Any]:
    """Up to `size` files due for automatic anonymisation, locked; files another transaction holds are skipped
    (a request changing them now: the next run takes them)."""
    stmt = _automatic(months, as_of).order_by(Household.id).limit(size).with_for_update(skip_locked=True, of=Household)
    rows: Sequence[Any] = (await session.execute(stmt)).all()
    return rows


async def try_advisory_lock(session: AsyncSession) -> bool:
    """The retention run's lock, held by this session's connection until `advisory_unlock` (or disconnection)."""
    return bool((await session.execute(select(func.pg_try_advisory_lock(ADVISORY_LOCK_KEY)))).scalar_one())


async def advisory_unlock(session: AsyncSession) -> None:
    await session.execute(select(func.pg_advisory_unlock(ADVISORY_LOCK_KEY)))


# --- anonymisation: one list of set-based statements over `:ids` -----------------------------------------------
_IDS = bindparam("ids", type_=ARRAY(Uuid()))

# Each member keeps its role, ROME codes and birth year. Its birth date becomes 1 January of its birth year when it
# was an adult on the household's reference date (the day it was retained, diagnostic → matching, else the day its
# file was created), 31 December otherwise: the year is kept, and the adult/child split on that date, computed from
# birth dates, stays exactly what it was (an adult born later in the year is older on 1 January; a child younger on
# 31 December). Adult is the reports' rule (born on or before the day 18 years earlier: see the summary in the
# reports migration), not `age(...) >= INTERVAL '18 years'`, which counts a month as 30 days and so takes someone
# aged 17 years 11 months 30 days for an adult. Names, profile details and schooling level go.
_RETAINED = f"t.from_stage = {sql_literal(Stage.DIAGNOSTIC)} AND t.to_stage = {sql_literal(Stage.MATCHING)}"
_MEMBERS = text(
    f"""
    WITH ref AS MATERIALIZED (  -- once per household, not once per member
        SELECT h.id,
               (coalesce(
                   (SELECT min(t.at) FROM stage_transitions t
                     WHERE t.household_id = h.id AND {_RETAINED}),
                   h.created_at) AT TIME ZONE 'Europe/Paris')::date AS on_day
          FROM households h
         WHERE h.id = ANY(:ids)
    )
    UPDATE household_members m
       SET first_name = '', last_name = '', first_name_folded = '', last_name_folded = '',
           birth_date = CASE WHEN m.birth_date <= (ref.on_day - INTERVAL '18 years')::date
                             THEN make_date(extract(year FROM m.birth_date)::int, 1, 1)
                             ELSE make_date(extract(year FROM m.birth_date)::int, 12, 31) END,
           years_of_experience = NULL, driving_licence = NULL, french_level = NULL, qualifications = NULL,
           right_to_work_expiry = NULL, schooling_level = NULL,
           version = m.version + 1, updated_at = now()
      FROM ref
     WHERE m.household_id = ref.id
    """  # noqa: S608 - constants only
).bindparams(_IDS)

_STATEMENTS = [
    # The household keeps its id, reference, organisation, stage, dates, withdrawal reason code and housing
    # situation category; its free text, consent scope and notes go.
    text(
        "UPDATE households SET needs_constraints = NULL, consent_scope = NULL, manager_notes = NULL,"
        " closure_note = NULL, anonymised_at = now(), version = version + 1, updated_at = now()"
        " WHERE id = ANY(:ids)"
    ).bindparams(_IDS),
    _MEMBERS,
    # Stage history: dates, stages and reason codes stay; notes go.
    text("UPDATE stage_transitions SET note = NULL WHERE household_id = ANY(:ids) AND note IS NOT NULL").bindparams(
        _IDS
    ),
    # Placements: status, contract type and dates stay; note and free-text reason go.
    text(
        "UPDATE placements SET note = NULL, reason = NULL, version = version + 1"
        " WHERE household_id = ANY(:ids) AND (note IS NOT NULL OR reason IS NOT NULL)"
    ).bindparams(_IDS),
    text(
        "UPDATE relay_stays SET outcome_note = NULL, version = version + 1"
        " WHERE household_id = ANY(:ids) AND outcome_note IS NOT NULL"
    ).bindparams(_IDS),
    text(
        "UPDATE housing_allocations SET override_reason = NULL, version = version + 1"
        " WHERE household_id = ANY(:ids) AND override_reason IS NOT NULL"
    ).bindparams(_IDS),
    # Follow-up entries keep their date and domain (the column is NOT NULL: an empty note).
    text("UPDATE follow_up_entries SET note = '' WHERE household_id = ANY(:ids) AND note <> ''").bindparams(_IDS),
    # Stored answers (Idempotency-Key) that embed the family's data: POST /households (`id`: names, birth dates)
    # and every POST under it, whose answer names its `household_id` (members: names and birth dates; transitions,
    # application steps, placements, relay stays, allocations, follow-up entries: notes).
    text(
        "DELETE FROM idempotency_keys WHERE response_body ->> 'id' = ANY(CAST(:ids AS text[]))"
        " OR response_body ->> 'household_id' = ANY(CAST(:ids AS text[]))"
    ).bindparams(_IDS),
    # The audit trail's own old events lose the household's reference: the trigger allows this one change of
    # `details`, in a transaction that set ANONYMISING_SETTING (core.audit.allow_anonymisation).
    text(
        "UPDATE audit_events SET details = details - 'reference'"
        " WHERE household_id = ANY(:ids) AND details ? 'reference'"
    ).bindparams(_IDS),
]

REPORT_REFRESH_DEFERRED = "toit_emploi.report_refresh_deferred"
"""The transaction-local setting that makes the reports' refresh triggers skip the statements above."""
# Of the reports' summary (report_households, report_stage_passes: see `report_refresh` in the reports migration)
# the statements above change one thing: the household is now anonymised. Its stage history keeps its dates,
# stages and reasons, its allocations their lease dates and statuses, and its members' new birth dates give the
# same adults and children on the day it was retained (the split is kept, see `_MEMBERS`; the summary keeps the
# counts as they were when the household was anonymised anyway). So the summary row is flagged, not recomputed
# (a third of a batch's work when it was). A household without a summary row (none is expected: the triggers keep
# one for every household) gets the full refresh. tests/privacy/test_report_figures.py rebuilds the summary from
# the anonymised rows and compares.
_FLAG_REPORTS = text("UPDATE report_households SET anonymised = true WHERE household_id = ANY(:ids)").bindparams(_IDS)
_REFRESH_REPORTS = text("SELECT report_refresh(CAST(:ids AS uuid[]))").bindparams(_IDS)

_AUDIT = text(
    """
    INSERT INTO audit_events (id, at, actor_kind, actor_id, actor_role, actor_organisation_id, action, entity_type,
                              entity_id, household_id, request_id, details)
    SELECT gen_random_uuid(), now(), :actor_kind, :actor_id, :actor_role, :actor_organisation_id, :action,
           'household', h, h, :request_id, CAST(:details AS jsonb)
      FROM unnest(:ids) AS h
    """
).bindparams(_IDS, bindparam("actor_id", type_=Uuid()), bindparam("actor_organisation_id", type_=Uuid()))


async def anonymise(
    session: AsyncSession,
    ids: Sequence[uuid.UUID],
    *,
    actor: dict[str, Any],
    request_id: str | None,
    details_json: str,
) -> None:
    """Anonymise the (locked) households `ids` in the session's transaction, and record one audit event each."""
    if not ids:
        return
    params = {"ids": list(ids)}
    await allow_anonymisation(session)
    # The reports' summary (report_households, kept by statement triggers) is not recomputed by the triggers of
    # each statement (migration 20261202_privacy_refresh) but flagged once, after them (`_FLAG_REPORTS`).
    await session.execute(text(f"SELECT set_config('{REPORT_REFRESH_DEFERRED}', 'on', true)"))
    for statement in _STATEMENTS:
        await session.execute(statement, params)
    await session.execute(text(f"SELECT set_config('{REPORT_REFRESH_DEFERRED}', 'off', true)"))
    flagged = await session.execute(_FLAG_REPORTS, params)
    if flagged.rowcount != len(params["ids"]):  # type: ignore[attr-defined]
        await session.execute(_REFRESH_REPORTS, params)
    await session.execute(
        _AUDIT,
        {
            **params,
            **actor,
            "action": str(AuditAction.HOUSEHOLD_ANONYMISE),
            "request_id": request_id,
            "details": details_json,
        },
    )


# --- the access export ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Records:
    transitions: Sequence[StageTransition]
    placements: Sequence[Placement]
    relay_stays: Sequence[RelayStay]
    allocations: Sequence[HousingAllocation]
    follow_up_entries: Sequence[FollowUpEntry]


async def records_of(session: AsyncSession, household_id: uuid.UUID) -> Records:
    """Every pipeline record of the household: one query per table."""

    async def rows(model: Any, *order: Any) -> Sequence[Any]:
        stmt = select(model).where(model.household_id == household_id).order_by(*order)
        return (await session.execute(stmt)).scalars().all()

    return Records(
        transitions=await rows(StageTransition, StageTransition.at, StageTransition.id),
        placements=await rows(Placement, Placement.created_at, Placement.id),
        relay_stays=await rows(RelayStay, RelayStay.start_date, RelayStay.id),
        allocations=await rows(HousingAllocation, HousingAllocation.created_at, HousingAllocation.id),
        follow_up_entries=await rows(FollowUpEntry, FollowUpEntry.entry_date, FollowUpEntry.created_at),
    )
