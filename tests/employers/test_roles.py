"""Who may do what on employers and job openings, and what partner workers see."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.employers.conftest import create_employer, create_opening, employer_payload, if_match, opening_payload
from tests.factories import Actor, Factory
from toit_emploi_api.vocab.roles import Role

CONTACT_FIELDS = {"contact_name", "contact_phone", "contact_email", "address", "postcode", "notes", "siret"}


@pytest.fixture
async def world(client: AsyncClient, service_manager: Actor) -> dict[str, Any]:
    employer = await create_employer(client, service_manager)
    opened = await create_opening(client, service_manager, employer["id"], title="Maçon")
    closed = await create_opening(client, service_manager, employer["id"], title="Peintre", rome_code="F1606")
    r = await client.patch(
        f"/api/v1/job-openings/{closed['id']}", json={"status": "closed"}, headers=if_match(service_manager, '"1"')
    )
    assert r.status_code == 200
    return {"employer": employer, "open": opened, "closed": closed}


def _requests(world: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    e, o = world["employer"]["id"], world["open"]["id"]
    return {
        "employers_list": ("GET", "/api/v1/employers", None),
        "employers_create": ("POST", "/api/v1/employers", employer_payload()),
        "employers_get": ("GET", f"/api/v1/employers/{e}", None),
        "employers_update": ("PATCH", f"/api/v1/employers/{e}", {"sector": "Bâtiment et travaux publics"}),
        "employers_job_openings_list": ("GET", f"/api/v1/employers/{e}/job-openings", None),
        "employers_job_openings_create": ("POST", f"/api/v1/employers/{e}/job-openings", opening_payload()),
        "job_openings_list": ("GET", "/api/v1/job-openings", None),
        "job_openings_get": ("GET", f"/api/v1/job-openings/{o}", None),
        "job_openings_update": ("PATCH", f"/api/v1/job-openings/{o}", {"title": "Maçon confirmé"}),
        "job_openings_delete": ("DELETE", f"/api/v1/job-openings/{o}", None),
    }


_WRITE = {
    "employers_create": 201,
    "employers_update": 200,
    "employers_job_openings_create": 201,
    "job_openings_update": 200,
    "job_openings_delete": 204,
}
_STAFF_READ = {"employers_list": 200, "employers_get": 200, "employers_job_openings_list": 200}
_OPENING_READ = {"job_openings_list": 200, "job_openings_get": 200}
_FORBIDDEN_ALL = dict.fromkeys([*_WRITE, *_STAFF_READ, *_OPENING_READ], 403)

MATRIX: dict[Role, dict[str, int]] = {
    Role.ADMIN: {**_WRITE, **_STAFF_READ, **_OPENING_READ},
    Role.SERVICE_MANAGER: {**_WRITE, **_STAFF_READ, **_OPENING_READ},
    Role.PARIS_REFERENT: {**dict.fromkeys(_WRITE, 403), **_STAFF_READ, **_OPENING_READ},
    Role.PARTNER_WORKER: {**dict.fromkeys(_WRITE, 403), **dict.fromkeys(_STAFF_READ, 403), **_OPENING_READ},
    Role.LANDLORD: _FORBIDDEN_ALL,
    Role.FUNDER: _FORBIDDEN_ALL,
}


@pytest.mark.parametrize("role", list(Role))
async def test_role_matrix(client: AsyncClient, actors: Factory, world: dict[str, Any], role: Role) -> None:
    actor = await actors.user(role)
    requests = _requests(world)
    assert set(MATRIX[role]) == set(requests)
    # Deletion last: it removes the opening the other requests use.
    for name in sorted(requests, key=lambda n: n == "job_openings_delete"):
        method, url, body = requests[name]
        # The opening was updated before its deletion: the deletion matches whatever its version is now.
        etag = {"PATCH": '"1"', "DELETE": "*"}.get(method)
        headers = {**actor.headers, "If-Match": etag} if etag else actor.headers
        r = await client.request(method, url, json=body, headers=headers)
        assert r.status_code == MATRIX[role][name], (role, name, r.text)
        if r.status_code == 403:
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["type"] == "urn:toit-emploi:problem:forbidden"


async def test_anonymous_is_401(client: AsyncClient, world: dict[str, Any]) -> None:
    for method, url, body in _requests(world).values():
        r = await client.request(method, url, json=body)
        assert r.status_code == 401, (method, url)


async def test_partner_workers_see_open_openings_without_contact_details(
    client: AsyncClient, actors: Factory, world: dict[str, Any]
) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    r = await client.get("/api/v1/job-openings", headers=partner.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1
    (item,) = body["items"]
    assert item["id"] == world["open"]["id"]
    assert item["rome_label"] == "Maçonnerie"
    assert item["monthly_gross_wage"] == "1950.00"
    employer = world["employer"]
    assert item["employer"] == {
        "id": employer["id"],
        "legal_name": employer["legal_name"],
        "trade_name": employer["trade_name"],
        "sector": employer["sector"],
        "commune_insee": employer["commune_insee"],
        "commune_name": "Aurillac",
    }
    assert not CONTACT_FIELDS & set(item["employer"])
    assert "Claire Martin" not in r.text
    assert employer["contact_email"] not in r.text
    assert employer["contact_phone"] not in r.text
    assert "hires_count" not in item

    r = await client.get(f"/api/v1/job-openings/{world['open']['id']}", headers=partner.headers)
    assert r.status_code == 200
    assert r.json() == item
    assert not CONTACT_FIELDS & set(r.json()["employer"])

    # Closed ones do not exist for them, even when asked for explicitly.
    r = await client.get(f"/api/v1/job-openings/{world['closed']['id']}", headers=partner.headers)
    assert r.status_code == 404
    r = await client.get("/api/v1/job-openings", params={"status": "closed"}, headers=partner.headers)
    assert r.json()["total"] == 0


async def test_staff_see_every_status_and_the_contact_details(
    client: AsyncClient, actors: Factory, world: dict[str, Any]
) -> None:
    referent = await actors.user(Role.PARIS_REFERENT)
    r = await client.get("/api/v1/job-openings", headers=referent.headers)
    body = r.json()
    assert body["total"] == 2
    for item in body["items"]:
        assert item["employer"]["contact_email"] == world["employer"]["contact_email"]
        assert "hires_count" in item
    r = await client.get(f"/api/v1/job-openings/{world['closed']['id']}", headers=referent.headers)
    assert r.status_code == 200
    assert r.json()["employer"]["contact_name"] == "Claire Martin"
    r = await client.get(f"/api/v1/employers/{world['employer']['id']}", headers=referent.headers)
    assert r.json()["contact_phone"] == world["employer"]["contact_phone"]
