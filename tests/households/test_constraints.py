"""The database refuses what the API refuses, even when written around it (defence in depth)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Factory
from tests.households.conftest import insert_household
from toit_emploi_api.vocab.roles import OrganisationKind


@pytest.mark.parametrize(
    ("assignment", "constraint"),
    [
        ("role = 'child', rome_codes = '{F1703}'", "ck_household_members_profile_adults_only"),
        ("role = 'child', french_level = 'b1'", "ck_household_members_profile_adults_only"),
        ("schooling_level = 'college'", "ck_household_members_schooling_children_only"),
        (
            "rome_codes = '{A0001,A0002,A0003,A0004,A0005,A0006,A0007,A0008,A0009,A0010,A0011}'",
            "ck_household_members_rome_codes_max",
        ),
    ],
)
async def test_member_check_constraints(
    actors: Factory, sessionmaker: async_sessionmaker[AsyncSession], assignment: str, constraint: str
) -> None:
    org = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    _, (member_id,) = await insert_household(actors, org)
    async with sessionmaker() as session:
        with pytest.raises(IntegrityError) as caught:
            await session.execute(
                text(f"UPDATE household_members SET {assignment} WHERE id = :i"),
                {"i": member_id},
            )
        assert constraint in str(caught.value)
