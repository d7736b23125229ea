"""Privacy test helpers: old files, the statistics that must survive anonymisation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Factory, HouseholdRef
from toit_emploi_api.core.clock import today, years_later
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import MemberRole

SECRET_NOTE = "Note confidentielle Zorglub"
SECRET_LAST_NAME = "Quetzalcoatl"


@dataclass
class OldFile:
    ref: HouseholdRef
    teen: uuid.UUID  # 17 on the day the household was retained, 18 a few months later


async def old_file(
    arrange: Factory, *, stage: Stage = Stage.WITHDRAWN, years_ago: int = 3, last_name: str = SECRET_LAST_NAME
) -> OldFile:
    """A household retained `years_ago` years ago (with a note on the move), then in `stage`, last contacted then."""
    retained = years_later(today(), -years_ago)
    ref = await arrange.household(stage=stage, manager_notes=SECRET_NOTE, last_name=last_name, adults=2, children=1)
    # 17 on the retained day, adult at the end of that year: truncating the birth date to 1 January would flip it.
    teen_birth = date(retained.year - 18, 12, 31)
    teen = await arrange.member(ref.id, MemberRole.CHILD, teen_birth)
    at = datetime(retained.year, retained.month, retained.day, 10, tzinfo=UTC)
    await arrange.transition(ref.id, Stage.DIAGNOSTIC, Stage.MATCHING, at, note=SECRET_NOTE)
    if stage is Stage.WITHDRAWN:
        await arrange.transition(
            ref.id, Stage.MATCHING, Stage.WITHDRAWN, at, reason="household_declined", note=SECRET_NOTE
        )
    await arrange.set_household(ref.id, last_contact_date=retained, needs_constraints=SECRET_NOTE)
    return OldFile(ref, teen)


FIGURES_SQL = text(
    """
    WITH retained AS (
        SELECT household_id, min(at) AS at FROM stage_transitions
         WHERE from_stage = 'diagnostic' AND to_stage = 'matching' GROUP BY household_id
    )
    SELECT h.stage::text AS stage,
           count(DISTINCT h.id) AS households,
           count(m.id) FILTER (WHERE m.birth_date <= ((r.at AT TIME ZONE 'Europe/Paris')::date - INTERVAL '18 years'))
               AS adults_at_retention,
           count(m.id) FILTER (WHERE m.birth_date > ((r.at AT TIME ZONE 'Europe/Paris')::date - INTERVAL '18 years'))
               AS children_at_retention,
           count(m.id) FILTER (WHERE m.role = 'child') AS children_by_role,
           array_agg(extract(year FROM m.birth_date)::int ORDER BY m.id) AS birth_years,
           array_agg(array_to_string(m.rome_codes, ',') ORDER BY m.id) AS rome_codes
      FROM households h
      JOIN retained r ON r.household_id = h.id
      LEFT JOIN household_members m ON m.household_id = h.id
     GROUP BY h.stage ORDER BY h.stage::text
    """
)
STAGES_SQL = text(
    "SELECT from_stage::text, to_stage::text, reason, (at AT TIME ZONE 'Europe/Paris')::date, count(*)"
    " FROM stage_transitions GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
)


async def figures(db: AsyncSession) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """What the funders' figures are made of: households per stage among the retained, adults and children on the
    day each was retained (from birth dates) and by role, birth years, ROME codes, the stage moves with reasons."""
    db.expire_all()
    by_stage = [tuple(r) for r in (await db.execute(FIGURES_SQL)).all()]
    moves = [tuple(r) for r in (await db.execute(STAGES_SQL)).all()]
    await db.commit()
    return by_stage, moves
