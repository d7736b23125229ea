"""Validation: every field's bounds, adult/child rules, 422 problem+json naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import Actor
from tests.households.conftest import BASE, adult, child, years_ago
from toit_emploi_api.core.clock import today


async def _fields(client: AsyncClient, actor: Actor, body: dict[str, Any]) -> list[str]:
    r = await client.post(BASE, json=body, headers=actor.headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "urn:toit-emploi:problem:validation-error"
    return [e["field"] for e in r.json()["errors"]]


def _with(member: dict[str, Any]) -> dict[str, Any]:
    return {"housing_situation": "shelter", "members": [adult(), member]}


@pytest.mark.parametrize(
    ("member", "field"),
    [
        (child(rome_codes=["F1703"]), "members.1.rome_codes"),
        (child(years_of_experience=2), "members.1.years_of_experience"),
        (child(driving_licence=False), "members.1.driving_licence"),
        (child(french_level="a1"), "members.1.french_level"),
        (child(qualifications="CAP"), "members.1.qualifications"),
        (child(right_to_work_expiry="2027-01-01"), "members.1.right_to_work_expiry"),
        (adult(schooling_level="college"), "members.1.schooling_level"),
        (adult(birth_date=years_ago(18, days=-1)), "members.1.birth_date"),  # 18 tomorrow: not an adult yet
        (child(birth_date=years_ago(18)), "members.1.birth_date"),  # 18 today: no longer a child
        (child(birth_date="2999-01-01"), "members.1.birth_date"),
        (adult(birth_date="1899-12-31"), "members.1.birth_date"),
        (adult(rome_codes=["F17030"]), "members.1.rome_codes.0"),
        (adult(rome_codes=["f1703", "Z1234"]), "members.1.rome_codes.1"),
        (adult(rome_codes=[f"F17{i:02d}" for i in range(11)]), "members.1.rome_codes"),
        (adult(years_of_experience=61), "members.1.years_of_experience"),
        (adult(years_of_experience=-1), "members.1.years_of_experience"),
        (adult(french_level="fluent"), "members.1.french_level"),
        (adult(qualifications="x" * 1001), "members.1.qualifications"),
        (adult(first_name="x" * 101), "members.1.first_name"),
        (adult(first_name=""), "members.1.first_name"),
        (adult(last_name="Jean\nPierre"), "members.1.last_name"),
        (adult(first_name="A\x00"), "members"),
        (adult(first_name="-"), "members.1.first_name"),  # only punctuation: folds to nothing
        (adult(last_name="' _ -"), "members.1.last_name"),
        (adult(last_name="1234"), "members.1.last_name"),  # NUL is refused by the shared InputModel at the outer field
        (adult(role="cousin"), "members.1.role"),
        (adult(nickname="Ben"), "members.1.nickname"),
    ],
)
async def test_member_rules(client: AsyncClient, service_manager: Actor, member: dict[str, Any], field: str) -> None:
    assert field in await _fields(client, service_manager, _with(member))


async def test_adult_on_their_18th_birthday_and_child_the_day_before(
    client: AsyncClient, service_manager: Actor
) -> None:
    body = _with(adult(birth_date=years_ago(18)))
    body["members"].append(child(birth_date=years_ago(18, days=-1)))
    r = await client.post(BASE, json=body, headers=service_manager.headers)
    assert r.status_code == 201, r.text


async def test_rome_codes_are_normalised_and_deduplicated(client: AsyncClient, service_manager: Actor) -> None:
    body = _with(adult(rome_codes=[" f1703", "F1703", "K2204"]))
    r = await client.post(BASE, json=body, headers=service_manager.headers)
    assert r.status_code == 201, r.text
    assert r.json()["members"][1]["rome_codes"] == ["F1703", "K2204"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"housing_situation": "castle"}, "housing_situation"),
        ({"needs_constraints": "x" * 1001}, "needs_constraints"),
        ({"consent_scope": "x" * 501, "consent_date": "2026-01-01"}, "consent_scope"),
        ({"consent_date": "2999-01-01", "consent_scope": "ok"}, "consent_date"),
        ({"consent_date": "2026-01-01"}, "consent_scope"),  # consent needs both
        ({"consent_scope": "all"}, "consent_date"),
        ({"last_contact_date": "2999-01-01"}, "last_contact_date"),
        ({"manager_notes": "x" * 4001}, "manager_notes"),
        ({"stage": "matching"}, "stage"),  # read-only here
        ({"reference": "TE-2026-0001"}, "reference"),
        ({"members": [adult()] * 21}, "members"),
        ({"referring_organisation_id": "not-a-uuid"}, "referring_organisation_id"),
    ],
)
async def test_household_fields(client: AsyncClient, service_manager: Actor, extra: dict[str, Any], field: str) -> None:
    body = {"housing_situation": "shelter", **extra}
    assert field in await _fields(client, service_manager, body)


async def test_missing_housing_situation(client: AsyncClient, service_manager: Actor) -> None:
    assert await _fields(client, service_manager, {}) == ["housing_situation"]


async def test_today_is_allowed_and_text_is_stripped(client: AsyncClient, service_manager: Actor) -> None:
    body = {
        "housing_situation": "street",
        "last_contact_date": today().isoformat(),
        "needs_constraints": "  Needs a ground floor.\r\nNear a school.  ",
        "members": [],
    }
    r = await client.post(BASE, json=body, headers=service_manager.headers)
    assert r.status_code == 201, r.text
    assert r.json()["needs_constraints"] == "Needs a ground floor.\nNear a school."
    assert (r.json()["adult_count"], r.json()["children_count"]) == (0, 0)


async def test_text_bounds_are_the_documented_ones(client: AsyncClient, service_manager: Actor) -> None:
    """consent_scope up to 500, needs and qualifications up to 1000 characters, errors counted in characters."""
    body = {
        "housing_situation": "shelter",
        "consent_date": "2026-01-01",
        "consent_scope": "s" * 500,
        "needs_constraints": "n" * 1000,
        "members": [adult(qualifications="q" * 1000)],
    }
    r = await client.post(BASE, json=body, headers=service_manager.headers)
    assert r.status_code == 201, r.text
    assert len(r.json()["consent_scope"]) == 500
    r = await client.post(BASE, json=body | {"consent_scope": "s" * 300}, headers=service_manager.headers)
    assert r.status_code == 201, r.text

    too_long = body | {"consent_scope": "s" * 501, "needs_constraints": "n" * 1001}
    too_long["members"] = [adult(qualifications="q" * 1001)]
    r = await client.post(BASE, json=too_long, headers=service_manager.headers)
    assert r.status_code == 422
    messages = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert "500 characters" in messages["consent_scope"]
    assert "1000 characters" in messages["needs_constraints"]
    assert "1000 characters" in messages["members.0.qualifications"]
    assert not any("items" in m for m in messages.values())


async def test_names_that_fold_longer_still_fit(client: AsyncClient, service_manager: Actor) -> None:
    """Folding lengthens "ß" to "ss": a 100-character name is kept and found; one folding past 400 is a field error."""
    long_name = "ß" * 100
    r = await client.post(BASE, json=_with(adult(long_name, long_name)), headers=service_manager.headers)
    assert r.status_code == 201, r.text
    assert r.json()["members"][1]["first_name"] == long_name
    found = await client.get(BASE, params={"q": "SS" * 25 + "ß" * 50}, headers=service_manager.headers)
    assert [item["id"] for item in found.json()["items"]] == [r.json()["id"]]

    huge = "\ufdfa" * 100  # one character folds to 18
    assert "members.1.last_name" in await _fields(client, service_manager, _with(adult("Ali", huge)))


async def test_names_in_any_script_are_accepted_but_a_patch_needs_a_letter_too(
    client: AsyncClient, service_manager: Actor
) -> None:
    body = _with(adult("Nguyễn", "Ōta", rome_codes=None))
    body["members"].append(adult("محمد", "李", role="partner", rome_codes=None))
    r = await client.post(BASE, json=body, headers=service_manager.headers)
    assert r.status_code == 201, r.text
    url = f"{BASE}/{r.json()['id']}/members/{r.json()['members'][1]['id']}"
    r = await client.patch(url, json={"first_name": "..."}, headers=service_manager.headers | {"If-Match": '"1"'})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "first_name"
