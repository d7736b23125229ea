"""The contract's HTTP rules, through the real app: strict inputs, unknown query parameters, 405/415/304,
Cache-Control, CORS, and the OpenAPI document saying so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from tests.factories import Actor, Factory, make_siret
from toit_emploi_api.core import clock
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.main import create_app
from toit_emploi_api.vocab.roles import Role

V1 = "/api/v1"


def _fields(r: Any) -> list[str]:
    return [e["field"] for e in r.json().get("errors") or []]


# --- strict inputs ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("member", "field"),
    [
        ({"birth_date": 0}, "members.0.birth_date"),
        ({"birth_date": "1986-04-12T00:00:00"}, "members.0.birth_date"),
        ({"driving_licence": "yes"}, "members.0.driving_licence"),
        ({"driving_licence": 1}, "members.0.driving_licence"),
        ({"years_of_experience": "12"}, "members.0.years_of_experience"),
        ({"years_of_experience": 12.0}, "members.0.years_of_experience"),
    ],
)
async def test_household_bodies_take_exact_json_types(
    client: AsyncClient, service_manager: Actor, member: dict[str, Any], field: str
) -> None:
    adult = {"first_name": "Awa", "last_name": "Diallo", "birth_date": "1986-04-12", "role": "head", **member}
    body = {"housing_situation": "shelter", "members": [adult]}
    r = await client.post(f"{V1}/households", json=body, headers=service_manager.headers)
    assert r.status_code == 422, r.text
    assert _fields(r) == [field]


async def test_consent_date_as_timestamp_is_refused(client: AsyncClient, service_manager: Actor) -> None:
    body = {"housing_situation": "shelter", "consent_date": 1764028800, "consent_scope": "x"}
    r = await client.post(f"{V1}/households", json=body, headers=service_manager.headers)
    assert r.status_code == 422
    assert _fields(r) == ["consent_date"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rooms": "3"}, "rooms"),
        ({"is_relay": 1}, "is_relay"),
        ({"elevator": "yes"}, "elevator"),
        ({"rent": 400.5}, "rent"),
        ({"rent": True}, "rent"),
        ({"available_from": 0}, "available_from"),
    ],
)
async def test_housing_bodies_take_exact_json_types(
    client: AsyncClient, actors: Factory, change: dict[str, Any], field: str
) -> None:
    landlord = await actors.user(Role.LANDLORD)
    unit = {"landlord_reference": "T-1", "postcode": "15000", "commune_insee": "15014", "rooms": 3, "rent": "400.50"}
    r = await client.post(f"{V1}/housing-units", json={**unit, **change}, headers=landlord.headers)
    assert r.status_code == 422, r.text
    assert _fields(r) == [field]
    ok = await client.post(f"{V1}/housing-units", json={**unit, "rent": 400}, headers=landlord.headers)
    assert ok.status_code == 201, ok.text


async def test_patch_refuses_null_where_the_document_says_not_nullable(
    client: AsyncClient, app: FastAPI, admin: Actor, actors: Factory
) -> None:
    user = await actors.user(Role.PARIS_REFERENT)
    etag = (await client.get(f"{V1}/users/{user.id}", headers=admin.headers)).headers["ETag"]
    r = await client.patch(f"{V1}/users/{user.id}", json={"role": None}, headers={**admin.headers, "If-Match": etag})
    assert r.status_code == 422
    assert _fields(r) == ["role"]
    schema = app.openapi()["components"]["schemas"]["UserUpdate"]["properties"]["role"]
    assert "anyOf" not in schema
    assert "default" not in schema


async def test_query_dates_are_iso_only(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.get(f"{V1}/housing-units", params={"available_before": "0"}, headers=service_manager.headers)
    assert r.status_code == 422
    assert _fields(r) == ["query.available_before"]
    r = await client.get(f"{V1}/households", params={"created_since": "0"}, headers=service_manager.headers)
    assert r.status_code == 422


# --- unknown query parameters -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/job-openings", {"sort_by": "title"}),
        ("/job-openings", {"format": "csv"}),
        ("/households", {"withdrawal_reason": "other"}),
        ("/employers", {"commune": "15014"}),
    ],
)
async def test_unknown_query_parameters_are_named(
    client: AsyncClient, service_manager: Actor, path: str, params: dict[str, str]
) -> None:
    r = await client.get(V1 + path, params=params, headers=service_manager.headers)
    assert r.status_code == 422, r.text
    assert _fields(r) == [f"query.{name}" for name in params]


async def test_probes_ignore_their_query_string(client: AsyncClient, app: FastAPI) -> None:
    assert (await client.get("/healthz", params={"probe": "k8s"})).status_code == 200
    assert "422" not in app.openapi()["paths"]["/healthz"]["get"]["responses"]


async def test_filter_vocabulary_and_sort(client: AsyncClient, service_manager: Actor, arrange: Factory) -> None:
    for name in ("Zeta", "Alpha"):
        r = await client.post(
            f"{V1}/employers",
            json={"siret": make_siret(), "legal_name": name, "commune_insee": "15014"},
            headers=service_manager.headers,
        )
        assert r.status_code == 201, r.text
    r = await client.get(
        f"{V1}/employers", params={"commune_insee": "15014", "sort": "-legal_name"}, headers=service_manager.headers
    )
    assert [e["legal_name"] for e in r.json()["items"]] == ["Zeta", "Alpha"]
    r = await client.get(f"{V1}/employers", params={"sort": "siret"}, headers=service_manager.headers)
    assert r.status_code == 422
    today = clock.today()
    tomorrow = today + timedelta(days=1)
    for params, count in (
        ({"created_since": today.isoformat()}, 2),
        ({"created_before": today.isoformat()}, 0),
        ({"created_since": tomorrow.isoformat()}, 0),
    ):
        r = await client.get(f"{V1}/employers", params=params, headers=service_manager.headers)
        assert r.json()["total"] == count, params
        r = await client.get(f"{V1}/job-openings", params=params, headers=service_manager.headers)
        assert r.status_code == 200
    r = await client.get(
        f"{V1}/job-openings", params={"rome_code": "F17", "sort": "-start_date"}, headers=service_manager.headers
    )
    assert r.status_code == 200


# --- HTTP conformance ---------------------------------------------------------------------------------------------
async def test_405_lists_every_method_of_the_path(client: AsyncClient, service_manager: Actor) -> None:
    household = await client.post(
        f"{V1}/households", json={"housing_situation": "shelter"}, headers=service_manager.headers
    )
    r = await client.put(f"{V1}/households/{household.json()['id']}", headers=service_manager.headers)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, PATCH, DELETE"
    assert r.headers["content-type"] == "application/problem+json"
    r = await client.patch(f"{V1}/households/possible-duplicates", headers=service_manager.headers)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"
    r = await client.get(f"{V1}/households/not-a-uuid", headers=service_manager.headers)
    assert r.status_code == 404


async def test_head_answers_as_get_without_a_body(client: AsyncClient, service_manager: Actor) -> None:
    created = await client.post(
        f"{V1}/households", json={"housing_situation": "shelter"}, headers=service_manager.headers
    )
    url = created.headers["Location"]
    got = await client.get(url, headers=service_manager.headers)
    head = await client.head(url, headers=service_manager.headers)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("etag", "content-type", "content-length", "cache-control"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["content-length"]) == len(got.content) > 0
    listed = await client.head(f"{V1}/households", params={"sort": "reference"}, headers=service_manager.headers)
    assert (listed.status_code, listed.content) == (200, b"")
    # The same checks as the GET: no token, an unknown query parameter, a stale If-None-Match.
    assert (await client.head(url)).status_code == 401
    r = await client.head(f"{V1}/households", params={"sorting": "x"}, headers=service_manager.headers)
    assert (r.status_code, r.content) == (422, b"")
    r = await client.head(url, headers={**service_manager.headers, "If-None-Match": got.headers["etag"]})
    assert (r.status_code, r.content) == (304, b"")
    # A path without GET: 405, and Allow does not offer HEAD.
    r = await client.head(f"{V1}/auth/token")
    assert r.status_code == 405
    assert "HEAD" not in r.headers["allow"]
    assert "POST" in r.headers["allow"]


async def test_415_for_a_json_body_in_another_media_type(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.post(
        f"{V1}/households",
        content=b'{"housing_situation": "shelter"}',
        headers={**service_manager.headers, "Content-Type": "text/plain"},
    )
    assert r.status_code == 415
    assert r.json()["type"] == "urn:toit-emploi:problem:unsupported-media-type"
    r = await client.post(
        f"{V1}/households",
        content=b'{"housing_situation": "shelter"}',
        headers={**service_manager.headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 201


async def test_conditional_get_and_no_store(client: AsyncClient, service_manager: Actor) -> None:
    created = await client.post(
        f"{V1}/households", json={"housing_situation": "shelter"}, headers=service_manager.headers
    )
    url = created.headers["Location"]
    first = await client.get(url, headers=service_manager.headers)
    assert first.headers["cache-control"] == "no-store"
    etag = first.headers["etag"]
    again = await client.get(url, headers={**service_manager.headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = await client.get(url, headers={**service_manager.headers, "If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    stale = await client.get(url, headers={**service_manager.headers, "If-None-Match": '"999"'})
    assert stale.status_code == 200
    assert stale.json()["id"] == created.json()["id"]
    assert (await client.get("/healthz")).headers.get("cache-control") is None


async def test_cors_preflight_for_configured_origins(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ["https://app.example.org"]}))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as c:
        r = await c.options(
            f"{V1}/households",
            headers={
                "Origin": "https://app.example.org",
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "Authorization, If-Match, Content-Type",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example.org"
        refused = await c.options(
            f"{V1}/households",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert refused.status_code == 400
        r = await c.get("/healthz", headers={"Origin": "https://app.example.org"})
        exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
        assert {"etag", "location", "x-request-id"} <= exposed


# --- the document ---------------------------------------------------------------------------------------------------
def test_document_declares_headers_labels_and_metadata(app: FastAPI) -> None:
    doc = app.openapi()
    assert doc["info"]["license"]["name"] == "MIT"
    assert doc["info"]["contact"]["name"]
    assert doc["servers"]
    get_household = doc["paths"]["/api/v1/households/{household_id}"]["get"]
    assert "304" in get_household["responses"]
    assert any(p["name"] == "If-None-Match" for p in get_household["parameters"])
    ok = get_household["responses"]["200"]["headers"]
    assert {"ETag", "X-Request-ID", "Cache-Control"} <= set(ok)
    create = doc["paths"]["/api/v1/households"]["post"]["responses"]
    assert {"Location", "ETag", "Idempotent-Replayed"} <= set(create["201"]["headers"])
    assert "415" in doc["paths"]["/api/v1/households"]["post"]["responses"]
    reason = doc["components"]["schemas"]["TransitionCreate"]["properties"]["reason"]
    assert "WithdrawalReason" in str(reason)
    assert not [name for name in doc["components"]["schemas"] if "_" in name]

    unlabelled: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if "enum" in node and len(node.get("x-enum-descriptions", [])) != len(node["enum"]):
                unlabelled.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(doc, "#")
    assert unlabelled == []


async def test_vocabularies_endpoint(client: AsyncClient, service_manager: Actor) -> None:
    r = await client.get(f"{V1}/vocabularies", headers=service_manager.headers)
    assert r.status_code == 200
    body = r.json()
    stage = {item["code"]: item["label"] for item in body["Stage"]}
    assert stage["relay_stay"] == "Séjour en appartement relais"
    assert "WithdrawalReason" in body


async def test_admin_lists_sort(client: AsyncClient, admin: Actor, actors: Factory) -> None:
    await actors.user(Role.FUNDER)
    r = await client.get(f"{V1}/users", params={"sort": "-email"}, headers=admin.headers)
    emails = [u["email"] for u in r.json()["items"]]
    assert len(emails) == 2
    assert emails == sorted(emails, reverse=True)
    r = await client.get(f"{V1}/organisations", params={"sort": "name"}, headers=admin.headers)
    names = [o["name"] for o in r.json()["items"]]
    assert names == sorted(names)
    assert (await client.get(f"{V1}/api-clients", params={"sort": "secret"}, headers=admin.headers)).status_code == 422
