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
from toit_emploi_api.households.clock import today

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
