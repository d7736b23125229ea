"""Employers: validation (SIRET, INSEE, coordinates), uniqueness, ETags, deactivation, filters, audit."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.employers.conftest import create_employer, create_opening, employer_payload, if_match
from tests.factories import AURORE_SIRET, Actor
from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.employers.models import Employer

URL = "/api/v1/employers"


def _problem(r: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    if slug is not None:
        assert body["type"] == f"urn:toit-emploi:problem:{slug}"
    return body


def _fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors") or []}


async def test_create_read_and_etag(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.post(URL, json=employer_payload(siret="775 684 970 00244"), headers=service_manager.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["siret"] == AURORE_SIRET  # spaces removed
    assert created["commune_insee"] == "15014"
    assert created["active"] is True
    assert created["latitude"] == "44.926400"
    assert created["longitude"] == "2.444000"
    assert r.headers["location"] == f"{URL}/{created['id']}"
    assert r.headers["etag"] == '"1"'
    r = await client.get(f"{URL}/{created['id']}", headers=service_manager.headers)
    assert r.status_code == 200
    assert r.json() == created
    assert r.headers["etag"] == '"1"'


async def test_unknown_employer_is_404(client: AsyncClient, service_manager: Actor) -> None:
    _problem(await client.get(f"{URL}/{uuid.uuid4()}", headers=service_manager.headers), 404, "not-found")


# --- SIRET ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "siret",
    [
        "77568497000244",  # Aurore
        "775 684 970 00244",
        "35600000000001",  # La Poste establishment: digit sum 15, a multiple of 5 (and not Luhn-valid)
        "35600000000048",  # La Poste head office: Luhn-valid
    ],
)
async def test_valid_sirets(client: AsyncClient, service_manager: Actor, siret: str) -> None:
    created = await create_employer(client, service_manager, siret=siret)
    assert created["siret"] == siret.replace(" ", "")


@pytest.mark.parametrize(
    "siret",
    [
        "77568497000245",  # wrong checksum
        "77568497000243",
        "35600000000014",  # La Poste: digit sum 19, not a multiple of 5
        "7756849700024",  # 13 digits
        "775684970002440",  # 15 digits
        "7756849700024A",  # a letter
        "ABCDEFGHIJKLMN",
        "",
        "７７５６８４９７０００２４４",  # fullwidth digits are not ASCII digits
    ],
)
async def test_invalid_sirets_are_422(client: AsyncClient, service_manager: Actor, siret: str) -> None:
    r = await client.post(URL, json=employer_payload(siret=siret), headers=service_manager.headers)
    assert "siret" in _fields(_problem(r, 422, "validation-error"))


async def test_siret_is_unique(client: AsyncClient, service_manager: Actor) -> None:
    await create_employer(client, service_manager, siret=AURORE_SIRET)
    r = await client.post(URL, json=employer_payload(siret="775 684 970 00244"), headers=service_manager.headers)
    _problem(r, 409, "siret-taken")
    other = await create_employer(client, service_manager)
    r = await client.patch(
        f"{URL}/{other['id']}", json={"siret": AURORE_SIRET}, headers=if_match(service_manager, '"1"')
    )
    _problem(r, 409, "siret-taken")


async def test_concurrent_creations_with_one_siret(client: AsyncClient, service_manager: Actor) -> None:
    body = employer_payload(siret=AURORE_SIRET)
    responses = await asyncio.gather(*[client.post(URL, json=body, headers=service_manager.headers) for _ in range(4)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409]
    for r in responses:
        if r.status_code == 409:
            _problem(r, 409, "siret-taken")


# --- INSEE codes, postcode, coordinates ----------------------------------------------------------------------
@pytest.mark.parametrize(("given", "stored"), [("15014", "15014"), ("2A004", "2A004"), ("2b033", "2B033")])
async def test_valid_insee_codes(client: AsyncClient, service_manager: Actor, given: str, stored: str) -> None:
    created = await create_employer(client, service_manager, commune_insee=given)
    assert created["commune_insee"] == stored


@pytest.mark.parametrize("code", ["1501", "150140", "20004", "2C004", "00123", "15O14", "", None])
async def test_invalid_insee_codes_are_422(client: AsyncClient, service_manager: Actor, code: str | None) -> None:
    r = await client.post(URL, json=employer_payload(commune_insee=code), headers=service_manager.headers)
    assert "commune_insee" in _fields(_problem(r, 422))


async def test_insee_code_is_required(client: AsyncClient, service_manager: Actor) -> None:
    body = employer_payload()
    del body["commune_insee"]
    r = await client.post(URL, json=body, headers=service_manager.headers)
    assert "commune_insee" in _fields(_problem(r, 422))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", "90.5"),
        ("latitude", -91),
        ("longitude", "180.000001"),
        ("longitude", -181),
        ("latitude", "44.1234567"),  # more than 6 decimals
        ("postcode", "1500"),
        ("contact_email", "not-an-email"),
        ("contact_phone", "call me"),
    ],
)
async def test_out_of_range_values_are_422(client: AsyncClient, service_manager: Actor, field: str, value: Any) -> None:
    r = await client.post(URL, json=employer_payload(**{field: value}), headers=service_manager.headers)
    assert field in _fields(_problem(r, 422))


async def test_coordinates_bounds_and_pair(client: AsyncClient, service_manager: Actor) -> None:
    created = await create_employer(client, service_manager, latitude=-90, longitude="180")
    assert (created["latitude"], created["longitude"]) == ("-90.000000", "180.000000")
    r = await client.post(URL, json=employer_payload(latitude=None), headers=service_manager.headers)
    _problem(r, 422)
    created = await create_employer(client, service_manager, latitude=None, longitude=None)
    assert created["latitude"] is None
    r = await client.patch(
        f"{URL}/{created['id']}", json={"latitude": "45.0"}, headers=if_match(service_manager, '"1"')
    )
    _problem(r, 422)


@pytest.mark.parametrize(
    "body",
    [
        {"favourite_colour": "blue"},  # unknown field
        {"legal_name": "Menuiserie\x00"},  # NUL
        {"legal_name": "x" * 201},  # overlong
        {"legal_name": "   "},  # blank
        {"legal_name": "Deux\nlignes"},
        {"notes": "n" * 4001},
        {"sector": "s" * 101},
    ],
)
async def test_bad_bodies_are_422(client: AsyncClient, service_manager: Actor, body: dict[str, Any]) -> None:
    r = await client.post(URL, json=employer_payload(**body), headers=service_manager.headers)
    problem = _problem(r, 422, "validation-error")
    assert _fields(problem) == set(body)


# --- PATCH and ETags ------------------------------------------------------------------------------------------
async def test_patch_requires_a_current_if_match(client: AsyncClient, service_manager: Actor) -> None:
    created = await create_employer(client, service_manager)
    url = f"{URL}/{created['id']}"
    _problem(await client.patch(url, json={"sector": "Restauration"}, headers=service_manager.headers), 428)
    _problem(await client.patch(url, json={"sector": "Restauration"}, headers=if_match(service_manager, '"7"')), 412)
    r = await client.patch(
        url, json={"sector": "Restauration", "notes": None}, headers=if_match(service_manager, '"1"')
    )
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"'
    assert r.json()["sector"] == "Restauration"
    assert r.json()["notes"] is None
    assert r.json()["updated_at"] >= created["updated_at"]
    # The old ETag is now stale.
    _problem(await client.patch(url, json={"sector": "Bâtiment"}, headers=if_match(service_manager, '"1"')), 412)
    r = await client.get(url, headers=service_manager.headers)
    assert r.json()["sector"] == "Restauration"


async def test_patch_cannot_null_required_fields(client: AsyncClient, service_manager: Actor) -> None:
    created = await create_employer(client, service_manager)
    for field in ("siret", "legal_name", "commune_insee", "active"):
        r = await client.patch(f"{URL}/{created['id']}", json={field: None}, headers=if_match(service_manager, '"1"'))
        _problem(r, 422)


async def test_patch_unknown_employer_is_404(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.patch(f"{URL}/{uuid.uuid4()}", json={"sector": "x"}, headers=if_match(service_manager, '"1"'))
    _problem(r, 404)


# --- deactivation ---------------------------------------------------------------------------------------------
async def test_employer_with_open_openings_cannot_be_deactivated(client: AsyncClient, service_manager: Actor) -> None:
    employer = await create_employer(client, service_manager)
    first = await create_opening(client, service_manager, employer["id"], title="Maçon")
    second = await create_opening(client, service_manager, employer["id"], title="Plombier", rome_code="F1603")
    url = f"{URL}/{employer['id']}"
    r = await client.patch(url, json={"active": False}, headers=if_match(service_manager, '"1"'))
    problem = _problem(r, 409, "employer-has-open-job-openings")
    assert problem["open_job_openings"] == [
        {"id": first["id"], "title": "Maçon"},
        {"id": second["id"], "title": "Plombier"},
    ]
    # Close one: only the other is listed.
    r = await client.patch(
        f"/api/v1/job-openings/{first['id']}", json={"status": "closed"}, headers=if_match(service_manager, '"1"')
    )
    assert r.status_code == 200, r.text
    r = await client.patch(url, json={"active": False}, headers=if_match(service_manager, '"1"'))
    assert _problem(r, 409)["open_job_openings"] == [{"id": second["id"], "title": "Plombier"}]
    r = await client.patch(
        f"/api/v1/job-openings/{second['id']}", json={"status": "closed"}, headers=if_match(service_manager, '"1"')
    )
    assert r.status_code == 200, r.text
    r = await client.patch(url, json={"active": False}, headers=if_match(service_manager, '"1"'))
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    # A deactivated employer gets no new opening, and its closed ones cannot be reopened.
    r = await client.post(
        f"{url}/job-openings",
        json={"rome_code": "F1703", "title": "Maçon", "contract_type": "cdd"},
        headers=service_manager.headers,
    )
    _problem(r, 409, "employer-inactive")
    r = await client.patch(
        f"/api/v1/job-openings/{first['id']}", json={"status": "open"}, headers=if_match(service_manager, '"2"')
    )
    _problem(r, 409, "employer-inactive")
    # Reactivation.
    r = await client.patch(url, json={"active": True}, headers=if_match(service_manager, '"2"'))
    assert r.status_code == 200
    assert r.json()["active"] is True


async def test_deactivation_racing_an_opening_creation(client: AsyncClient, service_manager: Actor) -> None:
    """Whatever the order, an inactive employer never ends up with an open job opening."""
    for _ in range(5):
        employer = await create_employer(client, service_manager)
        url = f"{URL}/{employer['id']}"
        deactivate, create = await asyncio.gather(
            client.patch(url, json={"active": False}, headers=if_match(service_manager, '"1"')),
            client.post(
                f"{url}/job-openings",
                json={"rome_code": "F1703", "title": "Maçon", "contract_type": "cdi"},
                headers=service_manager.headers,
            ),
        )
        assert {deactivate.status_code, create.status_code} in ({200, 409}, {409, 201}), (
            deactivate.text,
            create.text,
        )
        final = (await client.get(url, headers=service_manager.headers)).json()
        openings = (await client.get(f"{url}/job-openings", headers=service_manager.headers)).json()
        assert not (final["active"] is False and openings["total"] > 0)


# --- lists ------------------------------------------------------------------------------------------------------
async def test_list_and_filters(client: AsyncClient, service_manager: Actor) -> None:
    a = await create_employer(client, service_manager, legal_name="Boulangerie Alpha", sector="Restauration")
    b = await create_employer(client, service_manager, legal_name="Charpente Bravo", sector="Bâtiment")
    c = await create_employer(
        client, service_manager, legal_name="Ajaccio Services", sector="BATIMENT", commune_insee="2A004"
    )
    r = await client.patch(f"{URL}/{a['id']}", json={"active": False}, headers=if_match(service_manager, '"1"'))
    assert r.status_code == 200

    async def names(**params: Any) -> list[str]:
        r = await client.get(URL, params=params, headers=service_manager.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == len(body["items"])
        return [e["legal_name"] for e in body["items"]]

    assert await names() == ["Ajaccio Services", "Boulangerie Alpha", "Charpente Bravo"]  # by legal name
    assert await names(active="true") == ["Ajaccio Services", "Charpente Bravo"]
    assert await names(active="false") == ["Boulangerie Alpha"]
    assert await names(commune_insee="2a004") == ["Ajaccio Services"]
    assert await names(sector="batiment") == ["Ajaccio Services", "Charpente Bravo"]
    assert await names(sector="Bâtiment", commune_insee="15014") == ["Charpente Bravo"]
    r = await client.get(URL, params={"commune_insee": "20004"}, headers=service_manager.headers)
    _problem(r, 422)
    r = await client.get(URL, params={"limit": 2, "offset": 1}, headers=service_manager.headers)
    body = r.json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 2, 1)
    assert [e["id"] for e in body["items"]] == [a["id"], b["id"]]
    assert c["id"] not in [e["id"] for e in body["items"]]


async def test_list_costs_the_same_statements_whatever_the_page_size(
    client: AsyncClient, service_manager: Actor, count_statements: Any
) -> None:
    for _ in range(6):
        await create_employer(client, service_manager)
    counts = []
    for limit in (1, 6):
        with count_statements() as counter:
            r = await client.get(URL, params={"limit": limit}, headers=service_manager.headers)
        assert len(r.json()["items"]) == limit
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 4


# --- audit ------------------------------------------------------------------------------------------------------
async def test_writes_are_audited_without_personal_data(
    client: AsyncClient, service_manager: Actor, db: AsyncSession
) -> None:
    created = await create_employer(client, service_manager)
    r = await client.patch(
        f"{URL}/{created['id']}", json={"contact_name": "Paul Durand"}, headers=if_match(service_manager, '"1"')
    )
    assert r.status_code == 200
    events = (
        (await db.execute(select(AuditEvent).where(AuditEvent.entity_id == uuid.UUID(created["id"])))).scalars().all()
    )
    by_action = {e.action: e for e in events}
    assert set(by_action) == {"employer.create", "employer.update"}
    assert all(e.entity_type == "employer" and e.actor_id == service_manager.id for e in events)
    assert by_action["employer.update"].details == {"fields": ["contact_name"]}
    assert "Paul Durand" not in str(by_action["employer.update"].details)
    assert "Claire Martin" not in str(by_action["employer.create"].details)


async def test_decimal_coordinates_are_stored_exactly(
    client: AsyncClient, service_manager: Actor, db: AsyncSession
) -> None:
    created = await create_employer(client, service_manager, latitude=44.926412, longitude="-2.123456")
    row = await db.get(Employer, uuid.UUID(created["id"]))
    assert row is not None
    assert (row.latitude, row.longitude) == (Decimal("44.926412"), Decimal("-2.123456"))
    assert (created["latitude"], created["longitude"]) == ("44.926412", "-2.123456")


async def test_a_sector_that_folds_longer_still_fits(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.post("/api/v1/employers", json=employer_payload(sector="ß" * 100), headers=service_manager.headers)
    assert r.status_code == 201, r.text
    found = await client.get(
        "/api/v1/employers", params={"sector": "\u1e9e" * 50 + "ß" * 50}, headers=service_manager.headers
    )
    assert [e["id"] for e in found.json()["items"]] == [r.json()["id"]]
    r = await client.post(
        "/api/v1/employers", json=employer_payload(sector="\ufdfa" * 100), headers=service_manager.headers
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "sector"
