"""The aggregated summary (report_household_counts, report_day_counts) stays exact through every kind of write, and
the reports read from it answer what the per-household summary answers."""

from __future__ import annotations

from datetime import date
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import Actor, Factory, etag, move
from tests.integration_imports.test_history_import import full_path, lines, places, post, withdrawn
from tests.reports.test_funnel import _known, at
from tests.reports.test_programme import _family
from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import Stage
from toit_emploi_api.vocab.statuses import MemberRole

GRAIN = (
    "referring_organisation_id, retained_year, submitted_year, withdrawn_year, stage, left_stage, left_reason, "
    "presented, reached_relay_stay, reached_lease, reached_follow_up, completed"
)
# The counts as they should be: recomputed from the per-household summary.
EXPECTED_HOUSEHOLDS = f"""
    SELECT {GRAIN}, count(*)::int, sum(adults)::int, sum(children)::int
    FROM (SELECT r.*, r.presented_at IS NOT NULL AS presented, r.completed_at IS NOT NULL AS completed
          FROM report_households r) r
    GROUP BY {GRAIN}
"""
STORED_HOUSEHOLDS = f"SELECT {GRAIN}, households, adults, children FROM report_household_counts"
EXPECTED_DAYS = """
    SELECT retained_year, submitted_year, measure, days, count(*)::int FROM (
        SELECT p.retained_year, extract(year FROM p.submitted_at AT TIME ZONE 'Europe/Paris')::int AS submitted_year,
            p.stage::text AS measure, p.days FROM report_stage_passes p
        UNION ALL
        SELECT c.retained_year, c.submitted_year, 'submission_to_lease',
            greatest(0, c.lease_signed_on - (c.submitted_at AT TIME ZONE 'Europe/Paris')::date)
        FROM report_households c WHERE c.lease_signed_on IS NOT NULL AND c.submitted_at IS NOT NULL
        UNION ALL
        SELECT c.retained_year, c.submitted_year, 'retention_to_completion',
            greatest(0, floor(extract(epoch FROM c.completed_at - c.retained_at) / 86400))::int
        FROM report_households c WHERE c.completed_at IS NOT NULL AND c.retained_at IS NOT NULL
    ) d GROUP BY 1, 2, 3, 4
"""
STORED_DAYS = "SELECT retained_year, submitted_year, measure, days, n FROM report_day_counts"

# Each pair: a query read from the counts (whole years) and the same selection read per household (other dates; no
# fact of the tests falls on 31 December, 1 or 2 January).
PAIRS: list[tuple[str, dict[str, str], dict[str, str]]] = [
    ("programme", {"retained_since": "2014-01-01"}, {"retained_since": "2014-01-02"}),
    ("programme", {"retained_since": "2014-01-01", "group_by": "retention_year"}, {"retained_since": "2014-01-02"}),
    (
        "programme",
        {"retained_since": "2014-01-01", "group_by": "referring_organisation"},
        {"retained_since": "2014-01-02"},
    ),
    (
        "programme",
        {"retained_since": "2024-01-01", "retained_before": "2025-01-01"},
        {"retained_since": "2023-12-31", "retained_before": "2025-01-02"},
    ),
    ("funnel", {"retained_since": "2014-01-01"}, {"retained_since": "2014-01-02"}),
    ("funnel", {"retained_since": "2014-01-01", "group_by": "retention_year"}, {"retained_since": "2014-01-02"}),
    (
        "funnel",
        {"submitted_since": "2024-01-01", "submitted_before": "2025-01-01"},
        {"submitted_since": "2023-12-31", "submitted_before": "2025-01-02"},
    ),
]


async def _rows(db: AsyncSession, sql: str) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in (await db.execute(text(sql))).all()), key=repr)


async def assert_exact(db: AsyncSession, client: AsyncClient, manager: Actor) -> dict[str, Any]:
    """The stored counts equal the recomputed ones (no zero row left), the reports read from the counts equal the
    reports read per household; returns the answers (to compare states)."""
    await db.rollback()
    assert await _rows(db, STORED_HOUSEHOLDS) == await _rows(db, EXPECTED_HOUSEHOLDS)
    assert await _rows(db, STORED_DAYS) == await _rows(db, EXPECTED_DAYS)
    assert await _rows(db, "SELECT 1 FROM report_household_counts WHERE households = 0") == []
    assert await _rows(db, "SELECT 1 FROM report_day_counts WHERE n = 0") == []
    await db.rollback()
    answers: dict[str, Any] = {}
    for index, (report, by_years, by_dates) in enumerate(PAIRS):
        bodies = []
        for params in (by_years, by_dates):
            full = {**params, "group_by": by_years.get("group_by", "none")}
            r = await client.get(f"/api/v1/reports/{report}", params=full, headers=manager.headers)
            assert r.status_code == 200, r.text
            body = r.json()
            for echoed in ("as_of", "retained_since", "retained_before", "submitted_since", "submitted_before"):
                body.pop(echoed, None)
            bodies.append(body)
        assert bodies[0] == bodies[1], (report, by_years)
        answers[f"{index}"] = bodies[0]
    return answers


async def test_the_counts_stay_exact_through_every_write(
    client: AsyncClient, arrange: Factory, actors: Factory, service_manager: Actor, admin: Actor, db: AsyncSession
) -> None:
    sm = service_manager
    empty = await assert_exact(db, client, sm)
    assert empty["0"]["households_retained"] == 0

    # Histories written straight in the database (as an import or a manual fix would): moves, a step back
    # relay_stay → matching, a withdrawal, a declined application.
    await _known(arrange)
    known = await assert_exact(db, client, sm)
    assert known["0"]["households_retained"] == 3
    # The cohort retained: not the declined household's diagnostic pass.
    assert [d["passes"] for d in known["4"]["stage_durations"]] == [3, 4, 3, 1, 1]

    # Through the API: applications submitted and presented, retained, withdrawn; a member added.
    org = await arrange.partner_org()
    partner = await actors.user(Role.PARTNER_WORKER, org)
    referent = await actors.user(Role.PARIS_REFERENT)
    families = [await _family(client, partner, referent, 2, 1) for _ in range(3)]
    for family in families[:2]:
        assert (await move(client, sm, family["id"], "matching")).status_code == 201
    r = await move(client, sm, families[0]["id"], "withdrawn", reason="lost_contact", note="Gone.")
    assert r.status_code == 201, r.text
    r = await move(client, sm, families[2]["id"], "withdrawn", reason="application_declined", note="Not retained.")
    assert r.status_code == 201, r.text
    await arrange.member(families[1]["id"], MemberRole.CHILD, date(2020, 5, 5))
    live = await assert_exact(db, client, sm)
    assert live["0"]["households_retained"] == 5
    assert live["0"]["declined_at_diagnostic"] == 2
    assert live["0"]["children"] == known["0"]["children"] + 2 + 1

    # A move added straight in the history, and a pass changed by hand (a move's date corrected).
    h2 = (await db.execute(text("SELECT household_id FROM report_households WHERE stage = 'lease'"))).scalar_one()
    await arrange.transition(h2, Stage.LEASE, Stage.FOLLOW_UP, at(2024, 4, 1))
    await db.rollback()
    await db.execute(
        text("UPDATE stage_transitions SET at = at + interval '5 days' WHERE household_id = :h AND to_stage = 'lease'"),
        {"h": h2},
    )
    await db.commit()
    await assert_exact(db, client, sm)

    # A household deleted in diagnostic (its application submitted), one anonymised, a move deleted by hand.
    draft = await _family(client, partner, referent, 1, 0)
    counted = await assert_exact(db, client, sm)
    assert counted["0"]["applications_submitted"] == live["0"]["applications_submitted"] + 1
    r = await client.delete(
        f"/api/v1/households/{draft['id']}",
        headers={**partner.headers, "If-Match": await etag(client, partner, draft["id"])},
    )
    assert r.status_code == 204, r.text
    r = await client.post(
        f"/api/v1/households/{families[0]['id']}/anonymise",
        json={"reason": "erasure_request"},
        headers={**sm.headers, "If-Match": await etag(client, sm, families[0]["id"])},
    )
    assert r.status_code == 200, r.text
    before_import = await assert_exact(db, client, sm)
    assert before_import["0"]["applications_submitted"] == live["0"]["applications_submitted"]
    assert before_import["0"]["children"] == counted["0"]["children"]  # kept as at anonymisation

    # A history import, then its rollback: back to the same counts.
    relay, units, opening = await places(arrange)
    history = [
        full_path("2015-01", date(2015, 2, 2), relay, units[0], opening),
        full_path("2016-01", date(2016, 3, 3), relay, units[1], opening, end="follow_up"),
        withdrawn("2015-02", date(2015, 6, 1), 90),
        withdrawn("2018-01", date(2018, 1, 8), 40, retained=False),
    ]
    r = await post(client, admin, lines(*history))
    assert r.status_code == 201, r.text
    imported = await assert_exact(db, client, sm)
    assert imported["0"]["households_retained"] == before_import["0"]["households_retained"] + 3
    assert imported["5"]["groups"][0]["key"] == "2015"
    url = f"/api/v1/history/imports/{r.json()['id']}"
    tag = (await client.get(url, headers=admin.headers)).headers["ETag"]
    r = await client.post(f"{url}/rollback", headers=admin.headers | {"If-Match": tag})
    assert r.status_code == 200, r.text
    assert await assert_exact(db, client, sm) == before_import

    # A manual fix deleting the moves of a household: back to diagnostic, nothing retained.
    await db.execute(text("DELETE FROM stage_transitions WHERE household_id = :h"), {"h": h2})
    await db.commit()
    fixed = await assert_exact(db, client, sm)
    assert fixed["0"]["households_retained"] == before_import["0"]["households_retained"] - 1
