"""`sort` on every list a person browses: each key ascending is ordered by that field, `-key` is exactly its reverse
(ties included), pages of a sorted list follow each other without overlap or gap, an unknown key is a 422 naming
`sort`; and the shared `created_since`/`created_before` where a list takes them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import Actor, Factory
from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.core.clock import today, utcnow
from toit_emploi_api.reference.text import fold
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import PlacementStatus, RelayStayStatus

Item = dict[str, Any]


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _field(name: str) -> Callable[[Item], Any]:
    """The item's `name`, comparable: instants parsed (their text drops zero microseconds), nulls last as in
    PostgreSQL's ascending order."""

    def value(item: Item) -> Any:
        raw = item[name]
        if raw is None:
            return (1, "")
        return (0, _instant(raw) if name.endswith("_at") or name == "at" else raw)

    return value


@dataclass
class Case:
    url: str
    caller: Actor
    keys: dict[str, Callable[[Item], Any]]
    item_id: Callable[[Item], Any] = lambda item: item["id"]
    params: dict[str, str] | None = None
    grows: bool = False  # reading the list adds to it (its reads are audited in it): compare what both reads saw


Arrange = Callable[[Factory, Actor, Actor, AsyncClient], Awaitable[Case]]


async def _placements(arrange: Factory) -> uuid.UUID:
    household = await arrange.household(stage=Stage.MATCHING, adults=3, children=0)
    for n, (adult, start) in enumerate(zip(household.adults, [10, None, 3], strict=True)):
        opening = await arrange.opening(title=f"Poste {n}")
        day = None if start is None else today() + timedelta(days=start)
        await arrange.placement(household, opening, PlacementStatus.PROPOSED, member=adult, start_date=day)
    return household.id


async def household_placements(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    household = await _placements(arrange)
    keys = {k: _field(k) for k in ("created_at", "updated_at", "start_date")}
    return Case(f"/api/v1/households/{household}/placements", manager, keys)


async def desk_placements(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    await _placements(arrange)
    await _placements(arrange)
    return Case("/api/v1/placements", manager, {k: _field(k) for k in ("created_at", "updated_at", "start_date")})


async def _stays(arrange: Factory, household: uuid.UUID | None = None) -> None:
    unit = await arrange.unit(relay=True)
    for offset in (-30, -10, -20):
        await arrange.relay_stay(
            unit, today() + timedelta(days=offset), household=household, status=RelayStayStatus.ENDED
        )


async def household_relay_stays(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    household = (await arrange.household(stage=Stage.MATCHING, adults=1, children=0)).id
    await _stays(arrange, household)
    keys = {k: _field(k) for k in ("start_date", "created_at")}
    return Case(f"/api/v1/households/{household}/relay-stays", manager, keys)


async def desk_relay_stays(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    await _stays(arrange)
    await _stays(arrange)
    return Case("/api/v1/relay-stays", manager, {k: _field(k) for k in ("start_date", "created_at")})


async def follow_up_entries(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    household = (await arrange.household(stage=Stage.FOLLOW_UP, adults=1, children=0)).id
    for days in (5, 1, 5, 3):
        await arrange.follow_up_entry(household, today() - timedelta(days=days), "Point d'étape")
    created, entry = _field("created_at"), _field("entry_date")
    keys = {"created_at": created, "entry_date": lambda i: (entry(i), created(i))}
    return Case(f"/api/v1/households/{household}/follow-up-entries", manager, keys)


async def pipeline_events(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    household = (await arrange.household(stage=Stage.MATCHING, adults=1, children=0)).id
    now = utcnow()
    for minutes in (3, 1, 2, 1):
        event = AuditEvent(
            at=now - timedelta(minutes=minutes),
            actor_kind="system",
            action="placement.update",
            entity_type="placement",
            entity_id=uuid.uuid4(),
            household_id=household,
        )
        await arrange._add(event)
    return Case(
        f"/api/v1/households/{household}/pipeline-events",
        manager,
        {"at": _field("at")},
        item_id=lambda item: item["entity_id"],
    )


async def employer_job_openings(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    employer = await arrange.employer(legal_name="Scierie")
    for title, start in (("Scieur", 20), ("Affûteur", None), ("Cariste", 5)):
        day = None if start is None else today() + timedelta(days=start)
        await arrange.opening(employer=employer, title=title, start_date=day)
    keys = {"created_at": _field("created_at"), "start_date": _field("start_date"), "title": _field("title")}
    return Case(f"/api/v1/employers/{employer}/job-openings", manager, keys)


async def members(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    household = (await arrange.household(adults=2, children=2)).id
    keys = {
        "created_at": _field("created_at"),
        "birth_date": _field("birth_date"),
        "last_name": lambda i: fold(i["last_name"]),
    }
    return Case(f"/api/v1/households/{household}/members", manager, keys)


async def possible_duplicates(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    for _ in range(3):
        await arrange.household(
            first_name="Awa", last_name="Diallo", adult_birth=date(1990, 4, 2), adults=1, children=0
        )

    def newer(item: Item) -> datetime:
        return max(_instant(item["first"]["created_at"]), _instant(item["second"]["created_at"]))

    return Case(
        "/api/v1/households/possible-duplicates",
        manager,
        {"created_at": newer},
        item_id=lambda item: (item["first"]["id"], item["second"]["id"]),
    )


async def rome_codes(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    keys = {"code": _field("code"), "label": lambda i: fold(i["label"])}
    return Case("/api/v1/rome-codes", manager, keys, item_id=lambda item: item["code"], params={"q": "F17"})


async def communes(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    keys = {
        "name": lambda i: fold(i["name"]),
        "population": _field("population"),
        "insee_code": _field("insee_code"),
    }
    params = {"q": "saint", "department": "15"}
    return Case("/api/v1/communes", manager, keys, item_id=lambda item: item["insee_code"], params=params)


async def _read_thrice(arrange: Factory, manager: Actor, client: AsyncClient) -> uuid.UUID:
    household = (await arrange.household(adults=1, children=0)).id
    for _ in range(3):
        r = await client.get(f"/api/v1/households/{household}", headers=manager.headers)
        assert r.status_code == 200, r.text
    return household


async def access_log(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    household = await _read_thrice(arrange, manager, client)
    return Case(f"/api/v1/households/{household}/access-log", manager, {"at": _field("at")}, grows=True)


async def audit_events(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    await _read_thrice(arrange, manager, client)
    return Case("/api/v1/audit-events", admin, {"at": _field("at")}, params={"action": "household.read"})


async def retention_due(arrange: Factory, admin: Actor, manager: Actor, client: AsyncClient) -> Case:
    for months in (30, 26, 28):
        household = (await arrange.household(stage=Stage.WITHDRAWN, adults=1, children=0)).id
        await arrange.set_household(household, last_contact_date=today() - timedelta(days=31 * months))
    keys = {"due_on": _field("due_on"), "reference": _field("reference")}
    return Case("/api/v1/retention/due", manager, keys, item_id=lambda item: item["household_id"])


CASES: list[Arrange] = [
    household_placements,
    desk_placements,
    household_relay_stays,
    desk_relay_stays,
    follow_up_entries,
    pipeline_events,
    employer_job_openings,
    members,
    possible_duplicates,
    rome_codes,
    communes,
    access_log,
    audit_events,
    retention_due,
]


async def _items(client: AsyncClient, case: Case, **params: Any) -> list[Item]:
    r = await client.get(case.url, params={**(case.params or {}), **params}, headers=case.caller.headers)
    assert r.status_code == 200, r.text
    items: list[Item] = r.json()["items"]
    return items


@pytest.mark.parametrize("make", CASES, ids=lambda make: make.__name__)
async def test_every_sort_key_both_ways_and_across_pages(
    client: AsyncClient, arrange: Factory, admin: Actor, service_manager: Actor, make: Arrange
) -> None:
    case = await make(arrange, admin, service_manager, client)
    for key, value in case.keys.items():
        ascending = await _items(client, case, sort=key, limit=200)
        assert len(ascending) >= 3, (key, ascending)
        values = [value(item) for item in ascending]
        assert values == sorted(values), key
        seen = {case.item_id(i) for i in ascending}
        descending = await _items(client, case, sort=f"-{key}", limit=200)
        assert [case.item_id(i) for i in descending if case.item_id(i) in seen or not case.grows] == [
            case.item_id(i) for i in reversed(ascending)
        ], key
        # Pages of the descending order, or of the ascending one where reading adds at its end.
        whole, sort = (ascending, key) if case.grows else (descending, f"-{key}")
        size = max(2, len(whole) // 4)
        paged: list[Item] = []
        for offset in range(0, len(whole), size):
            paged += await _items(client, case, sort=sort, limit=size, offset=offset)
        assert [case.item_id(i) for i in paged][: len(whole)] == [case.item_id(i) for i in whole], key
    r = await client.get(case.url, params={**(case.params or {}), "sort": "-nope"}, headers=case.caller.headers)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["query.sort"]


@pytest.mark.parametrize("desk", [False, True])
async def test_placements_created_window(
    client: AsyncClient, arrange: Factory, service_manager: Actor, desk: bool
) -> None:
    household = await _placements(arrange)
    url = "/api/v1/placements" if desk else f"/api/v1/households/{household}/placements"
    day = today()
    every = await _items(client, Case(url, service_manager, {}), created_since=str(day))
    assert len(every) == 3
    assert await _items(client, Case(url, service_manager, {}), created_since=str(day + timedelta(days=1))) == []
    assert await _items(client, Case(url, service_manager, {}), created_before=str(day)) == []
    before = await _items(client, Case(url, service_manager, {}), created_before=str(day + timedelta(days=1)))
    assert len(before) == 3
    r = await client.get(url, params={"created_since": "0"}, headers=service_manager.headers)
    assert r.status_code == 422


async def test_q_finds_employers_and_openings_by_words(
    client: AsyncClient, arrange: Factory, service_manager: Actor
) -> None:
    sawmill = await arrange.employer(legal_name="Scierie du Cantal")
    bakery = await arrange.employer(legal_name="Boulangerie Légère")
    for title in ("Maçon", "Aide-maçon", "Cariste"):
        await arrange.opening(employer=sawmill, title=title)
    await arrange.opening(employer=bakery, title="Boulanger")

    async def names(url: str, q: str, key: str) -> list[str]:
        r = await client.get(url, params={"q": q, "sort": key}, headers=service_manager.headers)
        assert r.status_code == 200, r.text
        return [item[key] for item in r.json()["items"]]

    employers = "/api/v1/employers"
    assert await names(employers, "scierie", "legal_name") == ["Scierie du Cantal"]
    assert await names(employers, "CANTAL scierie", "legal_name") == ["Scierie du Cantal"]
    assert await names(employers, "legere", "legal_name") == ["Boulangerie Légère"]
    assert await names(employers, "scierie legere", "legal_name") == []
    assert await names(employers, "'", "legal_name") == []
    openings = "/api/v1/job-openings"
    assert await names(openings, "macon", "title") == ["Aide-maçon", "Maçon"]
    assert await names(openings, "aide macon", "title") == ["Aide-maçon"]
    assert await names(f"/api/v1/employers/{sawmill}/job-openings", "cariste", "title") == ["Cariste"]
    assert await names(f"/api/v1/employers/{bakery}/job-openings", "macon", "title") == []
    r = await client.get(openings, params={"q": ""}, headers=service_manager.headers)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["query.q"]
