"""All SQL of the households domain."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    delete,
    exists,
    false,
    func,
    not_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY as PG_ARRAY
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from toit_emploi_api.accounts.models import Organisation
from toit_emploi_api.core.clock import PROGRAMME_TZ as PARIS
from toit_emploi_api.core.resources import PageParams, Slice, paginate
from toit_emploi_api.households.models import Household, Member, household_reference_seq
from toit_emploi_api.households.schemas import HouseholdFilters, HouseholdSort
from toit_emploi_api.vocab.stages import ACTIVE_STAGES
from toit_emploi_api.vocab.statuses import MemberRole


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=PARIS)


def _conditions(filters: HouseholdFilters, scope_organisation_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if scope_organisation_id is not None:
        conds.append(Household.referring_organisation_id == scope_organisation_id)
    if filters.stages:
        conds.append(Household.stage.in_(filters.stages))
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
        conds.append(Household.created_at >= _paris_midnight(filters.created_since))
    if filters.created_before is not None:
        conds.append(Household.created_at < _paris_midnight(filters.created_before))
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


async def possible_duplicates(session: AsyncSession, page: PageParams) -> tuple[list[dict[str, Any]], int]:
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
        .order_by(func.greatest(h1.created_at, h2.created_at).desc(), h1.reference, h2.reference)
        .limit(page.limit)
        .offset(page.offset)
    )
    rows = (await session.execute(stmt)).all()
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
