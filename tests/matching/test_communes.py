"""The communes reference: the table the migration loaded equals the shipped file; GET /api/v1/communes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory
from toit_emploi_api.reference.communes import DISTANCE_TABLE_KM, distance_km_sql, load_communes
from toit_emploi_api.reference.models import Commune
from toit_emploi_api.reference.text import fold
from toit_emploi_api.vocab.roles import Role

URL = "/api/v1/communes"


async def names(client: AsyncClient, actor: Actor, **params: Any) -> list[str]:
    r = await client.get(URL, params=params, headers=actor.headers)
    assert r.status_code == 200, r.text
    return [i["name"] for i in r.json()["items"]]


async def test_the_table_equals_the_shipped_file(db: AsyncSession) -> None:
    rows = {c.insee_code: c for c in (await db.execute(select(Commune))).scalars()}
    shipped = load_communes()
    assert len(shipped) == len(rows) == 1996
    for commune in shipped:
        row = rows[commune.insee_code]
        assert (row.department, row.name, tuple(row.postcodes), row.population) == (
            commune.department,
            commune.name,
            commune.postcodes,
            commune.population,
        )
        assert row.name_folded == fold(commune.name)
        assert Decimal(str(row.latitude)) == commune.latitude
        assert Decimal(str(row.longitude)) == commune.longitude


async def test_the_distances_table_equals_the_computation(db: AsyncSession) -> None:
    """`commune_distances` (filled by its migration) holds, for every commune, exactly the communes at most
    DISTANCE_TABLE_KM away with the application's haversine distance in tenths of a km; both directions agree."""
    km10 = f"round(10 * {distance_km_sql('a.latitude', 'a.longitude', 'b.latitude', 'b.longitude', rounded=False)})"
    # Aurillac, the first 50 communes and every 40th against all the others, without the migration's bounding box.
    computed = f"""SELECT a.insee_code, b.insee_code, {km10}::int FROM
        (SELECT * FROM communes ORDER BY insee_code OFFSET 0) a CROSS JOIN communes b
        WHERE a.insee_code = '15014' OR a.insee_code IN (SELECT insee_code FROM communes ORDER BY insee_code LIMIT 50)
           OR a.insee_code IN (SELECT insee_code FROM (SELECT insee_code, row_number() OVER (ORDER BY insee_code) AS n
                                FROM communes) c WHERE n % 40 = 0)"""
    expected = {tuple(row) for row in await db.execute(text(computed)) if row[2] <= DISTANCE_TABLE_KM * 10}
    sampled = {row[0] for row in expected}
    assert len(sampled) == 50 + 1996 // 40  # the 40th is among the first 50; Aurillac
    table = {
        tuple(row)
        for row in await db.execute(
            text("SELECT from_insee, to_insee, km10 FROM commune_distances WHERE from_insee = ANY(:codes)"),
            {"codes": sorted(sampled)},
        )
    }
    assert table == expected
    assert ("15014", "15014", 0) in table  # Aurillac with itself
    assert len(table) > len(sampled) * 50  # the Cantal's communes have dozens of neighbours within 30 km
    asymmetric = await db.scalar(
        text(
            "SELECT count(*) FROM commune_distances d LEFT JOIN commune_distances r"
            " ON r.from_insee = d.to_insee AND r.to_insee = d.from_insee WHERE r.km10 IS DISTINCT FROM d.km10"
        )
    )
    assert asymmetric == 0


async def test_search_and_read(client: AsyncClient, service_manager: Actor) -> None:
    assert (await names(client, service_manager, q="aurillac"))[0] == "Aurillac"
    assert "Saint-Flour" in await names(client, service_manager, q="saint flour")
    postcode = await names(client, service_manager, q="15000", department="15")
    assert postcode[0] == "Aurillac"
    assert "Ytrac" in postcode  # 15000 is shared
    r = await client.get(URL, params={"department": "15", "limit": 1}, headers=service_manager.headers)
    assert r.json()["total"] == sum(1 for c in load_communes() if c.department == "15")
    assert r.json()["items"][0]["name"] == "Aurillac"  # the most populous first
    assert await names(client, service_manager, department="75") == []
    r = await client.get(f"{URL}/15014", headers=service_manager.headers)
    assert r.status_code == 200
    assert r.json() == {
        "insee_code": "15014",
        "department": "15",
        "name": "Aurillac",
        "postcodes": ["15000"],
        "latitude": "44.92806",
        "longitude": "2.44159",
        "population": 25815,
    }
    assert (await client.get(f"{URL}/75056", headers=service_manager.headers)).status_code == 404


@pytest.mark.parametrize(
    ("path", "params"),
    [("/1501", {}), ("/ABCDE", {}), ("", {"department": "cantal"}), ("", {"q": ""}), ("", {"q": "x" * 101})],
)
async def test_bad_values_are_422(
    client: AsyncClient, service_manager: Actor, path: str, params: dict[str, str]
) -> None:
    r = await client.get(URL + path, params=params, headers=service_manager.headers)
    assert r.status_code == 422, r.text


async def test_roles(client: AsyncClient, actors: Factory) -> None:
    for role in (Role.SERVICE_MANAGER, Role.PARIS_REFERENT, Role.PARTNER_WORKER, Role.LANDLORD, Role.ADMIN):
        assert (await client.get(URL, headers=(await actors.user(role)).headers)).status_code == 200
    funder = await actors.user(Role.FUNDER)
    assert (await client.get(URL, headers=funder.headers)).status_code == 403


async def test_employers_and_units_carry_the_commune_name(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    employer = await arrange.employer(commune_insee="15187")
    r = await client.get(f"/api/v1/employers/{employer}", headers=service_manager.headers)
    assert (r.json()["commune_insee"], r.json()["commune_name"]) == ("15187", "Saint-Flour")
    unknown = await arrange.employer(commune_insee="75056")  # outside the reference: no name
    r = await client.get(f"/api/v1/employers/{unknown}", headers=service_manager.headers)
    assert r.json()["commune_name"] is None
    unit = await arrange.unit()
    r = await client.get(f"/api/v1/housing-units/{unit}", headers=service_manager.headers)
    assert r.json()["commune_name"] == "Aurillac"
    opening = await arrange.opening(employer=employer)
    r = await client.get(f"/api/v1/job-openings/{opening}", headers=service_manager.headers)
    assert r.json()["employer"]["commune_name"] == "Saint-Flour"
