"""GET /api/v1/rome-codes: the ROME reference loaded by the migration baseline, equal to the shipped CSV."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import Actor, Factory
from toit_emploi_api.reference.codes import load_rome_codes
from toit_emploi_api.vocab.roles import Role

URL = "/api/v1/rome-codes"


async def _codes(client: AsyncClient, actor: Actor, **params: Any) -> list[str]:
    r = await client.get(URL, params=params, headers=actor.headers)
    assert r.status_code == 200, r.text
    return [item["code"] for item in r.json()["items"]]


async def test_the_whole_csv_is_loaded(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.get(URL, params={"limit": 200}, headers=service_manager.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    shipped = load_rome_codes()
    assert body["total"] == len(shipped) == 27
    assert {i["code"]: i["label"] for i in body["items"]} == dict(shipped)
    assert [i["code"] for i in body["items"]] == sorted(shipped)  # ordered by code


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("maconnerie", ["F1703"]),  # accents ignored
        ("MAÇONNERIE", ["F1703"]),  # case ignored
        ("  Maçonnerie ", ["F1703"]),
        ("electricite", ["F1602"]),
        ("bar brasserie", ["G1801"]),
        ("etancheite", ["F1613"]),
        ("bois", ["F1501", "H2206", "H2207"]),
        ("restauration", ["F1610", "G1603", "G1605", "G1803"]),
        ("plomberie", []),
    ],
)
async def test_search_by_label_ignores_case_and_accents(
    client: AsyncClient, service_manager: Actor, q: str, expected: list[str]
) -> None:
    assert await _codes(client, service_manager, q=q) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("F17", ["F1701", "F1703", "F1704"]),
        ("f17", ["F1701", "F1703", "F1704"]),
        ("F1703", ["F1703"]),
        ("K13", ["K1302", "K1303", "K1304", "K1305"]),
        ("F9", []),
    ],
)
async def test_search_by_code_prefix(client: AsyncClient, service_manager: Actor, q: str, expected: list[str]) -> None:
    assert await _codes(client, service_manager, q=q) == expected


async def test_like_wildcards_are_literal(client: AsyncClient, service_manager: Actor) -> None:
    assert await _codes(client, service_manager, q="%") == []
    assert await _codes(client, service_manager, q="_") == []


async def test_pagination(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.get(URL, params={"limit": 5, "offset": 25}, headers=service_manager.headers)
    body = r.json()
    assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (27, 5, 25, 2)
    r = await client.get(URL, params={"limit": 201}, headers=service_manager.headers)
    assert r.status_code == 422


async def test_one_code(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.get(f"{URL}/f1703", headers=service_manager.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"code": "F1703", "label": "Maçonnerie"}
    r = await client.get(f"{URL}/A1101", headers=service_manager.headers)  # well-formed, unknown
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get(f"{URL}/Z1234", headers=service_manager.headers)
    assert r.status_code == 422


async def test_bad_queries_are_422(client: AsyncClient, service_manager: Actor) -> None:
    for params in ({"q": "x" * 101}, {"q": ""}, {"q": "a\x00b"}):
        r = await client.get(URL, params=params, headers=service_manager.headers)
        assert r.status_code == 422, params
        assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.ADMIN, 200),
        (Role.SERVICE_MANAGER, 200),
        (Role.PARIS_REFERENT, 200),
        (Role.PARTNER_WORKER, 200),
        (Role.LANDLORD, 403),
        (Role.FUNDER, 403),
    ],
)
async def test_who_may_read(client: AsyncClient, actors: Factory, role: Role, status: int) -> None:
    actor = await actors.user(role)
    for url in (URL, f"{URL}/F1703"):
        r = await client.get(url, headers=actor.headers)
        assert r.status_code == status, (url, r.text)


async def test_anonymous_is_401(client: AsyncClient) -> None:
    assert (await client.get(URL)).status_code == 401


async def test_the_list_costs_the_same_statements_whatever_the_page_size(
    client: AsyncClient, service_manager: Actor, count_statements: Any
) -> None:
    counts = []
    for limit in (1, 27):
        with count_statements() as counter:
            r = await client.get(URL, params={"limit": limit}, headers=service_manager.headers)
        assert r.status_code == 200
        assert len(r.json()["items"]) == limit
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 4
