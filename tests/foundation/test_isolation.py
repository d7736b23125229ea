"""The clean-up between tests (tests/conftest.py `truncate_all`) empties every table but the reference data and
restarts the tables' own sequences, as TRUNCATE ... RESTART IDENTITY did."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import PRESERVED_TABLES, truncate_all
from tests.factories import Factory
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import Stage

OWNED_SEQUENCES = text(
    "SELECT DISTINCT s.oid::regclass::text FROM pg_class s"
    " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')"
    " WHERE s.relkind = 'S'"
)


async def _counts(maker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with maker() as session:
        names = (await session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars()
        return {n: int((await session.execute(text(f'SELECT count(*) FROM "{n}"'))).scalar_one()) for n in names}


async def test_clean_up_empties_every_table_but_the_reference_data(
    factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    admin = await factory.user(Role.ADMIN)
    household = await factory.household(stage=Stage.MATCHING)
    unit = await factory.unit(relay=True)
    await factory.allocation(household.id, unit)
    await factory.api_client()
    async with sessionmaker() as session:  # an append-only table (its trigger refuses DELETE) gets a row too
        await session.execute(
            text(
                "INSERT INTO audit_events (id, at, actor_kind, actor_id, action, entity_type, entity_id)"
                " VALUES (gen_random_uuid(), now(), 'user', :a, 'test', 'household', :h)"
            ),
            {"a": admin.id, "h": household.id},
        )
        sequences = list((await session.execute(OWNED_SEQUENCES)).scalars())
        for sequence in sequences:
            await session.execute(text("SELECT nextval(:s)"), {"s": sequence})
        await session.commit()
    before = await _counts(sessionmaker)
    assert {"users", "households", "household_members", "housing_allocations", "audit_events"} <= {
        n for n, c in before.items() if c
    }

    await truncate_all(sessionmaker)

    after = await _counts(sessionmaker)
    assert {n: c for n, c in after.items() if c and n not in PRESERVED_TABLES} == {}
    assert after["rome_codes"] == before["rome_codes"] > 0
    assert after["communes"] == before["communes"] > 0
    assert after["commune_distances"] == before["commune_distances"] > 0
    assert sequences
    async with sessionmaker() as session:
        for sequence in sequences:
            assert (await session.execute(text(f"SELECT is_called FROM {sequence}"))).scalar_one() is False


async def test_clean_up_of_a_volume_test_empties_its_tables_too(
    factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await factory.household()
    await factory.many_households(1_500)  # over 1,000 rows: these tables are truncated, the others deleted
    before = await _counts(sessionmaker)
    assert before["households"] > 1_000
    assert before["household_members"] > 1_000

    await truncate_all(sessionmaker)

    after = await _counts(sessionmaker)
    assert {n: c for n, c in after.items() if c and n not in PRESERVED_TABLES} == {}
    assert after["communes"] == before["communes"] > 0
