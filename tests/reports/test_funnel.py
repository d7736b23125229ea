"""The funnel: reached per step, conversion, stage durations (both passes of a step back) on a known data set."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import Actor, Factory
from toit_emploi_api.vocab.roles import Role

URL = "/api/v1/reports/funnel"


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


async def _known(arrange: Factory) -> None:
    """Five households with known dates (see each comment: whole days per pass)."""
    h1, h2, h3, h4, h5 = [(await arrange.household(children=1)).id for _ in range(5)]
    # diagnostic 10, matching 20, relay_stay 4, lease 30, follow_up 90; retained 2024-01-11, completed 2024-06-03.
    await arrange.history(
        h1,
        at(2024, 1, 1),
        [
            ("submitted", at(2024, 1, 3)),
            ("presented", at(2024, 1, 5)),
            ("matching", at(2024, 1, 11)),
            ("relay_stay", at(2024, 1, 31)),
            ("lease", at(2024, 2, 4)),
            ("follow_up", at(2024, 3, 5)),
            ("completed", at(2024, 6, 3)),
        ],
    )
    # diagnostic 20, matching 20, relay_stay 3, back to matching 10, relay_stay 4, now in lease.
    await arrange.history(
        h2,
        at(2024, 1, 1),
        [
            ("submitted", at(2024, 1, 2)),
            ("presented", at(2024, 1, 3)),
            ("matching", at(2024, 1, 21)),
            ("relay_stay", at(2024, 2, 10)),
            ("matching", at(2024, 2, 13)),
            ("relay_stay", at(2024, 2, 23)),
            ("lease", at(2024, 2, 27)),
        ],
    )
    # Retained in 2025: diagnostic 5, matching 10, then withdrawn.
    await arrange.history(
        h3,
        at(2025, 1, 1),
        [
            ("submitted", at(2025, 1, 2)),
            ("presented", at(2025, 1, 3)),
            ("matching", at(2025, 1, 6)),
            ("withdrawn", at(2025, 1, 16)),
        ],
        reason="lost_contact",
    )
    # Declined after 3 days of diagnostic; the fifth household is still in diagnostic (no completed pass).
    await arrange.history(
        h4,
        at(2024, 1, 1),
        [("submitted", at(2024, 1, 2)), ("withdrawn", at(2024, 1, 4))],
        reason="application_declined",
    )
    await arrange.history(h5, at(2024, 1, 1), [])


def _durations(body: dict[str, Any]) -> dict[str, tuple[object, ...]]:
    return {d["stage"]: (d["passes"], d["median_days"], d["p75_days"], d["p90_days"]) for d in body["stage_durations"]}


async def test_known_data_set(client: AsyncClient, arrange: Factory, service_manager: Actor) -> None:
    await _known(arrange)
    r = await client.get(URL, headers=service_manager.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(s["step"], s["reached"], s["conversion_from_previous"]) for s in body["steps"]] == [
        ("diagnostic", 5, None),
        ("application_submitted", 4, "0.8000"),
        ("application_presented", 3, "0.7500"),
        ("matching", 3, "1.0000"),
        ("relay_stay", 2, "0.6667"),
        ("lease", 2, "1.0000"),
        ("follow_up", 1, "0.5000"),
        ("completed", 1, "1.0000"),
    ]
    # Nearest-rank percentiles: diagnostic 3, 5, 10, 20; matching 10, 10, 20, 20 (both passes of h2); relay 3, 4, 4.
    assert _durations(body) == {
        "diagnostic": (4, 5, 10, 20),
        "matching": (4, 10, 20, 20),
        "relay_stay": (3, 4, 4, 4),
        "lease": (1, 30, 30, 30),
        "follow_up": (1, 90, 90, 90),
    }
    assert body["retention_to_completion"] == {"households": 1, "median_days": 144}
    assert body["submission_to_lease"] == {"households": 0, "median_days": None}
    assert body["groups"] == []
    assert body["suppressed"] == []
    assert set(body["definitions"]) == {"steps", "stage_durations", "submission_to_lease", "retention_to_completion"}

    r = await client.get(URL, params={"group_by": "retention_year"}, headers=service_manager.headers)
    groups = {g["key"]: g for g in r.json()["groups"]}
    assert set(groups) == {"2024", "2025"}
    assert [s["reached"] for s in groups["2024"]["steps"]] == [2, 2, 2, 2, 2, 2, 1, 1]
    assert _durations(groups["2025"])["matching"] == (1, 10, 10, 10)
    assert r.json()["steps"][0]["reached"] == 5  # the whole cohort stays at the top level

    # A cohort: retained in 2024.
    r = await client.get(
        URL, params={"retained_since": "2024-01-01", "retained_before": "2025-01-01"}, headers=service_manager.headers
    )
    assert [s["reached"] for s in r.json()["steps"]] == [2, 2, 2, 2, 2, 2, 1, 1]
    assert _durations(r.json())["matching"] == (3, 20, 20, 20)
    r = await client.get(URL, params={"submitted_since": "2025-01-01"}, headers=service_manager.headers)
    assert r.json()["steps"][0]["reached"] == 1


async def test_funder_sees_no_small_cell(client: AsyncClient, arrange: Factory, actors: Factory) -> None:
    await _known(arrange)
    funder = await actors.user(Role.FUNDER)
    body = (await client.get(URL, params={"group_by": "retention_year"}, headers=funder.headers)).json()
    # Totals stay; durations over 1 or 2 passes do not.
    assert body["steps"][6]["reached"] == 1
    assert _durations(body)["lease"] == (None, None, None, None)
    assert _durations(body)["diagnostic"] == (4, 5, 10, 20)
    assert body["retention_to_completion"] == {"households": None, "median_days": None}
    assert set(body["suppressed"]) == {
        "stage_durations.lease",
        "stage_durations.follow_up",
        "retention_to_completion",
    }
    g2025 = next(g for g in body["groups"] if g["key"] == "2025")
    assert [s["reached"] for s in g2025["steps"]] == [None, None, None, None, 0, 0, 0, 0]
    assert "steps.matching" in g2025["suppressed"]
    assert body["suppression_threshold"] == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"retained_since": "2013-12-31"}, "retained_since"),
        ({"submitted_before": "not-a-date"}, "submitted_before"),
        ({"group_by": "referring_organisation"}, "group_by"),
        ({"retained_since": "2024-05-01", "retained_before": "2024-05-01"}, "retained_before"),
    ],
)
async def test_bad_query_values_are_422_naming_the_parameter(
    client: AsyncClient, service_manager: Actor, params: dict[str, str], field: str
) -> None:
    r = await client.get(URL, params=params, headers=service_manager.headers)
    assert r.status_code == 422
    assert any(field in e["field"] for e in r.json()["errors"])
