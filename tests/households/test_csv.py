"""The households list as CSV: same filters, role-appropriate columns, audited like the JSON list, streamed."""

from __future__ import annotations

import asyncio
import csv
import io
import tracemalloc
from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory
from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.vocab.roles import OrganisationKind, Role
from toit_emploi_api.vocab.stages import ApplicationStatus, Stage

URL = "/api/v1/households"
CSV = {"Accept": "text/csv"}
# The volume test: the export of SMALL households, then of LARGE (four times as many).
SMALL = 2_000
LARGE = 8_000


def _rows(body: bytes) -> list[dict[str, str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode().removeprefix("\ufeff")), delimiter=";"))


async def test_staff_export_with_filters_and_audit(
    client: AsyncClient, arrange: Factory, service_manager: Actor, db: AsyncSession
) -> None:
    a = await arrange.household(adults=2, children=1, application=ApplicationStatus.SUBMITTED)
    b = await arrange.household(stage=Stage.MATCHING, adults=1, children=0)
    await arrange.household(children=0, application=ApplicationStatus.DRAFT)
    r = await client.get(URL, params={"has_children": "true"}, headers={**service_manager.headers, **CSV})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in r.headers["content-disposition"]
    (row,) = _rows(r.content)
    assert row["Identifiant"] == str(a.id)
    assert (row["Étape"], row["Candidature"], row["Adultes"], row["Enfants"]) == ("diagnostic", "submitted", "2", "1")
    assert row["Jours dans l'étape"] == "0"
    assert "Prenom" not in r.text  # one row per household: no member names
    r = await client.get(URL, params={"stage": "matching"}, headers={**service_manager.headers, **CSV})
    assert [x["Identifiant"] for x in _rows(r.content)] == [str(b.id)]
    assert len(_rows((await client.get(URL, headers={**service_manager.headers, **CSV})).content)) == 3

    events = (
        (await db.execute(select(AuditEvent).where(AuditEvent.action == "household.list").order_by(AuditEvent.at)))
        .scalars()
        .all()
    )
    assert events[0].details == {"format": "csv", "filters": ["has_children"], "household_ids": [str(a.id)]}
    assert len(events[2].details["household_ids"]) == 3  # type: ignore[index]


async def test_partner_worker_gets_its_households_status_view(
    client: AsyncClient, arrange: Factory, actors: Factory
) -> None:
    org = await arrange.partner_org()
    partner = await actors.user(Role.PARTNER_WORKER, org)
    own = await arrange.household(org=org, stage=Stage.MATCHING)
    await arrange.household(org=await actors.organisation(arrange_kind()))
    r = await client.get(URL, headers={**partner.headers, **CSV})
    (row,) = _rows(r.content)
    assert row["Identifiant"] == str(own.id)
    assert set(row) == {
        "Identifiant",
        "Référence",
        "Organisation orientatrice",
        "Étape",
        "Entrée dans l'étape",
        "Jours dans l'étape",
        "Dernier contact",
        "Adultes",
        "Enfants",
        "Créé le",
        "Mis à jour le",
    }


def arrange_kind() -> Any:
    from toit_emploi_api.vocab.roles import OrganisationKind

    return OrganisationKind.REFERRAL_PARTNER


async def _export_traced(app: FastAPI, actor: Actor, query: bytes) -> tuple[dict[str, int], int]:
    """The CSV export of the households list, driven through the ASGI app by hand (the client stays connected until
    the last chunk): what was received, and the peak of memory traced while the app produced it."""
    received = {"bytes": 0, "lines": 0, "chunks": 0}

    sent_request = asyncio.Event()
    finished = asyncio.Event()

    async def receive() -> MutableMapping[str, Any]:
        if not sent_request.is_set():
            sent_request.set()
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client stays connected until the whole answer is sent
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            received["bytes"] += len(chunk)
            received["lines"] += chunk.count(b"\r\n")
            received["chunks"] += 1
            if not message.get("more_body", False):
                finished.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", actor.headers["Authorization"].encode()),
            (b"accept", b"text/csv"),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    tracemalloc.start()
    try:
        await app(scope, receive, send)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return received, peak


async def test_the_export_streams_in_memory_that_does_not_grow_with_the_rows(
    app: FastAPI, arrange: Factory, service_manager: Actor, clean_db: None
) -> None:
    """Constant memory, shown by a ratio over two sizes: the export of SMALL households and that of four times as
    many peak at about the same traced memory (a server holding the body, or any share of it, peaks about four
    times higher)."""
    small_org = await arrange.organisation(OrganisationKind.REFERRAL_PARTNER)
    await arrange.many_households(SMALL, org=small_org, batch="S")
    await arrange.many_households(LARGE - SMALL, batch="L")
    small_query = f"referring_organisation_id={small_org}".encode()
    await _export_traced(app, service_manager, small_query)  # warm-up: first-use caches (compiled SQL) are not rows
    small, small_peak = await _export_traced(app, service_manager, small_query)
    large, large_peak = await _export_traced(app, service_manager, b"")
    assert (small["lines"], large["lines"]) == (SMALL + 1, LARGE + 1)  # the header and every household
    assert large["chunks"] > LARGE // 1000  # streamed, not one body
    assert large["bytes"] > 3.5 * small["bytes"]
    # The server never held more than a few chunks of the file, whatever its size: four times the rows, about the
    # same peak, and what the peak grew by is under a quarter of what the file grew by (holding the whole body would
    # grow it by at least as much).
    figures = (small_peak, large_peak, small, large)
    assert large_peak < 1.5 * small_peak, figures
    assert large_peak - small_peak < (large["bytes"] - small["bytes"]) / 4, figures
