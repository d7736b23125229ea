"""Listing households: pagination, filters, sort, accent-insensitive search, fixed SQL cost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Actor, Factory
from tests.households.conftest import BASE, adult, child, create_household
from toit_emploi_api.vocab.roles import OrganisationKind, Role


async def _list(client: AsyncClient, actor: Actor, **params: Any) -> dict[str, Any]:
    r = await client.get(BASE, params=params, headers=actor.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _refs(page: dict[str, Any]) -> list[str]:
    return [item["reference"] for item in page["items"]]


async def test_pagination_shape_and_bounds(client: AsyncClient, service_manager: Actor) -> None:
    for _ in range(3):
        await create_household(client, service_manager)
    page = await _list(client, service_manager, limit=2, offset=1)
    assert set(page) == {"items", "total", "limit", "offset", "next_cursor"}
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (3, 2, 1, 2)
    assert (await _list(client, service_manager))["limit"] == 50
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}):
        r = await client.get(BASE, params=bad, headers=service_manager.headers)
        assert r.status_code == 422, bad
        assert r.json()["errors"][0]["field"] == f"query.{next(iter(bad))}"


async def test_list_items_hide_manager_notes_and_partner_sees_own_only(client: AsyncClient, actors: Factory) -> None:
    manager = await actors.user(Role.SERVICE_MANAGER)
    partner = await actors.user(Role.PARTNER_WORKER)
    other = await actors.user(Role.PARTNER_WORKER, await actors.organisation(OrganisationKind.REFERRAL_PARTNER))
    mine = await create_household(client, partner)
    await create_household(client, other)
    await create_household(client, manager, manager_notes="Employer X met the family.")
    assert _refs(await _list(client, partner)) == [mine["reference"]]
    assert (await _list(client, partner))["total"] == 1
    everything = await _list(client, manager)
    assert everything["total"] == 3
    assert all("manager_notes" not in item for item in everything["items"])


async def test_filters(client: AsyncClient, actors: Factory) -> None:
    manager = await actors.user(Role.SERVICE_MANAGER)
    org_a = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    with_children = await create_household(
        client, manager, referring_organisation_id=str(org_a), members=[adult(rome_codes=["G1602"]), child()]
    )
    no_children = await create_household(client, manager, members=[adult(rome_codes=["F1703", "K2204"])])
    matching = await create_household(client, manager, members=[adult(rome_codes=["K2204"])])
    await actors.set_stage(matching["id"], "matching")

    assert _refs(await _list(client, manager, has_children="true")) == [with_children["reference"]]
    assert set(_refs(await _list(client, manager, has_children="false"))) == {
        no_children["reference"],
        matching["reference"],
    }
    assert _refs(await _list(client, manager, referring_organisation_id=str(org_a))) == [with_children["reference"]]
    assert set(_refs(await _list(client, manager, rome_code="k2204"))) == {
        no_children["reference"],
        matching["reference"],
    }
    assert _refs(await _list(client, manager, rome_code="G1602")) == [with_children["reference"]]
    assert _refs(await _list(client, manager, stage="matching")) == [matching["reference"]]
    assert len(_refs(await _list(client, manager, stage=["matching", "diagnostic"]))) == 3
    bad = await client.get(BASE, params={"rome_code": "Z9"}, headers=manager.headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.rome_code"
    assert (await client.get(BASE, params={"stage": "nowhere"}, headers=manager.headers)).status_code == 422


async def test_a_rome_code_lists_alike_whether_read_from_its_holders_or_by_the_index_walk(
    client: AsyncClient, actors: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to `_FEW_HOLDERS` households holding the code, the page is read from their ids; above, by walking the
    sort's index (households/reads.py). Both paths give the same pages, totals and cursors, for staff and partners."""
    from toit_emploi_api.households import reads

    manager = await actors.user(Role.SERVICE_MANAGER)
    partner = await actors.user(Role.PARTNER_WORKER)
    for n in range(5):
        await create_household(client, partner if n % 2 else manager, members=[adult(rome_codes=["K2204"]), child()])
        await create_household(client, partner if n % 2 else manager, members=[adult(rome_codes=["F1703"])])
    pages: dict[int, list[dict[str, Any]]] = {}
    walks: dict[int, list[str]] = {}
    by_holders = reads._FEW_HOLDERS
    for few in (by_holders, 0):  # 0: every total is above the threshold, so the index walk answers
        monkeypatch.setattr(reads, "_FEW_HOLDERS", few)
        pages[few] = [
            await _list(client, actor, rome_code=code, **params)
            for code in ("K2204", "G1602")
            for actor in (manager, partner)
            for params in ({"limit": 2}, {"limit": 2, "offset": 2}, {"limit": 50, "sort": "reference"})
        ]
        walks[few] = await _walk(client, manager, 2, rome_code="K2204")
    assert pages[0] == pages[by_holders]
    assert walks[0] == walks[by_holders]
    first, second, by_reference, partner_first, *_, nobody = pages[0]
    assert (first["total"], len(first["items"]), len(second["items"]), len(by_reference["items"])) == (5, 2, 2, 5)
    assert first["next_cursor"]
    assert partner_first["total"] == 2
    assert len(walks[0]) == 5
    assert len(set(walks[0])) == 5
    assert nobody["total"] == 0
    assert nobody["items"] == []


async def test_created_since_and_before(
    client: AsyncClient, service_manager: Actor, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    old = await create_household(client, service_manager)
    new = await create_household(client, service_manager)
    async with sessionmaker() as session:
        await session.execute(
            text("UPDATE households SET created_at = '2026-03-10 12:00+01' WHERE id = :i"), {"i": old["id"]}
        )
        await session.commit()
    assert _refs(await _list(client, service_manager, created_before="2026-03-11")) == [old["reference"]]
    assert _refs(await _list(client, service_manager, created_before="2026-03-10")) == []
    assert _refs(await _list(client, service_manager, created_since="2026-03-11")) == [new["reference"]]
    assert len(_refs(await _list(client, service_manager, created_since="2026-03-10"))) == 2


async def test_sort(client: AsyncClient, service_manager: Actor) -> None:
    refs = [(await create_household(client, service_manager))["reference"] for _ in range(3)]
    assert _refs(await _list(client, service_manager)) == refs[::-1]  # newest first by default
    assert _refs(await _list(client, service_manager, sort="created_at")) == refs
    assert _refs(await _list(client, service_manager, sort="reference")) == sorted(refs)
    assert _refs(await _list(client, service_manager, sort="-reference")) == sorted(refs, reverse=True)
    assert (await client.get(BASE, params={"sort": "name"}, headers=service_manager.headers)).status_code == 422


async def test_search_ignores_case_and_accents(client: AsyncClient, service_manager: Actor) -> None:
    benoit = await create_household(client, service_manager, members=[adult("Benoît", "Lefèvre")])
    elodie = await create_household(client, service_manager, members=[adult("ÉLODIE", "N'Diaye")])
    await create_household(client, service_manager, members=[adult("Paul", "Martin")])

    assert _refs(await _list(client, service_manager, q="benoit")) == [benoit["reference"]]
    assert _refs(await _list(client, service_manager, q="BENOÎT")) == [benoit["reference"]]
    assert _refs(await _list(client, service_manager, q="lefev")) == [benoit["reference"]]  # partial
    assert _refs(await _list(client, service_manager, q="elodie ndi")) == []  # N'Diaye folds to "n diaye"
    assert _refs(await _list(client, service_manager, q="élodie n diaye")) == [elodie["reference"]]
    assert _refs(await _list(client, service_manager, q="Lefèvre Benoît")) == [benoit["reference"]]
    assert _refs(await _list(client, service_manager, q="benoit martin")) == []  # words of the same member


async def test_search_treats_like_wildcards_literally(client: AsyncClient, service_manager: Actor) -> None:
    await create_household(client, service_manager, members=[adult("Anna", "Smith")])
    assert _refs(await _list(client, service_manager, q="%")) == []
    assert _refs(await _list(client, service_manager, q="a%a")) == []
    assert len(_refs(await _list(client, service_manager, q="ann"))) == 1
    # "_", "-", "'" and spaces fold to nothing (they separate words in names): such a search matches no name,
    # it does not list everything.
    for nothing in ("_", "-", "__", "' -", " "):
        page = await _list(client, service_manager, q=nothing)
        assert (page["items"], page["total"]) == ([], 0), nothing
    too_long = await client.get(BASE, params={"q": "x" * 101}, headers=service_manager.headers)
    assert too_long.status_code == 422


@asynccontextmanager
async def _count_round_trips(app: Any) -> AsyncIterator[list[str]]:
    """Every round trip the app makes to PostgreSQL: statements through SQLAlchemy, and everything the driver sends
    itself (statements, BEGIN, COMMIT, ROLLBACK: asyncpg's query loggers), and pool pings.

    asyncpg calls its query loggers with `call_soon`: the block's end lets the event loop run them first."""
    trips: list[str] = []
    engine = app.state.engine.sync_engine

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        trips.append(statement)

    def on_driver_query(record: Any) -> None:
        trips.append(record.query)

    watched: list[Any] = []

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if driver not in watched:
            driver.add_query_logger(on_driver_query)
            watched.append(driver)

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine.pool, "checkout", on_checkout)
    dialect = engine.dialect
    ping = dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        trips.append("PING")
        return bool(ping(dbapi_connection))

    dialect.do_ping = counted_ping
    try:
        yield trips
        for _ in range(3):
            await asyncio.sleep(0)
    finally:
        dialect.do_ping = ping
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine.pool, "checkout", on_checkout)
        for driver in watched:
            driver.remove_query_logger(on_driver_query)


async def test_list_costs_the_same_few_statements_for_5_or_50(client: AsyncClient, app: Any, actors: Factory) -> None:
    manager = await actors.user(Role.SERVICE_MANAGER)
    partner = await actors.user(Role.PARTNER_WORKER)
    from tests.households.conftest import insert_household

    for _ in range(60):
        await insert_household(actors, partner.organisation_id, members=3)

    counts = []
    for actor in (manager, partner):
        for limit in (5, 50):
            for extra in ({}, {"q": "adult", "has_children": "false"}):
                async with _count_round_trips(app) as trips:
                    page = await _list(client, actor, limit=limit, **extra)
                assert len(page["items"]) == limit
                assert all(len(item["members"]) == 3 for item in page["items"])
                counts.append(len(trips))
    # One statement (caller, page with members, total, audit row), its own transaction: one round trip.
    assert set(counts) == {1}, counts


async def test_get_by_id_is_one_round_trip(client: AsyncClient, app: Any, actors: Factory) -> None:
    from tests.households.conftest import insert_household

    partner = await actors.user(Role.PARTNER_WORKER)
    household_id, _ = await insert_household(actors, partner.organisation_id, members=5)
    for actor in (partner, await actors.user(Role.SERVICE_MANAGER)):
        async with _count_round_trips(app) as trips:
            r = await client.get(f"{BASE}/{household_id}", headers=actor.headers)
        assert r.status_code == 200, r.text
        assert len(r.json()["members"]) == 5
        assert len(trips) == 1, trips  # one statement (caller + household + members + audit), its own transaction


async def _walk(client: AsyncClient, actor: Actor, limit: int, **params: Any) -> list[str]:
    refs: list[str] = []
    page = await _list(client, actor, limit=limit, **params)
    while True:
        refs += _refs(page)
        if page["next_cursor"] is None:
            return refs
        assert page["offset"] == 0
        page = await _list(client, actor, limit=limit, cursor=page["next_cursor"], **params)


async def test_cursor_pages_walk_the_same_rows_as_offset_pages(client: AsyncClient, app: Any, actors: Factory) -> None:
    from tests.households.conftest import insert_household

    manager = await actors.user(Role.SERVICE_MANAGER)
    partner = await actors.user(Role.PARTNER_WORKER)
    for index in range(13):
        await insert_household(actors, partner.organisation_id, members=1 + index % 2)
    for sort in ("-created_at", "created_at", "reference", "-reference"):
        everything = _refs(await _list(client, manager, limit=200, sort=sort))
        assert len(everything) == 13
        assert await _walk(client, manager, 5, sort=sort) == everything, sort
        assert await _walk(client, manager, 13, sort=sort) == everything, sort
    # Filters apply to every page; total counts every match, whatever the cursor.
    filtered = _refs(await _list(client, manager, limit=200, has_children="false"))
    assert await _walk(client, manager, 2, has_children="false") == filtered
    first = await _list(client, manager, limit=4)
    second = await _list(client, manager, limit=4, cursor=first["next_cursor"])
    assert second["total"] == 13
    # An offset page offers a cursor too (continuing after its last item).
    offset_page = await _list(client, manager, limit=4, offset=4)
    assert _refs(await _list(client, manager, limit=4, cursor=offset_page["next_cursor"])) == _refs(
        await _list(client, manager, limit=4, offset=8)
    )
    last = await _list(client, manager, limit=4, offset=12)
    assert last["next_cursor"] is None


async def test_bad_cursors_are_422_naming_cursor(client: AsyncClient, service_manager: Actor) -> None:
    for _ in range(3):
        await create_household(client, service_manager)
    cursor = (await _list(client, service_manager, limit=1))["next_cursor"]
    assert cursor
    for params in (
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJ4IjoxfQ"},  # {"x":1}
        {"cursor": "WyItY3JlYXRlZF9hdCIsWyJub3QgYSBkYXRlIiwieCJdXQ"},  # ["-created_at",["not a date","x"]]
        {"cursor": "a b"},
        {"cursor": cursor, "sort": "reference"},
    ):
        r = await client.get(BASE, params=params, headers=service_manager.headers)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["errors"][0]["field"] == "query.cursor", params
    r = await client.get(BASE, params={"cursor": cursor, "offset": 2}, headers=service_manager.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.offset"


async def test_created_dates_are_bounded(client: AsyncClient, service_manager: Actor) -> None:
    """Dates before the programme (2014) or after 2100 are a 422 naming the parameter, not a database error."""
    for name in ("created_since", "created_before"):
        for value in ("0001-01-01", "2013-12-31", "2101-01-01", "9999-12-31"):
            r = await client.get(BASE, params={name: value}, headers=service_manager.headers)
            assert r.status_code == 422, (name, value, r.text)
            assert r.json()["errors"][0]["field"] == f"query.{name}"
        for value in ("2014-01-01", "2100-12-31"):
            assert (await client.get(BASE, params={name: value}, headers=service_manager.headers)).status_code == 200


async def test_answers_are_exactly_their_response_models(client: AsyncClient, actors: Factory) -> None:
    """The two reads answer JSON built by PostgreSQL: it must be what the response models would write."""
    from tests.households.conftest import insert_household
    from toit_emploi_api.core.resources import CursorPage
    from toit_emploi_api.households.schemas import (
        HouseholdListItem,
        HouseholdOut,
        HouseholdStaffOut,
        HouseholdStatusOut,
    )

    manager = await actors.user(Role.SERVICE_MANAGER)
    partner = await actors.user(Role.PARTNER_WORKER)
    in_diagnostic = await create_household(
        client, partner, members=[adult(), child()], needs_constraints="Ground floor.", last_contact_date=None
    )
    later, _ = await insert_household(actors, partner.organisation_id, stage="matching", members=2)
    cases: list[tuple[Actor, Any, type[Any]]] = [
        (manager, in_diagnostic["id"], HouseholdStaffOut),
        (manager, later, HouseholdStaffOut),
        (partner, in_diagnostic["id"], HouseholdOut),
        (partner, later, HouseholdStatusOut),
    ]
    for actor, household_id, view in cases:
        body = (await client.get(f"{BASE}/{household_id}", headers=actor.headers)).json()
        dumped = view.model_validate(body).model_dump(mode="json")
        assert list(body) == list(dumped), view
        assert body == dumped, view
    for actor in (manager, partner):
        page = await _list(client, actor)
        dumped = CursorPage[HouseholdListItem].model_validate(page).model_dump(mode="json")
        assert page == dumped
        assert [list(item) for item in page["items"]] == [list(item) for item in dumped["items"]]
        assert (
            {len(item) for item in page["items"]}
            == {len(HouseholdOut.model_fields), len(HouseholdStatusOut.model_fields)}
            if actor is partner
            else {len(HouseholdOut.model_fields)}
        )
