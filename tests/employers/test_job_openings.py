"""Job openings: money, ROME codes, filters, status moves, positions vs hires, deletion, ETags, audit."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.employers.conftest import create_employer, create_opening, if_match, opening_payload
from tests.factories import Actor
from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.employers.models import JobOpening
from toit_emploi_api.vocab.statuses import JobOpeningStatus

OPENINGS = "/api/v1/job-openings"


def _problem(r: Any, status: int, slug: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    if slug is not None:
        assert body["type"] == f"urn:toit-emploi:problem:{slug}"
    return body


async def _set_hires(db: AsyncSession, opening_id: str, hires: int, status: JobOpeningStatus | None = None) -> None:
    """What the pipeline does when it records hires (the placements come with a later issue)."""
    values: dict[str, Any] = {"hires_count": hires}
    if status is not None:
        values["status"] = status
    await db.execute(update(JobOpening).where(JobOpening.id == uuid.UUID(opening_id)).values(**values))
    await db.commit()


@pytest.fixture
async def employer(client: AsyncClient, service_manager: Actor) -> dict[str, Any]:
    return await create_employer(client, service_manager)


async def test_create_and_read(client: AsyncClient, service_manager: Actor, employer: dict[str, Any]) -> None:
    r = await client.post(
        f"/api/v1/employers/{employer['id']}/job-openings",
        json=opening_payload(rome_code=" f1703 "),
        headers=service_manager.headers,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"{OPENINGS}/{created['id']}"
    assert r.headers["etag"] == '"1"'
    assert created["rome_code"] == "F1703"
    assert created["rome_label"] == "Maçonnerie"
    assert created["status"] == "open"
    assert created["hires_count"] == 0
    assert created["hours_per_week"] == "35.0"
    assert created["employer_id"] == employer["id"]
    assert created["employer"]["legal_name"] == employer["legal_name"]
    assert created["employer"]["contact_email"] == employer["contact_email"]
    r = await client.get(f"{OPENINGS}/{created['id']}", headers=service_manager.headers)
    assert r.status_code == 200
    assert r.json() == created
    assert r.headers["etag"] == '"1"'


async def test_unknown_employer_or_opening_is_404(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.post(
        f"/api/v1/employers/{uuid.uuid4()}/job-openings", json=opening_payload(), headers=service_manager.headers
    )
    _problem(r, 404)
    _problem(await client.get(f"/api/v1/employers/{uuid.uuid4()}/job-openings", headers=service_manager.headers), 404)
    _problem(await client.get(f"{OPENINGS}/{uuid.uuid4()}", headers=service_manager.headers), 404)
    _problem(await client.delete(f"{OPENINGS}/{uuid.uuid4()}", headers=if_match(service_manager, "*")), 404)


# --- money ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("wage", ["1234.56", " 1234.56"])
async def test_wage_round_trips_exactly(
    client: AsyncClient, service_manager: Actor, employer: dict[str, Any], db: AsyncSession, wage: Any
) -> None:
    created = await create_opening(client, service_manager, employer["id"], monthly_gross_wage=wage)
    assert created["monthly_gross_wage"] == "1234.56"
    row = await db.get(JobOpening, uuid.UUID(created["id"]))
    assert row is not None
    assert row.monthly_gross_wage == Decimal("1234.56")
    r = await client.get(f"{OPENINGS}/{created['id']}", headers=service_manager.headers)
    assert r.json()["monthly_gross_wage"] == "1234.56"
    assert '"monthly_gross_wage":"1234.56"' in r.text


@pytest.mark.parametrize(
    ("wage", "shown"),
    [("1800", "1800.00"), (1800, "1800.00"), ("1800.5", "1800.50"), ("0", "0.00"), (0, "0.00"), (None, None)],
)
async def test_wage_always_has_two_decimals(
    client: AsyncClient, service_manager: Actor, employer: dict[str, Any], wage: Any, shown: str | None
) -> None:
    created = await create_opening(client, service_manager, employer["id"], monthly_gross_wage=wage)
    assert created["monthly_gross_wage"] == shown


# JSON numbers with a fraction are binary floats: refused, even exact-looking ones (send "1234.56").
@pytest.mark.parametrize(
    "wage", ["1234.567", 0.1 + 0.2, 1234.56, 1800.5, 1800.0, True, "-1", "100000.01", "abc", "NaN", "Infinity"]
)
async def test_bad_wages_are_422(
    client: AsyncClient, service_manager: Actor, employer: dict[str, Any], wage: Any
) -> None:
    r = await client.post(
        f"/api/v1/employers/{employer['id']}/job-openings",
        json=opening_payload(monthly_gross_wage=wage),
        headers=service_manager.headers,
    )
    assert {e["field"] for e in _problem(r, 422)["errors"]} == {"monthly_gross_wage"}


# --- validation -------------------------------------------------------------------------------------------------
async def test_unknown_but_well_formed_rome_code_is_accepted(
    client: AsyncClient, service_manager: Actor, employer: dict[str, Any]
) -> None:
    created = await create_opening(client, service_manager, employer["id"], rome_code="A1101")
    assert created["rome_code"] == "A1101"
    assert created["rome_label"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"rome_code": "Z1234"},
        {"rome_code": "F170"},
        {"rome_code": None},
        {"contract_type": "freelance"},
        {"open_positions": 0},
        {"open_positions": 1001},
        {"open_positions": True},  # strict JSON integers
        {"open_positions": "2"},
        {"open_positions": 2.0},
        {"hours_per_week": True},
        {"hours_per_week": "0"},
        {"hours_per_week": "48.5"},
        {"hours_per_week": "35.25"},
        {"start_date": "2013-12-31"},
        {"start_date": "2027-02-30"},
        {"title": ""},
        {"title": "t" * 201},
        {"title": "Maçon\x00"},
        {"description": "d" * 2001},
        {"status": "closed"},  # a new opening is always open
        {"hires_count": 1},  # kept by the pipeline
        {"salary": 1},  # unknown field
    ],
)
async def test_bad_bodies_are_422(
    client: AsyncClient, service_manager: Actor, employer: dict[str, Any], body: dict[str, Any]
) -> None:
    r = await client.post(
        f"/api/v1/employers/{employer['id']}/job-openings",
        json=opening_payload(**body),
        headers=service_manager.headers,
    )
    assert {e["field"] for e in _problem(r, 422, "validation-error")["errors"]} == set(body)


# --- filters ----------------------------------------------------------------------------------------------------
async def test_filters(client: AsyncClient, service_manager: Actor) -> None:
    aurillac = await create_employer(client, service_manager, legal_name="Bâtir Aurillac", sector="Bâtiment")
    ajaccio = await create_employer(
        client, service_manager, legal_name="Cuisine Corse", sector="Restauration", commune_insee="2A004"
    )
    macon = await create_opening(client, service_manager, aurillac["id"], rome_code="F1703", title="Maçon")
    beton = await create_opening(
        client, service_manager, aurillac["id"], rome_code="F1701", title="Coffreur", contract_type="cdd"
    )
    peintre = await create_opening(client, service_manager, aurillac["id"], rome_code="F1606", title="Peintre")
    cuisine = await create_opening(
        client, service_manager, ajaccio["id"], rome_code="G1602", title="Commis", contract_type="apprenticeship"
    )
    r = await client.patch(
        f"{OPENINGS}/{peintre['id']}", json={"status": "closed"}, headers=if_match(service_manager, '"1"')
    )
    assert r.status_code == 200

    async def ids(**params: Any) -> list[str]:
        r = await client.get(OPENINGS, params=params, headers=service_manager.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == len(body["items"])
        return [o["id"] for o in body["items"]]

    assert await ids() == [macon["id"], beton["id"], peintre["id"], cuisine["id"]]  # oldest first
    assert await ids(rome_code="F1703") == [macon["id"]]  # exact
    assert await ids(rome_code="f1703") == [macon["id"]]
    assert await ids(rome_code="F17") == [macon["id"], beton["id"]]  # prefix
    assert await ids(rome_code="F1") == [macon["id"], beton["id"], peintre["id"]]
    assert await ids(rome_code="F") == [macon["id"], beton["id"], peintre["id"]]
    assert await ids(rome_code="F170") == [macon["id"], beton["id"]]
    assert await ids(rome_code="F1702") == []
    assert await ids(status="closed") == [peintre["id"]]
    assert await ids(status="open", rome_code="F1") == [macon["id"], beton["id"]]
    assert await ids(contract_type="cdd") == [beton["id"]]
    assert await ids(sector="restauration") == [cuisine["id"]]
    assert await ids(sector="BATIMENT", status="open") == [macon["id"], beton["id"]]
    assert await ids(commune_insee="2a004") == [cuisine["id"]]
    assert await ids(commune_insee="15014", contract_type="cdi") == [macon["id"], peintre["id"]]
    assert await ids(employer_id=ajaccio["id"]) == [cuisine["id"]]
    r = await client.get(
        f"/api/v1/employers/{aurillac['id']}/job-openings", params={"status": "open"}, headers=service_manager.headers
    )
    assert [o["id"] for o in r.json()["items"]] == [macon["id"], beton["id"]]
    for bad in (
        {"rome_code": "F17031"},
        {"rome_code": "Z1"},
        {"rome_code": "17"},
        {"rome_code": "F%"},
        {"commune_insee": "2C004"},
        {"status": "pending"},
        {"contract_type": "x"},
        {"employer_id": "nope"},
    ):
        _problem(await client.get(OPENINGS, params=bad, headers=service_manager.headers), 422)


async def test_list_costs_the_same_statements_whatever_the_page_size(
    client: AsyncClient, service_manager: Actor, count_statements: Any
) -> None:
    for i in range(4):
        employer = await create_employer(client, service_manager)
        for _ in range(2):
            await create_opening(client, service_manager, employer["id"], title=f"Poste {i}")
    for url in (OPENINGS, f"/api/v1/employers/{employer['id']}/job-openings"):
        counts = []
        for limit in (1, 8):
            with count_statements() as counter:
                r = await client.get(url, params={"limit": limit}, headers=service_manager.headers)
            assert r.status_code == 200
            assert len(r.json()["items"]) == min(limit, r.json()["total"])
            counts.append(counter.count)
        assert counts[0] == counts[1] <= 5, url


# --- status moves and positions ----------------------------------------------------------------------------------
async def test_close_and_reopen(client: AsyncClient, service_manager: Actor, employer: dict[str, Any]) -> None:
    opening = await create_opening(client, service_manager, employer["id"])
    url = f"{OPENINGS}/{opening['id']}"
    r = await client.patch(url, json={"status": "closed"}, headers=if_match(service_manager, '"1"'))
    assert (r.status_code, r.json()["status"], r.headers["etag"]) == (200, "closed", '"2"')
    r = await client.patch(url, json={"status": "open"}, headers=if_match(service_manager, '"2"'))
    assert (r.status_code, r.json()["status"]) == (200, "open")


async def test_filled_is_set_by_the_pipeline_only(
    client: AsyncClient, service_manager: Actor, employer: dict[str, Any]
) -> None:
    opening = await create_opening(client, service_manager, employer["id"])
    url = f"{OPENINGS}/{opening['id']}"
    r = await client.patch(url, json={"status": "filled"}, headers=if_match(service_manager, '"1"'))
    problem = _problem(r, 409, "job-opening-status-not-allowed")
    assert (problem["from"], problem["to"]) == ("open", "filled")
    r = await client.patch(url, json={"status": "closed"}, headers=if_match(service_manager, '"1"'))
    assert r.status_code == 200
    _problem(await client.patch(url, json={"status": "filled"}, headers=if_match(service_manager, '"2"')), 409)


async def test_filled_opening_moves(
    client: AsyncClient, service_manager: Actor, employer: dict[str, Any], db: AsyncSession
) -> None:
    opening = await create_opening(client, service_manager, employer["id"], open_positions=2)
    await _set_hires(db, opening["id"], 2, JobOpeningStatus.FILLED)
    url = f"{OPENINGS}/{opening['id']}"
    # Reopening needs a free position.
    r = await client.patch(url, json={"status": "open"}, headers=if_match(service_manager, '"1"'))
    _problem(r, 409, "job-opening-status-not-allowed")
    r = await client.patch(url, json={"status": "open", "open_positions": 3}, headers=if_match(service_manager, '"1"'))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["open_positions"], r.json()["hires_count"]) == ("open", 3, 2)
    # Lowering the positions back to the hires fills it again.
    r = await client.patch(url, json={"open_positions": 2}, headers=if_match(service_manager, '"2"'))
    assert (r.status_code, r.json()["status"]) == (200, "filled")
    # A filled opening may be closed.
    r = await client.patch(url, json={"status": "closed"}, headers=if_match(service_manager, '"3"'))
    assert (r.status_code, r.json()["status"]) == (200, "closed")


async def test_open_positions_never_below_hires(
    client: AsyncClient, service_manager: Actor, employer: dict[str, Any], db: AsyncSession
) -> None:
    opening = await create_opening(client, service_manager, employer["id"], open_positions=3)
    await _set_hires(db, opening["id"], 2)
    url = f"{OPENINGS}/{opening['id']}"
    r = await client.patch(url, json={"open_positions": 1}, headers=if_match(service_manager, '"1"'))
    problem = _problem(r, 409, "positions-below-hires")
    assert (problem["hires_count"], problem["requested_open_positions"]) == (2, 1)
    r = await client.patch(url, json={"open_positions": 0}, headers=if_match(service_manager, '"1"'))
    _problem(r, 422)
    r = await client.patch(url, json={"open_positions": 5}, headers=if_match(service_manager, '"1"'))
    assert (r.status_code, r.json()["open_positions"], r.json()["status"]) == (200, 5, "open")


async def test_patch_fields_and_etags(client: AsyncClient, service_manager: Actor, employer: dict[str, Any]) -> None:
    opening = await create_opening(client, service_manager, employer["id"])
    url = f"{OPENINGS}/{opening['id']}"
    _problem(await client.patch(url, json={"title": "Chef maçon"}, headers=service_manager.headers), 428)
    _problem(await client.patch(url, json={"title": "Chef maçon"}, headers=if_match(service_manager, '"2"')), 412)
    r = await client.patch(
        url,
        json={"title": "Chef maçon", "rome_code": "a1101", "monthly_gross_wage": "2100.10", "description": None},
        headers=if_match(service_manager, 'W/"1"'),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["title"], body["rome_code"], body["rome_label"]) == ("Chef maçon", "A1101", None)
    assert (body["monthly_gross_wage"], body["description"]) == ("2100.10", None)
    assert r.headers["etag"] == '"2"'
    for field in ("rome_code", "title", "contract_type", "open_positions", "status"):
        _problem(await client.patch(url, json={field: None}, headers=if_match(service_manager, '"2"')), 422)
    _problem(await client.patch(url, json={"hires_count": 0}, headers=if_match(service_manager, '"2"')), 422)
    _problem(
        await client.patch(url, json={"employer_id": str(uuid.uuid4())}, headers=if_match(service_manager, '"2"')), 422
    )


# --- deletion -----------------------------------------------------------------------------------------------------
async def test_delete(client: AsyncClient, service_manager: Actor, employer: dict[str, Any], db: AsyncSession) -> None:
    opening = await create_opening(client, service_manager, employer["id"])
    url = f"{OPENINGS}/{opening['id']}"
    _problem(await client.delete(url, headers=service_manager.headers), 428, "precondition-required")
    _problem(await client.delete(url, headers=if_match(service_manager, '"9"')), 412)
    r = await client.delete(url, headers=if_match(service_manager, '"1"'))
    assert r.status_code == 204
    _problem(await client.get(url, headers=service_manager.headers), 404)
    actions = (await db.execute(select(AuditEvent.action).where(AuditEvent.entity_type == "job_opening"))).scalars()
    assert sorted(actions) == ["job_opening.create", "job_opening.delete"]


async def test_an_opening_with_hires_cannot_be_deleted(
    client: AsyncClient, service_manager: Actor, employer: dict[str, Any], db: AsyncSession
) -> None:
    opening = await create_opening(client, service_manager, employer["id"])
    await _set_hires(db, opening["id"], 1)
    url = f"{OPENINGS}/{opening['id']}"
    problem = _problem(await client.delete(url, headers=if_match(service_manager, "*")), 409, "job-opening-in-use")
    assert "close it instead" in problem["detail"].lower()
    assert (await client.get(url, headers=service_manager.headers)).status_code == 200


async def test_writes_are_audited(
    client: AsyncClient, service_manager: Actor, employer: dict[str, Any], db: AsyncSession
) -> None:
    opening = await create_opening(client, service_manager, employer["id"])
    r = await client.patch(
        f"{OPENINGS}/{opening['id']}", json={"status": "closed"}, headers=if_match(service_manager, '"1"')
    )
    assert r.status_code == 200
    events = (
        (await db.execute(select(AuditEvent).where(AuditEvent.entity_id == uuid.UUID(opening["id"])))).scalars().all()
    )
    update_event = next(e for e in events if e.action == "job_opening.update")
    assert update_event.entity_type == "job_opening"
    assert update_event.details == {"fields": ["status"], "status": {"from": "open", "to": "closed"}}
    assert {e.action for e in events} == {"job_opening.create", "job_opening.update"}
