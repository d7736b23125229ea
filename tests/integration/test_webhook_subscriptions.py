"""Webhook subscriptions over HTTP (admin only): secret shown once and rotatable, If-Match, event types per
organisation kind, URL rules (SSRF) per environment."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from tests.factories import Actor, Factory
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.integration.webhooks import urls
from toit_emploi_api.vocab.roles import OrganisationKind, Role

V1 = "/api/v1/webhook-subscriptions"


def _type(body: dict[str, object]) -> str:
    return str(body["type"]).removeprefix("urn:toit-emploi:problem:")


async def test_create_read_update_rotate_delete(client: AsyncClient, admin: Actor, actors: Factory) -> None:
    partner = await actors.partner_org()
    body = {
        "organisation_id": str(partner),
        "url": "http://127.0.0.1:9/hooks",
        "event_types": ["household.created", "household.stage_changed", "household.created"],
        "description": "Charonne's tool",
    }
    r = await client.post(V1, json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["household.created", "household.stage_changed"]
    assert created["active"] is True
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Location"] == f"{V1}/{created['id']}"
    one = f"{V1}/{created['id']}"

    r = await client.get(one, headers=admin.headers)
    assert r.status_code == 200
    assert "secret" not in r.json()
    etag = r.headers["ETag"]
    listed = (await client.get(V1, params={"organisation_id": str(partner)}, headers=admin.headers)).json()
    assert [s["id"] for s in listed["items"]] == [created["id"]]
    assert "secret" not in listed["items"][0]

    assert (await client.patch(one, json={"active": False}, headers=admin.headers)).status_code == 428
    r = await client.patch(one, json={"active": False}, headers={**admin.headers, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    assert r.headers["ETag"] != etag
    etag = r.headers["ETag"]

    r = await client.post(f"{one}/secret", headers={**admin.headers, "If-Match": etag})
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert rotated["previous_secret_until"] is not None
    assert r.headers["Cache-Control"] == "no-store"

    r = await client.delete(one, headers={**admin.headers, "If-Match": etag})
    assert r.status_code == 412
    r = await client.delete(one, headers={**admin.headers, "If-Match": r.json()["current_etag"]})
    assert r.status_code == 204
    assert (await client.get(one, headers=admin.headers)).status_code == 404


@pytest.mark.parametrize(
    ("kind", "event_types", "refused"),
    [
        (OrganisationKind.REFERRAL_PARTNER, ["household.created", "placement.changed"], ["event_types.1"]),
        (OrganisationKind.REFERRAL_PARTNER, ["housing_unit.sync_completed"], ["event_types.0"]),
        (OrganisationKind.LANDLORD, ["household.created"], ["event_types.0"]),
        (OrganisationKind.FUNDER, ["household.stage_changed"], ["event_types.0"]),
    ],
)
async def test_an_organisation_receives_only_what_its_people_may_read(
    client: AsyncClient,
    admin: Actor,
    actors: Factory,
    kind: OrganisationKind,
    event_types: list[str],
    refused: list[str],
) -> None:
    org = await actors.organisation(kind)
    body = {"organisation_id": str(org), "url": "http://127.0.0.1:9/", "event_types": event_types}
    r = await client.post(V1, json=body, headers=admin.headers)
    assert r.status_code == 422, r.text
    assert _type(r.json()) == "webhook-event-not-allowed"
    assert [e["field"] for e in r.json()["errors"]] == refused


async def test_allowed_subscriptions_per_kind(client: AsyncClient, admin: Actor, actors: Factory) -> None:
    landlord = await actors.landlord_org()
    operator = await actors.default_organisation(OrganisationKind.OPERATOR)
    for org, types in ((landlord, ["housing_unit.sync_completed"]), (operator, ["placement.changed"])):
        body = {"organisation_id": str(org), "url": "https://127.0.0.1/", "event_types": types}
        assert (await client.post(V1, json=body, headers=admin.headers)).status_code == 201


async def test_bad_bodies(client: AsyncClient, admin: Actor, actors: Factory) -> None:
    partner = await actors.partner_org()
    base = {"organisation_id": str(partner), "url": "http://127.0.0.1/", "event_types": ["household.created"]}
    for change, field in (
        ({"event_types": []}, "event_types"),
        ({"event_types": ["household.exploded"]}, "event_types.0"),
        ({"organisation_id": "6f1c1d1e-8a43-4f57-9a1c-2d3b4c5d6e7f"}, "organisation_id"),
        ({"secret": "mine"}, "secret"),
    ):
        r = await client.post(V1, json=base | change, headers=admin.headers)
        assert r.status_code == 422, (change, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
    for url in ("ftp://127.0.0.1/", "http://user:pw@127.0.0.1/", "not a url", "http://127.0.0.1/#x"):
        r = await client.post(V1, json=base | {"url": url}, headers=admin.headers)
        assert r.status_code == 422, url
        assert _type(r.json()) == "webhook-url-not-allowed"
        assert r.json()["errors"][0]["field"] == "url"


async def test_only_admins_manage_subscriptions(client: AsyncClient, actors: Factory) -> None:
    manager = await actors.user(Role.SERVICE_MANAGER)
    assert (await client.get(V1, headers=manager.headers)).status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/hooks",  # https is required
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://172.16.5.4/hooks",
        "https://100.64.0.1/hooks",  # shared address space (CGNAT)
        "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "https://[::1]/hooks",
        "https://[fe80::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://0.0.0.0/hooks",
        "https://224.0.0.1/hooks",
        "https://user:secret@93.184.215.14/hooks",
    ],
)
async def test_production_refuses_private_and_plain_urls(url: str) -> None:
    with pytest.raises(urls.UrlRefused):
        await urls.check(url, allow_private=False)


async def test_production_accepts_a_public_https_url_and_pins_its_address() -> None:
    target = await urls.check("https://93.184.215.14:8443/hooks?x=1", allow_private=False)
    assert target.url == "https://93.184.215.14:8443/hooks?x=1"
    assert target.host_header == "93.184.215.14:8443"
    assert target.sni_hostname is None


async def test_local_and_test_environments_allow_loopback() -> None:
    target = await urls.check("http://localhost:8080/hooks", allow_private=True)
    assert target.url.startswith(("http://127.0.0.1:8080/hooks", "http://[::1]:8080/hooks"))
    assert target.host_header == "localhost:8080"


def test_private_urls_are_refused_by_default_in_production_only() -> None:
    prod = {"environment": "production", "jwt_secret": "p" * 40, "DATABASE_URL": "postgresql://x@y/z"}
    assert Settings(**prod).webhooks_private_urls_allowed is False  # type: ignore[arg-type]
    assert Settings(environment="test").webhooks_private_urls_allowed is True
    assert Settings(environment="local").webhooks_private_urls_allowed is True
    with pytest.raises(ValueError, match="SSRF"):
        Settings(**prod, webhook_allow_private_urls=True)  # type: ignore[arg-type]
