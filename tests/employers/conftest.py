"""Helpers for the employers and job openings tests: payloads, creation through the API, statement counting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import event

from tests.factories import Actor, make_siret


def employer_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "siret": make_siret(),
        "legal_name": "Menuiserie du Cantal SARL",
        "trade_name": "Menuiserie Cantal",
        "sector": "Bâtiment",
        "address": "12 avenue de la République",
        "postcode": "15000",
        "commune_insee": "15014",
        "latitude": "44.926400",
        "longitude": "2.444000",
        "contact_name": "Claire Martin",
        "contact_phone": "04 71 00 00 00",
        "contact_email": "rh@menuiserie-cantal.example",
        "notes": "Recrute toute l'année.",
    }
    body.update(overrides)
    return body


def opening_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rome_code": "F1703",
        "title": "Maçon qualifié",
        "contract_type": "cdi",
        "hours_per_week": "35",
        "monthly_gross_wage": "1950.00",
        "open_positions": 2,
        "start_date": "2027-01-04",
        "description": "Chantiers de rénovation autour d'Aurillac.",
    }
    body.update(overrides)
    return body


async def create_employer(client: AsyncClient, actor: Actor, **overrides: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/employers", json=employer_payload(**overrides), headers=actor.headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def create_opening(client: AsyncClient, actor: Actor, employer_id: str, **overrides: Any) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/employers/{employer_id}/job-openings", json=opening_payload(**overrides), headers=actor.headers
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def if_match(actor: Actor, etag: str) -> dict[str, str]:
    return {**actor.headers, "If-Match": etag}


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(app: FastAPI) -> Callable[[], AbstractContextManager[StatementCounter]]:
    """``with count_statements() as counter:`` records every SQL statement the app's engine runs."""
    engine = app.state.engine.sync_engine

    @contextmanager
    def _count() -> Iterator[StatementCounter]:
        counter = StatementCounter()

        def on_execute(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
        ) -> None:
            counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", on_execute)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)

    return _count
