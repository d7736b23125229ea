"""Follow-up entries: the global support given while the household is in follow_up."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core.clock import PROGRAMME_START, today
from toit_emploi_api.households.models import Household
from toit_emploi_api.pipeline import records, repository
from toit_emploi_api.pipeline.checks import check_dates, require_stage
from toit_emploi_api.pipeline.models import FollowUpEntry
from toit_emploi_api.pipeline.records import saved
from toit_emploi_api.pipeline.schemas import FollowUpEntryCreate
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.stages import Stage


async def create(
    session: AsyncSession, principal: Principal, household: Household, body: FollowUpEntryCreate
) -> FollowUpEntry:
    """Write an entry for the (locked) household, authored by the caller."""
    check_dates(("entry_date", body.entry_date, PROGRAMME_START, today()))
    require_stage(household, (Stage.FOLLOW_UP,), "Follow-up entries can be written")
    entry = FollowUpEntry(
        household_id=household.id,
        entry_date=body.entry_date,
        domain=body.domain,
        note=body.note,
        author_kind=principal.kind,
        author_id=principal.id,
        author_role=principal.role.value,
    )
    session.add(entry)
    details = {"domain": body.domain.value}
    return await saved(session, principal, AuditAction.FOLLOW_UP_ENTRY_CREATE, entry, household.id, details)


list_for = records.household_list(AuditAction.FOLLOW_UP_ENTRY_LIST, repository.list_follow_up)
"""One page of the household's follow-up entries; the read is recorded with the ids shown."""
