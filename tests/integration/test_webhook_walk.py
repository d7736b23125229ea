"""Done-when of the webhooks: a real receiver on 127.0.0.1 gets signed events for a whole walk, retried after 500s
and timeouts, verified with the standardwebhooks library, and no event leaks another organisation's household."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.e2e.conftest import Api, World, days
from tests.integration.conftest import Worker, eventually, subscribe
from toit_emploi_api.households.events import STATUS_FIELDS
from toit_emploi_api.vocab.events import EventType

# Names, birth dates, notes and free text of the walk: never in any payload.
FORBIDDEN: tuple[str, ...] = (
    "Traoré",
    "Benoît",
    "Mariam",
    "1986-04-12",
    "birth_date",
    "first_name",
    "Project validated",
    "Both agree",
    "droit commun",
    "They stay",
    "needs_constraints",
    "note",
    "Ground floor",
)
HOUSEHOLD_EVENTS = [e.value for e in EventType if e.value.startswith("household.")]


def _of(bodies: list[dict[str, Any]], household: str) -> list[dict[str, Any]]:
    return [b for b in bodies if b["data"].get("household_id") == household]


async def test_a_full_walk_is_delivered_signed_scoped_and_retried(
    api: Api, world: World, background: Worker, receiver_factory: Any
) -> None:
    aurore, charonne, samu, polygone = (receiver_factory() for _ in range(4))
    aurore.script = [500, "timeout", 500]  # the first message needs four attempts
    admin = world.admin
    subs = {
        "aurore": await subscribe(api.client, admin, world.operator_org, aurore.url, [e.value for e in EventType]),
        "charonne": await subscribe(api.client, admin, world.partner_org, charonne.url, HOUSEHOLD_EVENTS),
        "samu": await subscribe(
            api.client, admin, str(world.other_partner.organisation_id), samu.url, HOUSEHOLD_EVENTS
        ),
        "polygone": await subscribe(
            api.client, admin, world.landlord_org, polygone.url, ["housing_unit.sync_completed"]
        ),
    }
    sm, pw = world.manager, world.partner

    async with background.running():
        fam = await api.family(pw)
        h = fam.id
        other = await api.family(world.other_partner)
        _, opening = await api.employer_with_opening(sm)
        relay = await api.relay_apartment(sm, world.landlord_org)
        [t3] = await api.synced_units(world.landlord, sm, world.landlord_org, rooms=[3])
        await api.move(sm, h, "matching")
        placement = await api.propose(sm, h, fam.adults[0], opening)
        await api.placement(sm, placement, status="interview")
        stay = (await api.book(sm, h, relay, -5, -2)).json()
        await api.move(sm, h, "relay_stay")
        await api.post(sm, f"/households/{h}/allocation", {"unit_id": t3})
        await api.outcome(sm, stay["id"], family_agrees=True, employer_agrees=True, note="Project validated.")
        await api.move(sm, h, "lease", note="Both agree.")
        await api.placement(sm, placement, status="offered")
        await api.placement(sm, placement, status="hired", contract_type="cdi", start_date=days(40))
        alloc = await api.get(sm, f"/households/{h}/allocation")
        lease = {"lease_signed_date": days(-1), "move_in_date": days(0)}
        await api.patch(sm, f"/households/{h}/allocation", lease, if_match=alloc.headers["ETag"])
        await api.move(sm, h, "follow_up")
        await api.move(sm, h, "completed", closure_date=days(0), note="Entered droit commun.")
        await api.move(sm, other.id, "withdrawn", reason="household_declined", note="They stay in Paris.")

        await eventually(lambda: len(aurore.delivered()) == 21, what="the operator's 21 events")
        await eventually(lambda: len(charonne.delivered()) == 8, what="Charonne's 8 events")
        await eventually(lambda: len(samu.delivered()) == 4 and len(polygone.delivered()) == 1, what="the others")

    # Every message verifies with the standardwebhooks library, with its subscription's secret.
    receivers = {"aurore": aurore, "charonne": charonne, "samu": samu, "polygone": polygone}
    bodies = {name: rec.verified(subs[name]["secret"]) for name, rec in receivers.items()}
    delivered = {name: [r.json for r in rec.delivered()] for name, rec in receivers.items()}
    for rec in (aurore, charonne, samu, polygone):
        assert len(set(rec.ids())) == len(rec.ids()), "a message was delivered twice"
        for r in rec.requests:
            assert r.headers["content-type"] == "application/json"
            assert r.headers["webhook-signature"].startswith("v1,")

    # The operator sees the whole walk, in order, with the records' ids and statuses.
    walk = [(b["type"], b["data"].get("stage"), b["data"].get("status")) for b in _of(delivered["aurore"], h)]
    assert walk == [
        ("household.created", "diagnostic", None),
        ("household.application_submitted", "diagnostic", None),
        ("household.application_presented", "diagnostic", None),
        ("household.stage_changed", "matching", None),
        ("placement.changed", "matching", "proposed"),
        ("placement.changed", "matching", "interview"),
        ("relay_stay.booked", "matching", "booked"),
        ("household.stage_changed", "relay_stay", None),
        ("allocation.changed", "relay_stay", "reserved"),
        ("relay_stay.outcome_recorded", "relay_stay", "ended"),
        ("household.stage_changed", "lease", None),
        ("placement.changed", "lease", "offered"),
        ("placement.changed", "lease", "hired"),
        ("allocation.changed", "lease", "lease_signed"),
        ("household.stage_changed", "follow_up", None),
        ("household.stage_changed", "completed", None),
    ]
    withdrawn = _of(delivered["aurore"], other.id)[-1]
    assert withdrawn["data"]["reason"] == "household_declined"
    assert withdrawn["data"]["from_stage"] == "diagnostic"
    assert [b["type"] for b in delivered["aurore"] if "household_id" not in b["data"]] == [
        "housing_unit.sync_completed"
    ]

    # The first three posts (whichever messages they were) failed with a 500, a timeout and a 500; every message
    # was delivered in the end, each retried under its own webhook-id.
    r = await api.get(admin, f"/webhook-subscriptions/{subs['aurore']['id']}/deliveries", params={"limit": 200})
    deliveries = r.json()["items"]
    assert len(deliveries) == 21
    assert {d["status"] for d in deliveries} == {"delivered"}
    errors = Counter(a["error"] for d in deliveries for a in d["attempts"])
    assert errors == {None: 21, "HTTP 500": 2, "timeout": 1}
    retried = [d for d in deliveries if d["attempts_count"] > 1]
    for d in retried:
        assert [r.webhook_id for r in aurore.requests].count(d["id"]) == d["attempts_count"]

    # Partners get only their own households, as the status view; the landlord only its sync.
    assert {b["data"]["household_id"] for b in delivered["charonne"]} == {h}
    assert {b["data"]["household_id"] for b in delivered["samu"]} == {other.id}
    assert [b["data"]["stage"] for b in delivered["charonne"]] == [
        "diagnostic",
        "diagnostic",
        "diagnostic",
        "matching",
        "relay_stay",
        "lease",
        "follow_up",
        "completed",
    ]
    for body in delivered["charonne"] + delivered["samu"]:
        assert set(body["data"]) <= {*STATUS_FIELDS, "from_stage", "at"}, body
        assert body["type"] in HOUSEHOLD_EVENTS
    assert [b["type"] for b in delivered["polygone"]] == ["housing_unit.sync_completed"]
    assert delivered["polygone"][0]["data"]["created"] == 1

    # No name, birth date or note in any payload, even in diagnostic.
    for name, items in bodies.items():
        text = repr(items)
        for forbidden in FORBIDDEN:
            assert forbidden not in text, (name, forbidden)
    assert Counter(b["type"] for b in delivered["samu"]) == {
        "household.created": 1,
        "household.application_submitted": 1,
        "household.application_presented": 1,
        "household.stage_changed": 1,
    }
