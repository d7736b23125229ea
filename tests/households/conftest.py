"""Helpers for the households tests: bodies, dates relative to today, and a household factory."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import Actor
from toit_emploi_api.core.clock import today

BASE = "/api/v1/households"


def years_ago(years: int, days: int = 0) -> str:
    t = today()
    try:
        d = t.replace(year=t.year - years)
    except ValueError:  # 29 February
        d = t.replace(year=t.year - years, day=28)
    return date.fromordinal(d.toordinal() - days).isoformat()


def adult(first: str = "Benoît", last: str = "Traoré", **extra: Any) -> dict[str, Any]:
    return {
        "first_name": first,
        "last_name": last,
        "birth_date": years_ago(35),
        "role": "head",
        "rome_codes": ["F1703"],
        **extra,
    }


def child(first: str = "Aïcha", last: str = "Traoré", age: int = 8, **extra: Any) -> dict[str, Any]:
    return {
        "first_name": first,
        "last_name": last,
        "birth_date": years_ago(age),
        "role": "child",
        "schooling_level": "elementaire",
        **extra,
    }


def family_body(**extra: Any) -> dict[str, Any]:
    """Two adults and three children."""
    return {
        "housing_situation": "hotel_115",
        "needs_constraints": "Ground floor preferred.",
        "consent_date": today().isoformat(),
        "consent_scope": "Diagnostic file shared with Aurore for the programme.",
        "members": [
            adult(),
            adult("Mariam", "Traoré", role="partner", rome_codes=["K1304"], french_level="a2"),
            child(),
            child("Moussa", age=5),
            child("Fanta", age=1, schooling_level="creche"),
        ],
        **extra,
    }


async def create_household(client: AsyncClient, actor: Actor, **extra: Any) -> dict[str, Any]:
    body = {"housing_situation": "shelter", "members": [adult()], **extra}
    r = await client.post(BASE, json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def set_stage(maker: async_sessionmaker[AsyncSession], household_id: str | uuid.UUID, stage: str) -> None:
    """What the pipeline does: move a household to another stage (straight in the database)."""
    async with maker() as session:
        await session.execute(
            text("UPDATE households SET stage = :s, stage_entered_at = now(), version = version + 1 WHERE id = :i"),
            {"s": stage, "i": uuid.UUID(str(household_id))},
        )
        await session.commit()


@pytest.fixture
def maker(sessionmaker: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    return sessionmaker


async def insert_household(
    maker: async_sessionmaker[AsyncSession],
    organisation_id: uuid.UUID,
    *,
    created_by: uuid.UUID | None = None,
    stage: str = "diagnostic",
    members: int = 1,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Arrange a household straight in the database (any organisation, any stage), with adult members."""
    household_id = uuid.uuid4()
    member_ids = [uuid.uuid4() for _ in range(members)]
    async with maker() as session:
        number = (await session.execute(text("SELECT nextval('household_reference_seq')"))).scalar_one()
        await session.execute(
            text(
                "INSERT INTO households (id, reference, referring_organisation_id, created_by_organisation_id,"
                " housing_situation, stage, manager_notes, closure_note, version)"
                " VALUES (:i, :r, :o, :c, 'shelter', :s, 'secret manager note', 'secret closure note', 1)"
            ),
            {
                "i": household_id,
                "r": f"TE-2026-{number:04d}",
                "o": organisation_id,
                "c": created_by or organisation_id,
                "s": stage,
            },
        )
        for index, member_id in enumerate(member_ids):
            await session.execute(
                text(
                    "INSERT INTO household_members (id, household_id, first_name, last_name, first_name_folded,"
                    " last_name_folded, birth_date, role, version)"
                    " VALUES (:i, :h, :f, 'Martin', :f, 'martin', '1980-01-01', 'head', 1)"
                ),
                {"i": member_id, "h": household_id, "f": f"adult{index}"},
            )
        await session.commit()
    return household_id, member_ids
