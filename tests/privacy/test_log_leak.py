"""No personal data in logs: a full scenario (accounts and sign-ins, create, list, search, read, export, pipeline
moves with notes, follow-up entries, the desk, matching, the CSV export, errors including 422s carrying bad values,
another organisation's 404s, erasure) with every logger of the server captured at DEBUG, and no name, birth date,
note or email of the scenario in any log line, nor in any problem's `detail` that the request did not send itself
(a 422 may name the unknown field you sent; it never tells another organisation's worker anything about the
family). The same scenario checks the audit trail's completeness: each request carries its own X-Request-ID, and
every successful write, every failed sign-in and every read of personal data has an audit event with that request
id."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Request, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import TEST_PASSWORD, Actor, Factory
from toit_emploi_api.core.clock import today
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import Stage

FIRST, LAST = "Zéphyrine", "Oublieuse-Brumaire"
BIRTH = "1984-07-19"
NOTE = "Hébergée chez une tante rue des Lilas"
EMAIL = "claire.confidentielle@charonne.example"
SECRETS = (FIRST, LAST, BIRTH, "19/07/1984", NOTE, EMAIL, "Lilas", "Brumaire")
# Reads that return no personal data (reference data, aggregated figures, the manager's agenda by reference).
NOT_PERSONAL = ("/api/v1/rome-codes", "/api/v1/communes", "/api/v1/vocabularies", "/api/v1/reports/", "/api/v1/agenda")
# The test client's own loggers are not the server's.
CLIENT_LOGGERS = ("httpx", "httpcore")


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(CLIENT_LOGGERS):
            return
        line = f"{record.name} {record.getMessage()} {record.__dict__}"
        if record.exc_info:
            line += logging.Formatter().formatException(record.exc_info)
        self.lines.append(line)


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    loggers = [logging.getLogger(), logging.getLogger("toit_emploi_api")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


async def test_no_personal_data_in_logs_or_problem_details(
    app: FastAPI,
    clean_db: None,
    actors: Factory,
    admin: Actor,
    capture: Capture,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    details: list[tuple[str, str]] = []  # (the problem's detail, what its request sent)
    calls: list[tuple[str, str, int, str]] = []  # (method, path, status, request id)

    async def name(request: Request) -> None:
        request.headers["X-Request-ID"] = f"leak-{uuid.uuid4().hex[:12]}"

    async def collect(response: Response) -> None:
        await response.aread()
        request = response.request
        calls.append((request.method, request.url.path, response.status_code, request.headers["X-Request-ID"]))
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            sent = str(request.url) + request.content.decode()
            details.append((str(response.json().get("detail")), sent))

    async with AsyncClient(
        transport=ASGITransport(app=app),
        base_url="http://testserver",
        event_hooks={"request": [name], "response": [collect]},
    ) as client:
        await scenario(client, actors, admin)

    assert len(capture.lines) > 20  # the request lines at least: the capture works
    for secret in SECRETS:
        leaks = [line for line in capture.lines if secret.lower() in line.lower()]
        assert not leaks, f"{secret!r} in logs: {leaks[:2]}"
        told = [d for d, sent in details if secret.lower() in d.lower() and secret.lower() not in sent.lower()]
        assert not told, f"{secret!r} in a problem detail: {told}"
    assert len(details) >= 8

    # The same scenario's audit trail: every write that succeeded, every failed sign-in, and every read of personal
    # data (everything under /api/v1 but the reference data and the reports) left an event with its request id.
    async with sessionmaker() as session:
        recorded = set((await session.execute(text("SELECT DISTINCT request_id FROM audit_events"))).scalars())
    unrecorded = [
        (method, path, status)
        for method, path, status, rid in calls
        if rid not in recorded
        and (
            (method != "GET" and status < 300)
            or (path == "/api/v1/auth/token" and status == 400)
            or (method == "GET" and status == 200 and path.startswith("/api/v1/") and not path.startswith(NOT_PERSONAL))
        )
    ]
    assert not unrecorded
    assert len(recorded) > 30


async def scenario(client: AsyncClient, actors: Factory, admin: Actor) -> None:
    org = await actors.partner_org()
    other = await actors.user(Role.PARTNER_WORKER, await actors.organisation(OrganisationKind.REFERRAL_PARTNER))
    sm = await actors.user(Role.SERVICE_MANAGER)

    async def ok(r: Response, status: int = 200) -> Any:
        assert r.status_code == status, r.text
        return r.json() if "json" in r.headers.get("content-type", "") else r.text

    # Accounts and sign-ins (a wrong password too).
    user = {"email": EMAIL, "full_name": f"{FIRST} {LAST}", "role": "partner_worker", "organisation_id": str(org)}
    await ok(await client.post("/api/v1/users", json={**user, "password": TEST_PASSWORD}, headers=admin.headers), 201)
    await ok(await client.post("/api/v1/users", json={**user, "password": TEST_PASSWORD}, headers=admin.headers), 409)
    form = {"grant_type": "password", "username": EMAIL, "password": TEST_PASSWORD}
    token = str((await ok(await client.post("/api/v1/auth/token", data=form)))["access_token"])
    await ok(await client.post("/api/v1/auth/token", data={**form, "password": NOTE}), 400)
    partner: dict[str, str] = {"Authorization": f"Bearer {token}"}

    # The file.
    members: list[dict[str, Any]] = [
        {"first_name": FIRST, "last_name": LAST, "birth_date": BIRTH, "role": "head", "rome_codes": ["F1703"]},
        {"first_name": "Brumaire", "last_name": LAST, "birth_date": "2016-05-01", "role": "child"},
    ]
    body: dict[str, Any] = {
        "housing_situation": "hosted_by_relatives",
        "needs_constraints": NOTE,
        "consent_date": "2026-11-01",
        "consent_scope": NOTE,
        "members": members,
    }
    h = await ok(await client.post("/api/v1/households", json=body, headers=partner), 201)
    hid = h["id"]
    head = h["members"][0]["id"]

    # 422s carrying bad values: a child born in 1984, a name too long, an impossible date, an unknown field.
    bad_child = {**body, "members": [{**members[0], "role": "child"}]}
    await ok(await client.post("/api/v1/households", json=bad_child, headers=partner), 422)
    bad_name = {**body, "members": [{**members[0], "first_name": FIRST * 20}]}
    await ok(await client.post("/api/v1/households", json=bad_name, headers=partner), 422)
    etag = (await client.get(f"/api/v1/households/{hid}", headers=partner)).headers["ETag"]
    await ok(
        await client.patch(
            f"/api/v1/households/{hid}/members/{head}",
            json={"birth_date": "1984-07-32"},
            headers={**partner, "If-Match": etag},
        ),
        422,
    )
    await ok(
        await client.patch(
            f"/api/v1/households/{hid}",
            json={LAST: NOTE, "housing_situation": LAST},
            headers={**partner, "If-Match": etag},
        ),
        422,
    )

    # Lists, searches, reads: by its partner and another organisation's (404s).
    await ok(await client.get("/api/v1/households", params={"q": LAST}, headers=partner))
    await ok(await client.get(f"/api/v1/households/{hid}", headers=partner))
    await ok(await client.get(f"/api/v1/households/{hid}/members", headers=partner))
    await ok(await client.get(f"/api/v1/households/{hid}/access-log", headers=partner))
    await ok(await client.get("/api/v1/households", params={"q": f"{FIRST} {LAST}"}, headers=other.headers))
    await ok(await client.get(f"/api/v1/households/{hid}", headers=other.headers), 404)
    await ok(await client.get(f"/api/v1/households/{hid}/members/{head}", headers=other.headers), 404)
    await ok(await client.get("/api/v1/households/possible-duplicates", headers=sm.headers))

    # The pipeline, with notes: the partner submits the application, the service manager presents and retains it.
    for who, step in ((partner, "submit"), (sm.headers, "present")):
        tag = (await client.get(f"/api/v1/households/{hid}/transitions", headers=who)).headers["ETag"]
        await ok(
            await client.post(
                f"/api/v1/households/{hid}/application/{step}", json={"note": NOTE}, headers={**who, "If-Match": tag}
            ),
            201,
        )
    tag = (await client.get(f"/api/v1/households/{hid}/transitions", headers=sm.headers)).headers["ETag"]
    await ok(
        await client.post(
            f"/api/v1/households/{hid}/transitions",
            json={"to": "matching", "note": NOTE},
            headers={**sm.headers, "If-Match": tag},
        ),
        201,
    )
    opening = await actors.opening()
    await ok(
        await client.post(
            f"/api/v1/households/{hid}/placements",
            json={"member_id": head, "job_opening_id": str(opening), "note": NOTE},
            headers=sm.headers,
        ),
        201,
    )
    tag = (await client.get(f"/api/v1/households/{hid}/transitions", headers=sm.headers)).headers["ETag"]
    await ok(
        await client.post(
            f"/api/v1/households/{hid}/transitions",
            json={"to": "lease", "note": NOTE},
            headers={**sm.headers, "If-Match": tag},
        ),
        409,
    )
    await ok(
        await client.post(
            f"/api/v1/households/{hid}/transitions",
            json={"to": "withdrawn", "reason": "household_declined", "note": NOTE},
            headers={**sm.headers, "If-Match": tag},
        ),
        201,
    )
    await ok(await client.get(f"/api/v1/households/{hid}/transitions", headers=sm.headers))
    await ok(await client.get(f"/api/v1/households/{hid}/placements", headers=sm.headers))

    # A family in follow-up: entries with notes (and a 422 quoting a bad value), the desk, matching, the CSV export.
    f = await actors.household(stage=Stage.FOLLOW_UP, org=org, first_name=FIRST, last_name=LAST)
    entries = f"/api/v1/households/{f.id}/follow-up-entries"
    entry = {"entry_date": today().isoformat(), "domain": "schooling", "note": NOTE}
    await ok(await client.post(entries, json=entry, headers=sm.headers), 201)
    await ok(await client.post(entries, json={**entry, "domain": NOTE}, headers=sm.headers), 422)
    later = (today() + timedelta(days=3)).isoformat()
    await ok(await client.post(entries, json={**entry, "entry_date": later}, headers=sm.headers), 422)
    await ok(await client.get(entries, headers=sm.headers))
    await ok(await client.get(entries, headers=other.headers), 403)  # partner workers never read entries
    g = await actors.household(stage=Stage.MATCHING, org=org, first_name=FIRST, last_name=LAST)
    await ok(await client.get(f"/api/v1/households/{g.id}/suggestions", headers=sm.headers))
    await ok(await client.get("/api/v1/placements", headers=sm.headers))
    await ok(await client.get("/api/v1/relay-stays", headers=sm.headers))
    await ok(await client.get("/api/v1/households", params={"q": LAST}, headers={**sm.headers, "Accept": "text/csv"}))
    await ok(await client.get("/api/v1/retention/due", headers=sm.headers))
    await ok(await client.get(f"/api/v1/households/{f.id}/access-log", headers=sm.headers))

    # The data subject's rights, the admin's trail.
    await ok(await client.get(f"/api/v1/households/{hid}/export", headers=sm.headers))
    await ok(await client.get("/api/v1/audit-events", headers=admin.headers))
    await ok(await client.get("/api/v1/audit-events", headers={**admin.headers, "Accept": "text/csv"}))
    etag = (await client.get(f"/api/v1/households/{hid}", headers=sm.headers)).headers["ETag"]
    await ok(
        await client.post(
            f"/api/v1/households/{hid}/anonymise",
            json={"reason": "erasure_request"},
            headers={**sm.headers, "If-Match": etag},
        )
    )
    await ok(await client.post("/api/v1/retention/runs", json={"dry_run": True}, headers=admin.headers))
