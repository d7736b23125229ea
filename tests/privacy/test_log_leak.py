"""No personal data in logs: a full scenario (accounts and sign-ins, create, list, search, read, export, pipeline
moves with notes, errors including 422s carrying bad values, another organisation's 404s, erasure) with every
logger of the server captured at DEBUG, and no name, birth date, note or email of the scenario in any log line, nor
in any problem's `detail` that the request did not send itself (a 422 may name the unknown field you sent; it never
tells another organisation's worker anything about the family)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from tests.factories import TEST_PASSWORD, Actor, Factory
from toit_emploi_api.vocab.roles import OrganisationKind, Role

FIRST, LAST = "Zéphyrine", "Oublieuse-Brumaire"
BIRTH = "1984-07-19"
NOTE = "Hébergée chez une tante rue des Lilas"
EMAIL = "claire.confidentielle@charonne.example"
SECRETS = (FIRST, LAST, BIRTH, "19/07/1984", NOTE, EMAIL, "Lilas", "Brumaire")
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
    app: FastAPI, clean_db: None, actors: Factory, admin: Actor, capture: Capture
) -> None:
    details: list[tuple[str, str]] = []  # (the problem's detail, what its request sent)

    async def collect(response: Response) -> None:
        await response.aread()
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            sent = str(response.request.url) + response.request.content.decode()
            details.append((str(response.json().get("detail")), sent))

    async with AsyncClient(
        transport=ASGITransport(app=app), base_url="http://testserver", event_hooks={"response": [collect]}
    ) as client:
        await scenario(client, actors, admin)

    assert len(capture.lines) > 20  # the request lines at least: the capture works
    for secret in SECRETS:
        leaks = [line for line in capture.lines if secret.lower() in line.lower()]
        assert not leaks, f"{secret!r} in logs: {leaks[:2]}"
        told = [d for d, sent in details if secret.lower() in d.lower() and secret.lower() not in sent.lower()]
        assert not told, f"{secret!r} in a problem detail: {told}"
    assert len(details) >= 8


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

    # The pipeline, with notes.
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
