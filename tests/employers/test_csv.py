"""Job openings and housing units as CSV: the caller's view, French headers, the list's filters."""

from __future__ import annotations

import csv
import io

from httpx import AsyncClient

from tests.factories import Actor, Factory
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.statuses import UnitStatus

CSV = {"Accept": "text/csv"}


def _rows(body: bytes) -> list[dict[str, str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode().removeprefix("\ufeff")), delimiter=";"))


async def test_job_openings_csv_follows_the_callers_view(
    client: AsyncClient, arrange: Factory, actors: Factory, service_manager: Actor
) -> None:
    opening = await arrange.opening(positions=2)
    partner = await actors.user(Role.PARTNER_WORKER)
    r = await client.get("/api/v1/job-openings", headers={**service_manager.headers, **CSV})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    (row,) = _rows(r.content)
    assert (row["Identifiant"], row["Code ROME"], row["Postes ouverts"]) == (str(opening), "F1703", "2")
    assert row["Raison sociale"] == "Aurore"
    assert "Contact" in row
    (row,) = _rows((await client.get("/api/v1/job-openings", headers={**partner.headers, **CSV})).content)
    assert "Contact" not in row
    assert "Embauches" not in row
    r = await client.get("/api/v1/job-openings", params={"rome_code": "G16"}, headers={**partner.headers, **CSV})
    assert _rows(r.content) == []


async def test_housing_units_csv_follows_the_callers_view(
    client: AsyncClient, arrange: Factory, actors: Factory, service_manager: Actor
) -> None:
    vacant = await arrange.unit(rooms=3)
    await arrange.unit(rooms=5, status=UnitStatus.LET)
    referent = await actors.user(Role.PARIS_REFERENT)
    rows = _rows((await client.get("/api/v1/housing-units", headers={**service_manager.headers, **CSV})).content)
    assert len(rows) == 2
    assert {"Référence du bailleur", "Pièces (NBPIECE)", "Loyer principal € (LOYERPRINC)"} <= set(rows[0])
    rows = _rows((await client.get("/api/v1/housing-units", headers={**referent.headers, **CSV})).content)
    assert [r["Identifiant"] for r in rows] == [str(vacant)]
    assert "Référence du bailleur" not in rows[0]
    assert rows[0]["Loyer principal € (LOYERPRINC)"] == "420.00"
    r = await client.get("/api/v1/housing-units", params={"min_rooms": 4}, headers={**service_manager.headers, **CSV})
    assert len(_rows(r.content)) == 1
