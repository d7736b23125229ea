"""All SQL of the households domain."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from typing import cast as typing_cast

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    Table,
    and_,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    not_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY as PG_ARRAY
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from toit_emploi_api.accounts.models import Organisation
from toit_emploi_api.core.clock import paris_midnight
from toit_emploi_api.core.resources import PageParams, Slice, paginate, sorted_by
from toit_emploi_api.households.models import Household, Member, household_reference_seq
from toit_emploi_api.households.schemas import HouseholdFilters, HouseholdSort
from toit_emploi_api.vocab.stages import ACTIVE_STAGES
from toit_emploi_api.vocab.statuses import MemberRole


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(filters: HouseholdFilters, scope_organisation_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if scope_organisation_id is not None:
        conds.append(Household.referring_organisation_id == scope_organisation_id)
    if filters.stages:
        conds.append(Household.stage.in_(filters.stages))
    if filters.application_statuses:
        conds.append(Household.application_status.in_(filters.application_statuses))
    if filters.referring_organisation_id is not None:
        conds.append(Household.referring_organisation_id == filters.referring_organisation_id)
    if filters.has_children is not None:
        has_child = exists().where(Member.household_id == Household.id, Member.role == MemberRole.CHILD)
        conds.append(has_child if filters.has_children else not_(has_child))
    if filters.rome_code is not None:
        conds.append(
            exists().where(
                Member.household_id == Household.id,
                Member.role != MemberRole.CHILD,
                type_coerce(Member.rome_codes, PG_ARRAY(String())).contains([filters.rome_code]),  # @> (GIN index)
            )
        )
    if filters.created_since is not None:
        conds.append(Household.created_at >= paris_midnight(filters.created_since))
    if filters.created_before is not None:
        conds.append(Household.created_at < paris_midnight(filters.created_before))
    if filters.name_matches_nothing:
        conds.append(false())
    if filters.name_tokens:
        # Every token must appear in the same member's folded "first last" name.
        full_name = Member.first_name_folded + " " + Member.last_name_folded
        conds.append(
            exists().where(
                Member.household_id == Household.id,
                *[full_name.like(f"%{_like_escape(token)}%", escape="\\") for token in filters.name_tokens],
            )
        )
    return conds


_SORTS: dict[HouseholdSort, tuple[Any, ...]] = {
    HouseholdSort.CREATED_AT: (Household.created_at.asc(), Household.id.asc()),
    HouseholdSort.CREATED_AT_DESC: (Household.created_at.desc(), Household.id.desc()),
    HouseholdSort.REFERENCE: (Household.reference.asc(),),
    HouseholdSort.REFERENCE_DESC: (Household.reference.desc(),),
}


async def list_households(
    session: AsyncSession,
    filters: HouseholdFilters,
    sort: HouseholdSort,
    page: PageParams,
    *,
    scope_organisation_id: uuid.UUID | None,
) -> Slice[Household]:
    """One page with its members, and the total: three statements whatever the page size."""
    stmt = (
        select(Household)
        .where(*_conditions(filters, scope_organisation_id))
        .options(selectinload(Household.members))
        .order_by(*_SORTS[sort])
    )
    return await paginate(session, stmt, page)


# --- CSV export: one row per household, streamed (core.csv.stream_rows) --------------------------------------
CSV_STAFF_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "Identifiant"),
    ("reference", "Référence"),
    ("referring_organisation_id", "Organisation orientatrice"),
    ("stage", "Étape"),
    ("application_status", "Candidature"),
    ("stage_entered_at", "Entrée dans l'étape"),
    ("days_in_stage", "Jours dans l'étape"),
    ("housing_situation", "Situation de logement"),
    ("needs_constraints", "Besoins et contraintes"),
    ("consent_date", "Date du consentement"),
    ("consent_scope", "Portée du consentement"),
    ("last_contact_date", "Dernier contact"),
    ("closure_date", "Date de clôture"),
    ("withdrawal_reason", "Motif de sortie"),
    ("adult_count", "Adultes"),
    ("children_count", "Enfants"),
    ("created_at", "Créé le"),
    ("updated_at", "Mis à jour le"),
)
"""(column, French header) of the staff's export: the list item's facts, without members, notes or closure note."""

CSV_STATUS_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    column
    for column in CSV_STAFF_COLUMNS
    if column[0]
    in {
        "id",
        "reference",
        "referring_organisation_id",
        "stage",
        "stage_entered_at",
        "days_in_stage",
        "last_contact_date",
        "adult_count",
        "children_count",
        "created_at",
        "updated_at",
    }
)
"""A partner worker's export: the status view of its households (stage and dates only)."""


def csv_statement(
    filters: HouseholdFilters,
    sort: HouseholdSort,
    columns: tuple[tuple[str, str], ...],
    *,
    scope_organisation_id: uuid.UUID | None,
) -> Select[Any]:
    """The export's rows, in the list's order: the household's columns and its member counts (correlated counts, so
    that the rows stream without loading members)."""
    children = (
        select(func.count())
        .where(Member.household_id == Household.id, Member.role == MemberRole.CHILD)
        .correlate(Household)
        .scalar_subquery()
    )
    members = select(func.count()).where(Member.household_id == Household.id).correlate(Household).scalar_subquery()
    derived: dict[str, Any] = {
        "days_in_stage": func.greatest(
            0, func.floor(func.extract("epoch", func.now() - Household.stage_entered_at) / 86400)
        ).cast(Integer),
        "adult_count": members - children,
        "children_count": children,
    }
    selected = [derived[name] if name in derived else getattr(Household, name) for name, _ in columns]
    return select(*selected).where(*_conditions(filters, scope_organisation_id)).order_by(*_SORTS[sort])


def csv_audit_details(filters: HouseholdFilters, *, scope_organisation_id: uuid.UUID | None) -> ColumnElement[Any]:
    """The export's audit details, computed by PostgreSQL in the request's transaction (the ids of every household
    exported never go through Python): `{"format": "csv", "filters": [...], "household_ids": [...]}`."""
    ids = (
        select(func.coalesce(func.jsonb_agg(cast(Household.id, String)), literal([], JSONB)))
        .where(*_conditions(filters, scope_organisation_id))
        .scalar_subquery()
    )
    return literal({"format": "csv", "filters": filters.used()}, JSONB).op("||")(
        func.jsonb_build_object("household_ids", ids)
    )


async def get_household(
    session: AsyncSession,
    household_id: uuid.UUID,
    *,
    scope_organisation_id: uuid.UUID | None,
    for_update: bool = False,
    with_members: bool = True,
) -> Household | None:
    """The household (with its members), or None when missing or outside the caller's organisation."""
    stmt = select(Household).where(Household.id == household_id)
    if with_members:
        stmt = stmt.options(selectinload(Household.members))
    if scope_organisation_id is not None:
        stmt = stmt.where(Household.referring_organisation_id == scope_organisation_id)
    if for_update:
        stmt = stmt.with_for_update(of=Household).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_member(session: AsyncSession, household_id: uuid.UUID, member_id: uuid.UUID) -> Member | None:
    """The household's member with this id, read alone; None when the household has no such member."""
    stmt = select(Member).where(Member.id == member_id, Member.household_id == household_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def delete_household(session: AsyncSession, household_id: uuid.UUID) -> None:
    # Members go with it (ON DELETE CASCADE); audit events keep the household's id (no foreign key).
    await session.execute(delete(Household).where(Household.id == household_id))


async def touch_last_contact(session: AsyncSession, household_id: uuid.UUID, on: date) -> None:
    """`last_contact_date` = the later of itself and `on`, without a new version."""
    await session.execute(
        update(Household)
        .where(Household.id == household_id)
        .values(last_contact_date=func.greatest(func.coalesce(Household.last_contact_date, on), on))
        .execution_options(synchronize_session="fetch")
    )


async def next_reference_number(session: AsyncSession) -> int:
    return int((await session.execute(select(household_reference_seq.next_value()))).scalar_one())


async def organisation_kind(session: AsyncSession, organisation_id: uuid.UUID) -> tuple[str, bool] | None:
    """(kind, active) of an organisation, or None."""
    row = (
        await session.execute(select(Organisation.kind, Organisation.active).where(Organisation.id == organisation_id))
    ).one_or_none()
    return (str(row[0]), bool(row[1])) if row is not None else None


def _duplicate_pairs_from(m1: Any, m2: Any, h1: Any, h2: Any) -> Select[Any]:
    """FROM/WHERE shared by the duplicate queries: same folded names and birth date, both households active."""
    active = [s.value for s in ACTIVE_STAGES]
    return (
        select()
        .select_from(m1)
        .join(
            m2,
            and_(
                m1.last_name_folded == m2.last_name_folded,
                m1.first_name_folded == m2.first_name_folded,
                m1.birth_date == m2.birth_date,
                m1.household_id < m2.household_id,
            ),
        )
        .join(h1, h1.id == m1.household_id)
        .join(h2, h2.id == m2.household_id)
        .where(
            h1.stage.in_(active),
            h2.stage.in_(active),
            h1.anonymised_at.is_(None),
            h2.anonymised_at.is_(None),
        )
    )


async def possible_duplicates(
    session: AsyncSession, page: PageParams, sort: str = "-created_at"
) -> tuple[list[dict[str, Any]], int]:
    """Pairs of active households sharing a member with the same folded first and last name and birth date.

    One set-based statement (the total comes from a window function). Each pair appears once (first id < second id).
    """
    m1, m2 = aliased(Member), aliased(Member)
    h1, h2 = aliased(Household), aliased(Household)
    shared = func.json_agg(
        aggregate_order_by(
            func.json_build_object(
                "first_name",
                m1.first_name,
                "last_name",
                m1.last_name,
                "birth_date",
                m1.birth_date,
                "member_ids",
                func.json_build_array(m1.id, m2.id),
            ),
            m1.last_name_folded,
            m1.first_name_folded,
            m1.birth_date,
        )
    )
    household_columns = ("id", "reference", "referring_organisation_id", "stage", "created_at")
    stmt = (
        _duplicate_pairs_from(m1, m2, h1, h2)
        .add_columns(
            *[getattr(h1, c) for c in household_columns],
            *[getattr(h2, c) for c in household_columns],
            shared,
            func.count().over(),
        )
        .group_by(h1.id, h2.id)
    )
    newer = func.greatest(h1.created_at, h2.created_at)
    stmt = sorted_by(stmt, sort, {"created_at": newer}, h1.reference, h2.reference)
    rows = (await session.execute(stmt.limit(page.limit).offset(page.offset))).all()
    pairs = [
        {
            "first": dict(zip(household_columns, row[0:5], strict=True)),
            "second": dict(zip(household_columns, row[5:10], strict=True)),
            "shared_members": row[10],
        }
        for row in rows
    ]
    if rows:
        return pairs, int(rows[0][11])
    if page.offset == 0:
        return pairs, 0
    # A page past the end: the window count is unavailable, count the pairs.
    counted = _duplicate_pairs_from(m1, m2, h1, h2).add_columns(h1.id, h2.id).distinct().subquery()
    return pairs, int((await session.execute(select(func.count()).select_from(counted))).scalar_one())


# --- bulk creation (the CSV import of integration.imports_service) ----------------------------------------------
async def next_reference_numbers(session: AsyncSession, count: int) -> list[int]:
    """`count` numbers of the reference sequence, in one statement."""
    stmt = select(household_reference_seq.next_value()).select_from(func.generate_series(1, count))
    return [int(n) for n in (await session.execute(stmt)).scalars()]


async def insert_households(
    session: AsyncSession, households: list[dict[str, Any]], members: list[dict[str, Any]]
) -> None:
    """Insert the rows as given (ids, references, versions and timestamps set by the caller): one executemany each,
    sent in batches by the driver, never one statement per household."""
    # The tables, not the ORM entities: a plain executemany, without the ORM's per-row RETURNING.
    if households:
        await session.execute(insert(typing_cast(Table, Household.__table__)), households)
    if members:
        await session.execute(insert(typing_cast(Table, Member.__table__)), members)


async def identities_in_active_households(
    session: AsyncSession,
    identities: list[tuple[str, str, date]],
    *,
    scope_organisation_id: uuid.UUID | None,
) -> list[tuple[int, uuid.UUID, str]]:
    """(index in `identities`, household id, reference) of the active households (within the scope) having a member
    with that folded first name, folded last name and birth date: the possible-duplicate rule, in one statement."""
    if not identities:
        return []
    firsts, lasts, births = (list(column) for column in zip(*identities, strict=True))
    wanted = (
        func.unnest(
            type_coerce(firsts, PG_ARRAY(String)),
            type_coerce(lasts, PG_ARRAY(String)),
            type_coerce(births, PG_ARRAY(Date)),
        )
        .table_valued("first", "last", "birth", with_ordinality="i")
        .render_derived(name="wanted", with_types=False)
    )
    stmt = (
        select(wanted.c.i, Household.id, Household.reference)
        .select_from(wanted)
        .join(
            Member,
            and_(
                Member.first_name_folded == wanted.c.first,
                Member.last_name_folded == wanted.c.last,
                Member.birth_date == wanted.c.birth,
            ),
        )
        .join(Household, Household.id == Member.household_id)
        .where(Household.stage.in_([s.value for s in ACTIVE_STAGES]), Household.anonymised_at.is_(None))
        .distinct()
        .order_by(wanted.c.i, Household.reference)
    )
    if scope_organisation_id is not None:
        stmt = stmt.where(Household.referring_organisation_id == scope_organisation_id)
    return [(int(i) - 1, hid, ref) for i, hid, ref in (await session.execute(stmt)).all()]
