"""Idempotency-Key on every POST that creates or changes something: declared, documented, and safe under races.

One mechanism (`core.idempotency.idempotent`) applied to each route; this module walks the app and fails on a
POST route without it, checks the OpenAPI document, and fires 20 concurrent identical POSTs with one key at each
such route: one object (or one change), one first answer, 19 replays of it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.employers.conftest import employer_payload, opening_payload
from tests.factories import Actor, Factory, etag
from tests.housing.conftest import unit
from toit_emploi_api.core.clock import today
from toit_emploi_api.core.idempotency import REPLAYED_HEADER, is_idempotent
from toit_emploi_api.core.routes import iter_api_routes
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import ApplicationStatus, HistoryKind, Stage

# POSTs that neither create nor change anything the caller could repeat by mistake.
EXEMPT = {
    "/api/v1/auth/token",  # a token request: each answer is a new token, nothing is written for the caller
    "/api/v1/auth/revoke",  # RFC 7009: revoking twice is revoking once (always 200, nothing to replay)
}
CONCURRENT = 20


def post_routes(app: FastAPI) -> list[tuple[str, Any]]:
    return [(r.path, r.endpoint) for r in iter_api_routes(app) if "POST" in (r.methods or ())]


def test_every_post_route_declares_idempotency(app: FastAPI) -> None:
    missing = [path for path, endpoint in post_routes(app) if path not in EXEMPT and not is_idempotent(endpoint)]
    assert missing == [], f"POST routes without @idempotent: {missing}"


def test_the_openapi_document_declares_the_key_and_the_replay_header(app: FastAPI) -> None:
    document = app.openapi()
    for path, _ in post_routes(app):
        operation = document["paths"][path]["post"]
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        if path in EXEMPT:
            assert "Idempotency-Key" not in names
            continue
        assert "Idempotency-Key" in names, path
        successes = [entry for status, entry in operation["responses"].items() if status.startswith("2")]
        assert successes, path
        assert all(REPLAYED_HEADER in entry.get("headers", {}) for entry in successes), path
        assert "urn:toit-emploi:problem:idempotency-key-reused" in operation["responses"]["422"]["x-problem-types"]


@dataclass
class Case:
    """One POST: where, what, who, and the SQL counting what it creates (None: a change, counted by its answer)."""

    url: str
    actor: Actor
    json: Any = None
    count: str | None = None
    if_match: bool = False
    made: int = 1
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


Arrange = Callable[[AsyncClient, Factory], Awaitable[Case]]


async def _organisation(client: AsyncClient, f: Factory) -> Case:
    body = {"name": "association Charonne", "kind": "referral_partner"}
    return Case("/api/v1/organisations", await f.user(Role.ADMIN), body, "SELECT count(*) FROM organisations")


async def _user(client: AsyncClient, f: Factory) -> Case:
    body = {
        "email": "claire.martin@charonne.example",
        "full_name": "Claire Martin",
        "role": "partner_worker",
        "organisation_id": str(await f.partner_org()),
        "password": "correct horse battery staple",
    }
    return Case("/api/v1/users", await f.user(Role.ADMIN), body, "SELECT count(*) FROM users")


async def _api_client(client: AsyncClient, f: Factory) -> Case:
    body = {"name": "Polygone sync", "role": "landlord", "organisation_id": str(await f.landlord_org())}
    return Case("/api/v1/api-clients", await f.user(Role.ADMIN), body, "SELECT count(*) FROM api_clients")


async def _api_client_secret(client: AsyncClient, f: Factory) -> Case:
    credentials = await f.api_client()
    return Case(f"/api/v1/api-clients/{credentials.id}/secret", await f.user(Role.ADMIN), if_match=True)


async def _household(client: AsyncClient, f: Factory) -> Case:
    body = {"housing_situation": "hotel_115", "members": [{"first_name": "Awa", "last_name": "Traoré",
            "birth_date": "1988-02-01", "role": "head"}]}  # fmt: skip
    return Case("/api/v1/households", await f.user(Role.PARTNER_WORKER), body, "SELECT count(*) FROM households")


async def _member(client: AsyncClient, f: Factory) -> Case:
    h = await f.household(adults=1, children=0)
    body = {"first_name": "Moussa", "last_name": "Traoré", "birth_date": "1986-05-12", "role": "partner"}
    return Case(
        f"/api/v1/households/{h.id}/members",
        await f.user(Role.SERVICE_MANAGER),
        body,
        f"SELECT count(*) FROM household_members WHERE household_id = '{h.id}'",
    )


async def _employer(client: AsyncClient, f: Factory) -> Case:
    return Case(
        "/api/v1/employers", await f.user(Role.SERVICE_MANAGER), employer_payload(), "SELECT count(*) FROM employers"
    )


async def _job_opening(client: AsyncClient, f: Factory) -> Case:
    employer = await f.employer()
    return Case(
        f"/api/v1/employers/{employer}/job-openings",
        await f.user(Role.SERVICE_MANAGER),
        opening_payload(),
        "SELECT count(*) FROM job_openings",
    )


async def _housing_unit(client: AsyncClient, f: Factory) -> Case:
    landlord = await f.user(Role.LANDLORD)
    return Case("/api/v1/housing-units", landlord, unit("U-1"), "SELECT count(*) FROM housing_units")


async def _sync(client: AsyncClient, f: Factory) -> Case:
    landlord = await f.user(Role.LANDLORD)
    body = {"mode": "snapshot", "units": [unit("S-1"), unit("S-2")]}
    return Case("/api/v1/housing-units/sync", landlord, body, "SELECT count(*) FROM housing_units", made=2)


async def _transition(client: AsyncClient, f: Factory) -> Case:
    h = await f.household()
    return Case(
        f"/api/v1/households/{h.id}/transitions",
        await f.user(Role.SERVICE_MANAGER),
        {"to": "matching"},
        "SELECT count(*) FROM stage_transitions",
        if_match=True,
    )


async def _placement(client: AsyncClient, f: Factory) -> Case:
    h = await f.household(stage=Stage.MATCHING)
    opening = await f.opening(positions=3)
    return Case(
        f"/api/v1/households/{h.id}/placements",
        await f.user(Role.SERVICE_MANAGER),
        {"member_id": str(h.adults[0]), "job_opening_id": str(opening)},
        "SELECT count(*) FROM placements",
    )


async def _relay_stay(client: AsyncClient, f: Factory) -> Case:
    h = await f.household(stage=Stage.MATCHING)
    relay = await f.unit(relay=True)
    start = today() + timedelta(days=10)
    body = {"unit_id": str(relay), "start_date": start.isoformat(), "end_date": (start + timedelta(3)).isoformat()}
    return Case(
        f"/api/v1/households/{h.id}/relay-stays",
        await f.user(Role.SERVICE_MANAGER),
        body,
        "SELECT count(*) FROM relay_stays",
    )


async def _relay_stay_cancel(client: AsyncClient, f: Factory) -> Case:
    stay = await f.relay_stay(await f.unit(relay=True), today() + timedelta(days=10))
    return Case(
        f"/api/v1/relay-stays/{stay}/cancel",
        await f.user(Role.SERVICE_MANAGER),
        count="SELECT count(*) FROM audit_events WHERE action = 'relay_stay.cancel'",
        headers={"If-Match": '"1"'},
    )


async def _allocation(client: AsyncClient, f: Factory) -> Case:
    h = await f.household(stage=Stage.RELAY_STAY)
    return Case(
        f"/api/v1/households/{h.id}/allocation",
        await f.user(Role.SERVICE_MANAGER),
        {"unit_id": str(await f.unit())},
        "SELECT count(*) FROM housing_allocations",
    )


async def _allocation_cancel(client: AsyncClient, f: Factory) -> Case:
    h = await f.household(stage=Stage.RELAY_STAY)
    manager = await f.user(Role.SERVICE_MANAGER)
    r = await client.post(
        f"/api/v1/households/{h.id}/allocation", json={"unit_id": str(await f.unit())}, headers=manager.headers
    )
    assert r.status_code == 201, r.text
    return Case(
        f"/api/v1/households/{h.id}/allocation/cancel",
        manager,
        count="SELECT count(*) FROM audit_events WHERE action = 'allocation.cancel'",
        headers={"If-Match": r.headers["ETag"]},
    )


async def _follow_up(client: AsyncClient, f: Factory) -> Case:
    h = await f.household(stage=Stage.FOLLOW_UP)
    body = {"entry_date": today().isoformat(), "domain": "benefits", "note": "CAF file opened."}
    return Case(
        f"/api/v1/households/{h.id}/follow-up-entries",
        await f.user(Role.SERVICE_MANAGER),
        body,
        "SELECT count(*) FROM follow_up_entries",
    )


_HISTORY = (
    b'{"key": "h1", "created_on": "2015-02-02", "housing_situation": "street", "moves": [{"to": "withdrawn",'
    b' "on": "2015-03-02", "reason": "application_declined", "note": "Not retained."}]}\n'
)
_NDJSON = {"Content-Type": "application/x-ndjson"}


async def _history_import(client: AsyncClient, f: Factory) -> Case:
    admin = await f.user(Role.ADMIN)
    return Case("/api/v1/history/import", admin, count="SELECT count(*) FROM imports", content=_HISTORY,
                headers=_NDJSON)  # fmt: skip


async def _history_rollback(client: AsyncClient, f: Factory) -> Case:
    admin = await f.user(Role.ADMIN)
    r = await client.post("/api/v1/history/import", content=_HISTORY, headers=admin.headers | _NDJSON)
    assert r.status_code == 201, r.text
    return Case(
        f"/api/v1/history/imports/{r.json()['id']}/rollback",
        admin,
        count="SELECT count(*) FROM audit_events WHERE action = 'history.rollback'",
        headers={"If-Match": '"1"'},
    )


async def _retention_run(client: AsyncClient, f: Factory) -> Case:
    old = await f.household(stage=Stage.WITHDRAWN)
    # Closed with its last contact long ago: due for anonymisation.
    await f.set_household(old.id, last_contact_date=date(2016, 1, 4))
    return Case(
        "/api/v1/retention/runs",
        await f.user(Role.ADMIN),
        {"dry_run": False},
        "SELECT count(*) FROM audit_events WHERE action = 'retention.run'",
    )


async def _anonymise(client: AsyncClient, f: Factory) -> Case:
    h = await f.household(stage=Stage.WITHDRAWN)
    manager = await f.user(Role.SERVICE_MANAGER)
    tag = (await client.get(f"/api/v1/households/{h.id}", headers=manager.headers)).headers["ETag"]
    return Case(
        f"/api/v1/households/{h.id}/anonymise",
        manager,
        {"reason": "erasure_request"},
        "SELECT count(*) FROM audit_events WHERE action = 'household.anonymise'",
        headers={"If-Match": tag},
    )


async def _application_step(f: Factory, step: str, before: ApplicationStatus, kind: HistoryKind) -> Case:
    h = await f.household(application=before)
    return Case(
        f"/api/v1/households/{h.id}/application/{step}",
        await f.user(Role.PARIS_REFERENT),
        {"note": "Dossier complet."},
        f"SELECT count(*) FROM stage_transitions WHERE household_id = '{h.id}' AND kind = '{kind.value}'",
        if_match=True,
    )


async def _application_submit(client: AsyncClient, f: Factory) -> Case:
    return await _application_step(f, "submit", ApplicationStatus.DRAFT, HistoryKind.APPLICATION_SUBMITTED)


async def _application_present(client: AsyncClient, f: Factory) -> Case:
    return await _application_step(f, "present", ApplicationStatus.SUBMITTED, HistoryKind.APPLICATION_PRESENTED)


async def _webhook_subscription(client: AsyncClient, f: Factory) -> Case:
    body = {"organisation_id": str(await f.partner_org()), "url": "http://127.0.0.1:9/hook",
            "event_types": ["household.created"]}  # fmt: skip
    return Case("/api/v1/webhook-subscriptions", await f.user(Role.ADMIN), body,
                "SELECT count(*) FROM webhook_subscriptions")  # fmt: skip


async def _webhook_secret(client: AsyncClient, f: Factory) -> Case:
    admin = await f.user(Role.ADMIN)
    created = await client.post("/api/v1/webhook-subscriptions", json=(await _webhook_subscription(client, f)).json,
                                headers=admin.headers)  # fmt: skip
    assert created.status_code == 201, created.text
    return Case(f"/api/v1/webhook-subscriptions/{created.json()['id']}/secret", admin, if_match=True)


CASES: dict[str, Arrange] = {
    "/api/v1/webhook-subscriptions": _webhook_subscription,
    "/api/v1/webhook-subscriptions/{subscription_id}/secret": _webhook_secret,
    "/api/v1/households/{household_id}/application/submit": _application_submit,
    "/api/v1/households/{household_id}/application/present": _application_present,
    "/api/v1/retention/runs": _retention_run,
    "/api/v1/households/{household_id}/anonymise": _anonymise,
    "/api/v1/history/import": _history_import,
    "/api/v1/history/imports/{import_id}/rollback": _history_rollback,
    "/api/v1/organisations": _organisation,
    "/api/v1/users": _user,
    "/api/v1/api-clients": _api_client,
    "/api/v1/api-clients/{api_client_id}/secret": _api_client_secret,
    "/api/v1/households": _household,
    "/api/v1/households/{household_id}/members": _member,
    "/api/v1/employers": _employer,
    "/api/v1/employers/{employer_id}/job-openings": _job_opening,
    "/api/v1/housing-units": _housing_unit,
    "/api/v1/housing-units/sync": _sync,
    "/api/v1/households/{household_id}/transitions": _transition,
    "/api/v1/households/{household_id}/placements": _placement,
    "/api/v1/households/{household_id}/relay-stays": _relay_stay,
    "/api/v1/relay-stays/{relay_stay_id}/cancel": _relay_stay_cancel,
    "/api/v1/households/{household_id}/allocation": _allocation,
    "/api/v1/households/{household_id}/allocation/cancel": _allocation_cancel,
    "/api/v1/households/{household_id}/follow-up-entries": _follow_up,
}
# The households import races in tests/integration_imports/test_households_import.py.
COVERED_ELSEWHERE = {
    "/api/v1/households/import",
    # tests/integration/test_webhook_delivery.py: twenty concurrent redeliveries with one key send it once more.
    "/api/v1/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver",
}


def test_every_idempotent_route_has_a_concurrency_case(app: FastAPI) -> None:
    routes = {path for path, _ in post_routes(app) if path not in EXEMPT}
    assert routes - set(CASES) - COVERED_ELSEWHERE == set()


async def _count(db: AsyncSession, sql: str) -> int:
    await db.rollback()  # a fresh snapshot
    return int((await db.execute(text(sql))).scalar_one())


@pytest.mark.parametrize("route", sorted(CASES))
async def test_twenty_concurrent_identical_posts_make_one_change(
    route: str, client: AsyncClient, factory: Factory, db: AsyncSession
) -> None:
    case = await CASES[route](client, factory)
    headers = case.actor.headers | case.headers | {"Idempotency-Key": f"race-{uuid.uuid4()}"}
    if case.if_match:
        if "transitions" in case.url:
            headers["If-Match"] = await etag(client, case.actor, case.url.split("/")[4])
        else:
            headers["If-Match"] = "*"
    before = await _count(db, case.count) if case.count else 0

    responses = await asyncio.gather(
        *[
            client.post(case.url, content=case.content, headers=headers)
            if case.content is not None
            else client.post(case.url, json=case.json, headers=headers)
            for _ in range(CONCURRENT)
        ]
    )

    first = [r for r in responses if REPLAYED_HEADER not in r.headers]
    assert len(first) == 1, [(r.status_code, r.text[:200]) for r in responses]
    assert first[0].status_code in (200, 201), first[0].text
    for r in responses:
        assert r.status_code == first[0].status_code
        assert r.json() == first[0].json()
        assert r.headers.get("Location") == first[0].headers.get("Location")
    if case.count:
        assert await _count(db, case.count) == before + case.made


async def test_replay_of_a_change_skips_if_match_and_another_body_is_422(client: AsyncClient, factory: Factory) -> None:
    """A replayed transition does not check If-Match again (the ETag has moved on); another body is 422."""
    manager = await factory.user(Role.SERVICE_MANAGER)
    h = await factory.household()
    url = f"/api/v1/households/{h.id}/transitions"
    headers = manager.headers | {"Idempotency-Key": "move-1", "If-Match": await etag(client, manager, h.id)}
    first = await client.post(url, json={"to": "matching"}, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post(url, json={"to": "matching"}, headers=headers)
    assert again.status_code == 201
    assert again.headers[REPLAYED_HEADER] == "true"
    assert again.json() == first.json()
    other = await client.post(url, json={"to": "withdrawn"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:toit-emploi:problem:idempotency-key-reused"


async def test_a_follow_up_entry_sent_twice_with_one_key_is_one_entry(
    client: AsyncClient, factory: Factory, db: AsyncSession
) -> None:
    """The bug of issue 14: the same Idempotency-Key on a follow-up entry created two entries."""
    manager = await factory.user(Role.SERVICE_MANAGER)
    h = await factory.household(stage=Stage.FOLLOW_UP)
    url = f"/api/v1/households/{h.id}/follow-up-entries"
    body = {"entry_date": today().isoformat(), "domain": "schooling", "note": "School enrolment done."}
    headers = manager.headers | {"Idempotency-Key": "entry-1"}
    a = await client.post(url, json=body, headers=headers)
    b = await client.post(url, json=body, headers=headers)
    assert a.status_code == b.status_code == 201
    assert b.headers[REPLAYED_HEADER] == "true"
    assert a.json()["id"] == b.json()["id"]
    assert await _count(db, "SELECT count(*) FROM follow_up_entries") == 1
    # Keys are per caller: another manager's same key is its own request.
    other = await factory.user(Role.SERVICE_MANAGER, await factory.default_organisation(OrganisationKind.OPERATOR))
    c = await client.post(url, json=body, headers=other.headers | {"Idempotency-Key": "entry-1"})
    assert c.status_code == 201
    assert REPLAYED_HEADER not in c.headers
    assert await _count(db, "SELECT count(*) FROM follow_up_entries") == 2


async def test_a_replayed_household_creation_is_recorded_as_a_read(
    client: AsyncClient, factory: Factory, db: AsyncSession
) -> None:
    """A replay answered before the endpoint runs still commits what it recorded (the read of the household)."""
    partner = await factory.user(Role.PARTNER_WORKER)
    case = await _household(client, factory)
    headers = partner.headers | {"Idempotency-Key": "read-on-replay"}
    assert (await client.post(case.url, json=case.json, headers=headers)).status_code == 201
    assert (await client.post(case.url, json=case.json, headers=headers)).headers[REPLAYED_HEADER] == "true"
    reads = "SELECT count(*) FROM audit_events WHERE action = 'household.read'"
    assert await _count(db, reads) == 1
