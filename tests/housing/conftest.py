"""Fixtures and helpers for the housing tests: landlords, units, and sync payloads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Actor, Factory
from toit_emploi_api.vocab.roles import OrganisationKind, Role

SYNC_URL = "/api/v1/housing-units/sync"
UNITS_URL = "/api/v1/housing-units"
CSV_HEADER = (
    "REFLOG,DEPCOM,CODEPOSTAL,NUMVOIE,TYPVOIE,NOMVOIE,ETAGE,NBPIECE,SURFHAB,LOYERPRINC,CHARGES,DPEENERGIE,"
    "CONSTRUCT,DISPONIBLE,RELAIS"
)


def unit(ref: str, **overrides: Any) -> dict[str, Any]:
    """A valid JSON sync unit in Aurillac."""
    base: dict[str, Any] = {
        "landlord_reference": ref,
        "commune_insee": "15014",
        "postcode": "15000",
        "street_number": "12",
        "street_type": "RUE",
        "street_name": "des Carmes",
        "floor": 2,
        "rooms": 3,
        "living_area_m2": "64.50",
        "rent": "412.30",
        "charges": "85.00",
        "dpe_class": "D",
        "construction_year": 1974,
        "available_from": "2026-12-01",
        "is_relay": False,
    }
    base.update(overrides)
    return base


def csv_line(ref: str, *, rent: str = "412.30", rooms: str = "3", depcom: str = "15014", dpe: str = "D") -> str:
    return f"{ref},{depcom},15000,12,RUE,des Carmes,2,{rooms},64.50,{rent},85.00,{dpe},1974,2026-12-01,0"


@dataclass(frozen=True)
class Landlord:
    organisation_id: uuid.UUID
    actor: Actor

    @property
    def headers(self) -> dict[str, str]:
        return self.actor.headers


@pytest.fixture
async def polygone(actors: Factory) -> Landlord:
    org = await actors.organisation(OrganisationKind.LANDLORD, "Polygone")
    return Landlord(org, await actors.user(Role.LANDLORD, org))


@pytest.fixture
async def other_landlord(actors: Factory) -> Landlord:
    org = await actors.organisation(OrganisationKind.LANDLORD, "Logisens")
    return Landlord(org, await actors.user(Role.LANDLORD, org))


async def sync_json(
    client: AsyncClient, who: Landlord | Actor, units: list[dict[str, Any]], mode: str = "snapshot", **params: Any
) -> Response:
    return await client.post(SYNC_URL, json={"mode": mode, "units": units}, headers=who.headers, params=params)


async def sync_csv(client: AsyncClient, who: Landlord | Actor, body: str, **params: Any) -> Response:
    headers = {**who.headers, "Content-Type": "text/csv"}
    return await client.post(SYNC_URL, content=body.encode(), headers=headers, params=params)


async def snapshot_rows(maker: async_sessionmaker[AsyncSession], org: uuid.UUID) -> dict[str, dict[str, Any]]:
    """Every unit of a landlord with its bookkeeping columns, by reference."""
    async with maker() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT landlord_reference, status::text AS status, version, updated_at, last_synced_at,"
                    " rent, rooms, xmin::text AS xmin FROM housing_units WHERE landlord_organisation_id = :o"
                ),
                {"o": org},
            )
        ).mappings()
        return {r["landlord_reference"]: dict(r) for r in rows}


def money(value: str) -> Decimal:
    return Decimal(value)
