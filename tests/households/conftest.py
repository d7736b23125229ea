"""Helpers for the households tests: bodies, dates relative to today, and a household factory."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from httpx import AsyncClient

from tests.factories import Actor, Factory
from toit_emploi_api.core.clock import today
from toit_emploi_api.households.models import HousingSituation
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import MemberRole

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
    created: dict[str, Any] = r.json()
    return created


async def insert_household(
    factory: Factory,
    organisation_id: uuid.UUID,
    *,
    created_by: uuid.UUID | None = None,
    stage: str = "diagnostic",
    members: int = 1,
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Arrange a household straight in the database (any organisation, any stage), with adult members (all heads,
    named adult0, adult1, … Martin) and notes only staff may read."""
    ref = await factory.household(
        org=organisation_id,
        created_by=created_by,
        stage=Stage(stage),
        adults=members,
        children=0,
        rome=False,
        consent=False,
        housing_situation=HousingSituation.SHELTER,
        manager_notes="secret manager note",
        closure_note="secret closure note",
        adult_role=MemberRole.HEAD,
        adult_birth=date(1980, 1, 1),
        first_name="adult",
        last_name="Martin",
    )
    return ref.id, ref.adults
