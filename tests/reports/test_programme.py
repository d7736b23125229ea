"""The programme report: the published cohort built through the API, suppression, roles, bad query values, CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import Actor, Factory, book_stay, etag, move, patch_placement, record_outcome
from toit_emploi_api.core.clock import today
from toit_emploi_api.vocab.roles import Role

URL = "/api/v1/reports/programme"


async def _family(client: AsyncClient, partner: Actor, referent: Actor, adults: int, children: int) -> dict[str, Any]:
    """A household created, submitted by its partner and presented by the Paris referent, through the API."""
    members: list[dict[str, Any]] = [
        {
            "first_name": "Awa",
            "last_name": "Diallo",
            "birth_date": "1984-06-01",
            "role": "head",
            "rome_codes": ["F1703"],
        }
    ]
    if adults > 1:
        members.append({"first_name": "Issa", "last_name": "Diallo", "birth_date": "1988-02-10", "role": "partner"})
    for i in range(children):
        members.append(
            {"first_name": f"Enfant{i}", "last_name": "Diallo", "birth_date": f"201{i + 4}-09-01", "role": "child"}
        )
    body = {
        "housing_situation": "hotel_115",
        "consent_date": today().isoformat(),
        "consent_scope": "Programme.",
        "members": members,
    }
    r = await client.post("/api/v1/households", json=body, headers=partner.headers)
    assert r.status_code == 201, r.text
    household = r.json()
    for actor, step in ((partner, "submit"), (referent, "present")):
        tag = await etag(client, actor, household["id"])
        r = await client.post(
            f"/api/v1/households/{household['id']}/application/{step}",
            json={},
            headers={**actor.headers, "If-Match": tag},
        )
        assert r.status_code == 201, r.text
    return dict(household)


async def _ok(r: Any) -> Any:
    response = await r
    assert response.status_code in (200, 201), response.text
    return response


# (stage reached, then withdrawn with this reason or None): 21 installed, 10 withdrawn after retention at different
# stages, 4 in progress.
_Plan = list[tuple[str, str | None]]
PLAN: _Plan = (
    _Plan([("lease", None)] * 15)
    + [("follow_up", None)] * 4
    + [("completed", None)] * 2
    + [("matching", "lost_contact")] * 4
    + [("relay_stay", "relay_stay_inconclusive")] * 3
    + [("lease", "no_housing_found")] * 2
    + [("follow_up", "returned_to_paris")] * 1
    + [("matching", None)] * 2
    + [("relay_stay", None)] * 2
)
CHILDREN = [2] * 8 + [1] * 10 + [0] * 17  # 26 children in 35 households
ADULTS = [1 if i % 3 == 0 else 2 for i in range(35)]
PATH = ["matching", "relay_stay", "lease", "follow_up", "completed"]


async def _published_cohort(client: AsyncClient, arrange: Factory, actors: Factory, sm: Actor) -> None:
    org = await arrange.partner_org()
    partner = await actors.user(Role.PARTNER_WORKER, org)
    referent = await actors.user(Role.PARIS_REFERENT)
    opening = await arrange.opening(positions=50)
    relay = await arrange.unit(relay=True)
    first_stay = today() - timedelta(days=360)
    stays = 0
    for index, (stage, reason) in enumerate(PLAN):
        h = await _family(client, partner, referent, ADULTS[index], CHILDREN[index])
        hid, head = h["id"], next(m["id"] for m in h["members"] if m["role"] == "head")
        await _ok(move(client, sm, hid, "matching"))
        placement = None
        for target in PATH[1 : PATH.index(stage) + 1]:
            if target == "relay_stay":
                r = await _ok(
                    client.post(
                        f"/api/v1/households/{hid}/placements",
                        json={"member_id": head, "job_opening_id": str(opening)},
                        headers=sm.headers,
                    )
                )
                placement = r.json()["id"]
                await _ok(patch_placement(client, sm, placement, status="interview"))
                r = await _ok(book_stay(client, sm, hid, relay, first_stay + timedelta(days=4 * stays), days=3))
                stays += 1
                stay = r.json()["id"]
            if target == "lease":
                await _ok(record_outcome(client, sm, stay, family_agrees=True, employer_agrees=True))
            if target == "follow_up":
                await _ok(patch_placement(client, sm, placement, status="offered"))
                await _ok(
                    patch_placement(
                        client, sm, placement, status="hired", contract_type="cdi", start_date=today().isoformat()
                    )
                )
                unit = await arrange.unit(rooms=4)
                r = await _ok(
                    client.post(f"/api/v1/households/{hid}/allocation", json={"unit_id": str(unit)}, headers=sm.headers)
                )
                lease = {"lease_signed_date": today().isoformat(), "move_in_date": today().isoformat()}
                await _ok(
                    client.patch(
                        f"/api/v1/households/{hid}/allocation",
                        json=lease,
                        headers={**sm.headers, "If-Match": r.headers["ETag"]},
                    )
                )
            extra: dict[str, Any] = {}
            if target == "completed":
                extra = {"closure_date": today().isoformat(), "note": "Entered droit commun."}
            await _ok(move(client, sm, hid, target, **extra))
        if reason is not None:
            await _ok(move(client, sm, hid, "withdrawn", reason=reason, note="Left the programme."))
    # Declined at diagnostic, and one application still a draft.
    for _ in range(3):
        h = await _family(client, partner, referent, 2, 1)
        await _ok(move(client, sm, h["id"], "withdrawn", reason="application_declined", note="Not retained."))
    r = await client.post(
        "/api/v1/households", json={"housing_situation": "shelter", "members": []}, headers=partner.headers
    )
    assert r.status_code == 201


async def test_the_published_cohort_for_the_funder_as_json_and_csv(
    client: AsyncClient, arrange: Factory, actors: Factory, service_manager: Actor
) -> None:
    await _published_cohort(client, arrange, actors, service_manager)
    funder = await actors.user(Role.FUNDER)

    r = await client.get(URL, headers=funder.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["households_retained"] == 35
    assert body["children"] == 26
    assert body["adults"] == sum(ADULTS)
    assert body["households_installed"] == 21
    assert body["households_not_completed"] == 10
    assert body["households_in_progress"] == 4
    assert body["households_installed"] + body["households_not_completed"] + body["households_in_progress"] == 35
    assert body["households_completed"] == 2  # a total: never suppressed
    assert body["applications_submitted"] == 38
    assert body["declined_at_diagnostic"] == 3
    assert body["withdrawals_by_stage"] == {"matching": 4, "relay_stay": 3, "lease": None, "follow_up": None}
    assert body["withdrawals_by_reason"]["lost_contact"] == 4
    assert body["withdrawals_by_reason"]["relay_stay_inconclusive"] == 3
    assert body["withdrawals_by_reason"]["no_housing_found"] is None
    assert body["withdrawals_by_reason"]["returned_to_paris"] is None
    assert body["withdrawals_by_reason"]["application_declined"] == 0  # declined applications are counted apart
    assert set(body["suppressed"]) == {
        "withdrawals_by_stage.lease",
        "withdrawals_by_stage.follow_up",
        "withdrawals_by_reason.no_housing_found",
        "withdrawals_by_reason.returned_to_paris",
    }
    assert set(body["definitions"]) >= {"households_retained", "children", "households_installed"}
    assert all(d["fr"] and d["en"] for d in body["definitions"].values())
    assert body["as_of"]
    # Never a name, a reference or a household id.
    assert "Diallo" not in r.text
    assert "TE-" not in r.text

    r = await client.get(URL, headers={**funder.headers, "Accept": "text/csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode().removeprefix("\ufeff")), delimiter=";"))
    header, (total,) = rows[0], rows[1:]
    cells = dict(zip(header, total, strict=True))
    assert cells["Groupe"] == "Ensemble"
    assert cells["Ménages retenus"] == "35"
    assert cells["Enfants"] == "26"
    assert cells["Ménages installés ou en cours d'installation"] == "21"
    assert cells["Ménages n'ayant pas achevé le parcours"] == "10"
    assert cells["Ménages en cours de parcours"] == "4"
    assert cells["Sorties par étape quittée : bail"] == "s"

    # Grouped by year: one group (this year's retentions); its small cells are suppressed.
    body = (await client.get(URL, params={"group_by": "retention_year"}, headers=funder.headers)).json()
    (group,) = body["groups"]
    assert group["key"] == str(today().year)
    assert group["households_retained"] == 35
    assert group["households_completed"] is None
    assert "households_completed" in group["suppressed"]
    assert body["households_completed"] == 2

    # The service manager sees every cell, and may group by referring organisation.
    body = (
        await client.get(URL, params={"group_by": "referring_organisation"}, headers=service_manager.headers)
    ).json()
    assert body["withdrawals_by_stage"] == {"matching": 4, "relay_stay": 3, "lease": 2, "follow_up": 1}
    assert body["suppressed"] == []
    (group,) = body["groups"]
    assert group["key"] == str(await arrange.partner_org())
    assert group["households_completed"] == 2
    assert group["label"]


async def test_small_cells_and_periods(client: AsyncClient, arrange: Factory, actors: Factory) -> None:
    from tests.reports.test_funnel import _known

    await _known(arrange)
    funder = await actors.user(Role.FUNDER)
    manager = await actors.user(Role.SERVICE_MANAGER)
    body = (await client.get(URL, headers=manager.headers)).json()
    assert (body["households_retained"], body["households_installed"], body["households_not_completed"]) == (3, 2, 1)
    assert (body["declined_at_diagnostic"], body["applications_submitted"]) == (1, 4)
    assert (body["adults"], body["children"]) == (6, 3)
    body = (await client.get(URL, params={"retained_since": "2025-01-01"}, headers=manager.headers)).json()
    assert (body["households_retained"], body["households_not_completed"], body["applications_submitted"]) == (1, 1, 1)
    body = (await client.get(URL, params={"group_by": "retention_year"}, headers=funder.headers)).json()
    groups = {g["key"]: g for g in body["groups"]}
    assert groups["2024"]["households_retained"] is None  # 2: suppressed for the funder
    assert groups["2024"]["households_in_progress"] == 0  # 0 is shown
    assert groups["2025"]["withdrawals_by_reason"]["lost_contact"] is None
    assert "withdrawals_by_reason.lost_contact" in groups["2025"]["suppressed"]
    assert body["households_retained"] == 3


@pytest.mark.parametrize("role", [Role.LANDLORD, Role.PARTNER_WORKER, Role.PARIS_REFERENT])
async def test_role_matrix(client: AsyncClient, actors: Factory, role: Role) -> None:
    actor = await actors.user(role)
    for url in (URL, "/api/v1/reports/funnel"):
        assert (await client.get(url, headers=actor.headers)).status_code == 403
    assert (await client.get(URL)).status_code == 401


@pytest.mark.parametrize("role", [Role.FUNDER, Role.SERVICE_MANAGER, Role.ADMIN])
async def test_readers(client: AsyncClient, actors: Factory, role: Role) -> None:
    actor = await actors.user(role)
    for url in (URL, "/api/v1/reports/funnel"):
        assert (await client.get(url, headers=actor.headers)).status_code == 200


async def test_funder_options(client: AsyncClient, actors: Factory) -> None:
    funder = await actors.user(Role.FUNDER)
    for params in ({"referring_organisation_kind": "referral_partner"}, {"group_by": "referring_organisation"}):
        r = await client.get(URL, params=params, headers=funder.headers)
        assert r.status_code == 403
        assert r.json()["type"] == "urn:toit-emploi:problem:report-option-not-permitted"
    manager = await actors.user(Role.SERVICE_MANAGER)
    r = await client.get(URL, params={"referring_organisation_kind": "operator"}, headers=manager.headers)
    assert r.status_code == 200
    assert r.json()["households_retained"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"retained_since": "2013-12-31"}, "retained_since"),
        ({"retained_before": "2101-01-01"}, "retained_before"),
        ({"retained_since": "yesterday"}, "retained_since"),
        ({"group_by": "month"}, "group_by"),
        ({"referring_organisation_kind": "landlord"}, "referring_organisation_kind"),
        ({"retained_since": "2024-06-01", "retained_before": "2024-01-01"}, "retained_before"),
    ],
)
async def test_bad_query_values_are_422_naming_the_parameter(
    client: AsyncClient, service_manager: Actor, params: dict[str, str], field: str
) -> None:
    r = await client.get(URL, params=params, headers=service_manager.headers)
    assert r.status_code == 422, r.text
    assert any(field in e["field"] for e in r.json()["errors"])
