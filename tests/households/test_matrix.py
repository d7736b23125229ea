"""Cross-organisation matrix: each role × own/foreign household × each operation, with the expected status.

"Own" = the household's referring (and creating) organisation is the caller's; "foreign" = a referral partner's
household of another organisation. Everything is in diagnostic, so only scoping and roles decide.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient, Response

from tests.factories import Factory
from tests.households.conftest import BASE, adult, insert_household
from toit_emploi_api.vocab.roles import OrganisationKind, Role

OPERATIONS = ["list", "read", "update", "delete", "members_list", "members_add", "members_update", "members_remove"]
OK = {
    "list": 200,
    "read": 200,
    "update": 200,
    "delete": 204,
    "members_list": 200,
    "members_add": 201,
    "members_update": 200,
    "members_remove": 204,
}
NOT_FOUND = dict.fromkeys(OPERATIONS, 404) | {"list": 200}  # the list answers 200 without the household
FORBIDDEN = dict.fromkeys(OPERATIONS, 403)

# role -> ownership -> operation -> expected status
EXPECTED: dict[Role, dict[str, dict[str, int]]] = {
    Role.ADMIN: {"own": OK, "foreign": OK},
    Role.SERVICE_MANAGER: {"own": OK, "foreign": OK | {"delete": 403}},  # delete: creating organisation only
    Role.PARIS_REFERENT: {"own": OK, "foreign": OK | {"delete": 403}},
    Role.PARTNER_WORKER: {"own": OK, "foreign": NOT_FOUND},
    Role.FUNDER: {"own": FORBIDDEN, "foreign": FORBIDDEN},
    Role.LANDLORD: {"own": FORBIDDEN, "foreign": FORBIDDEN},
}

CASES = [
    pytest.param(role, ownership, op, EXPECTED[role][ownership][op], id=f"{role.value}-{ownership}-{op}")
    for role in EXPECTED
    for ownership in ("own", "foreign")
    for op in OPERATIONS
]


async def _call(
    client: AsyncClient, op: str, headers: dict[str, str], hid: Any, mid: Any, etag: str = '"1"'
) -> Response:
    url = f"{BASE}/{hid}"
    match op:
        case "list":
            return await client.get(BASE, headers=headers)
        case "read":
            return await client.get(url, headers=headers)
        case "update":
            return await client.patch(
                url, json={"last_contact_date": "2026-11-20"}, headers=headers | {"If-Match": etag}
            )
        case "delete":
            return await client.delete(url, headers=headers | {"If-Match": etag})
        case "members_list":
            return await client.get(f"{url}/members", headers=headers)
        case "members_add":
            return await client.post(f"{url}/members", json=adult("Paul", "Durand"), headers=headers)
        case "members_update":
            return await client.patch(
                f"{url}/members/{mid}", json={"driving_licence": True}, headers=headers | {"If-Match": '"1"'}
            )
        case "members_remove":
            return await client.delete(f"{url}/members/{mid}", headers=headers | {"If-Match": '"1"'})
    raise AssertionError(op)


@pytest.mark.parametrize(("role", "ownership", "op", "expected"), CASES)
async def test_matrix(
    client: AsyncClient,
    actors: Factory,
    role: Role,
    ownership: str,
    op: str,
    expected: int,
) -> None:
    actor = await actors.user(role)
    other_partner = await actors.organisation(OrganisationKind.REFERRAL_PARTNER)
    owner = actor.organisation_id if ownership == "own" else other_partner
    household_id, (member_id,) = await insert_household(actors, owner)

    r = await _call(client, op, actor.headers, household_id, member_id)

    assert r.status_code == expected, r.text
    if expected >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")
    if op == "list" and expected == 200:
        listed = {item["id"] for item in r.json()["items"]}
        visible = not (role is Role.PARTNER_WORKER and ownership == "foreign")
        assert (str(household_id) in listed) is visible
    if expected == 404:
        # Nothing tells whether the household exists: the same answer as for a random id.
        random = await _call(client, op, actor.headers, uuid.uuid4(), uuid.uuid4())
        assert r.json()["type"] == "urn:toit-emploi:problem:not-found"
        assert (r.status_code, r.json()["type"], r.json()["detail"]) == (
            random.status_code,
            random.json()["type"],
            random.json()["detail"],
        )


# After diagnostic: a partner worker reads its household's stage and dates only (status view), its members are
# 403 (it knows the household exists), writes are 409; the staff still read and (service manager, admin) write.
STATUS_VIEW_KEYS = {
    "id",
    "reference",
    "referring_organisation_id",
    "stage",
    "stage_entered_at",
    "days_in_stage",
    "last_contact_date",
    "adult_count",
    "children_count",
    "created_at",
    "updated_at",
}
AFTER_DIAGNOSTIC: dict[Role, dict[str, int]] = {
    Role.ADMIN: OK | {"delete": 409},
    Role.SERVICE_MANAGER: OK | {"delete": 409},
    Role.PARIS_REFERENT: OK
    | {"update": 409, "delete": 409, "members_add": 409, "members_update": 409, "members_remove": 409},
    Role.PARTNER_WORKER: {
        "list": 200,
        "read": 200,
        "update": 409,
        "delete": 409,
        "members_list": 403,
        "members_add": 409,
        "members_update": 409,
        "members_remove": 409,
    },
}
AFTER_CASES = [
    pytest.param(role, stage, op, AFTER_DIAGNOSTIC[role][op], id=f"{role.value}-{stage}-{op}")
    for role in AFTER_DIAGNOSTIC
    for stage in ("matching", "follow_up")
    for op in OPERATIONS
]


@pytest.mark.parametrize(("role", "stage", "op", "expected"), AFTER_CASES)
async def test_matrix_after_diagnostic(
    client: AsyncClient,
    actors: Factory,
    role: Role,
    stage: str,
    op: str,
    expected: int,
) -> None:
    actor = await actors.user(role)
    # Own household (the partner's organisation refers it), with two adults so that a removal is not the last one.
    household_id, (member_id, _) = await insert_household(actors, actor.organisation_id, members=2)
    await actors.set_stage(household_id, stage)
    etag = '"2"'  # set_stage bumped the version

    r = await _call(client, op, actor.headers, household_id, member_id, etag)

    assert r.status_code == expected, r.text
    if role is not Role.PARTNER_WORKER:
        if op in ("read", "list"):
            body = r.json() if op == "read" else r.json()["items"][0]
            assert len(body["members"]) == 2
        return
    if op == "read":
        assert set(r.json()) == STATUS_VIEW_KEYS
        assert (r.json()["stage"], r.json()["adult_count"]) == (stage, 2)
        assert "secret" not in r.text
    if op == "list":
        (item,) = r.json()["items"]
        assert set(item) == STATUS_VIEW_KEYS
    if op == "members_list":
        assert r.json()["type"] == "urn:toit-emploi:problem:household-status-only"
        single = await client.get(f"{BASE}/{household_id}/members/{member_id}", headers=actor.headers)
        assert single.status_code == 403
        assert "adult0" not in single.text
