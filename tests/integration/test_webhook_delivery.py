"""The outbox and the delivery worker: one event per committed change, retries with backoff then failed, the
subscription disabled after days of failures, redelivery, the SSRF re-check at delivery, several workers at once,
secret rotation."""

from __future__ import annotations

import asyncio
import random
import ssl
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.factories import Actor, Factory
from tests.integration.conftest import Caller, Receiver, Worker, eventually, serve_receiver, subscribe
from toit_emploi_api.core.clock import utcnow
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.integration.webhooks import delivery as steps
from toit_emploi_api.integration.webhooks import repository
from toit_emploi_api.integration.webhooks.delivery import retry_delay
from toit_emploi_api.vocab.roles import OrganisationKind, Role

V1 = "/api/v1"


async def _household(client: AsyncClient, partner: Actor) -> str:
    r = await client.post(f"{V1}/households", json={"housing_situation": "hotel_115"}, headers=partner.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _deliveries(client: AsyncClient, admin: Actor, sub: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.get(f"{V1}/webhook-subscriptions/{sub['id']}/deliveries", headers=admin.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def _subscribed(client: AsyncClient, admin: Actor, actors: Factory, receiver: Receiver) -> dict[str, Any]:
    return await subscribe(
        client, Caller("admin", admin.headers), str(await actors.partner_org()), receiver.url, ["household.created"]
    )


async def test_the_event_is_written_with_its_change_and_only_then(
    client: AsyncClient, admin: Actor, actors: Factory
) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    r = await client.post(f"{V1}/households", json={"housing_situation": "nowhere"}, headers=partner.headers)
    assert r.status_code == 422
    household = await _household(client, partner)
    manager = await actors.user(Role.SERVICE_MANAGER)
    tag = (await client.get(f"{V1}/households/{household}/transitions", headers=manager.headers)).headers["ETag"]
    r = await client.post(
        f"{V1}/households/{household}/transitions",
        json={"to": "matching"},
        headers={**manager.headers, "If-Match": tag},
    )
    assert r.status_code == 409  # guard failed: rolled back, no event
    events = await actors.outbox_events()
    assert [(e.event_type, str(e.household_id)) for e in events] == [("household.created", household)]
    assert events[0].organisation_id == partner.organisation_id
    assert events[0].dispatched_at is None


async def test_retries_after_500s_and_timeouts_with_the_same_id(
    client: AsyncClient, admin: Actor, actors: Factory, receiver: Receiver, background: Worker
) -> None:
    receiver.script = [500, "timeout", 503]
    sub = await _subscribed(client, admin, actors, receiver)
    await _household(client, await actors.user(Role.PARTNER_WORKER))
    async with background.running():
        await eventually(lambda: len(receiver.delivered()) == 1)
    assert len(receiver.requests) == 4
    assert len({r.webhook_id for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1  # the same body each time, freshly signed
    for body in receiver.verified(sub["secret"]):
        assert body["type"] == "household.created"
    [delivery] = await _deliveries(client, admin, sub)
    assert delivery["id"] == receiver.requests[0].webhook_id
    assert [a["status_code"] for a in delivery["attempts"]] == [500, None, 503, 200]
    assert delivery["status"] == "delivered"
    assert delivery["next_attempt_at"] is None
    assert all(a["latency_ms"] >= 0 for a in delivery["attempts"])
    assert delivery["attempts"][1]["latency_ms"] >= 1900  # the 2 s timeout
    r = await client.get(f"{V1}/webhook-subscriptions/{sub['id']}", headers=admin.headers)
    assert r.json()["failing_since"] is None  # the success ended the failing streak


async def test_a_delivery_fails_after_its_retry_window(
    client: AsyncClient,
    admin: Actor,
    actors: Factory,
    receiver: Receiver,
    background: Worker,
    worker_settings: Settings,
) -> None:
    receiver.script = [500] * 1000
    sub = await _subscribed(client, admin, actors, receiver)
    await _household(client, await actors.user(Role.PARTNER_WORKER))
    quick = worker_settings.model_copy(update={"webhook_retry_hours": 1 / 3600})  # one second
    async with background.running(quick):
        await eventually(lambda: len(receiver.requests) >= 2)
        for _ in range(100):
            [delivery] = await _deliveries(client, admin, sub)
            if delivery["status"] == "failed":
                break
            await asyncio.sleep(0.1)
    assert delivery["status"] == "failed"
    assert delivery["next_attempt_at"] is None
    assert delivery["last_status_code"] == 500
    assert delivery["attempts_count"] == len(delivery["attempts"]) >= 2
    r = await client.get(f"{V1}/webhook-subscriptions/{sub['id']}", headers=admin.headers)
    assert r.json()["failing_since"] is not None
    assert r.json()["active"] is True  # failing for seconds only


async def test_a_subscription_failing_for_three_days_is_disabled_and_can_be_revived(
    client: AsyncClient, admin: Actor, actors: Factory, receiver: Receiver, background: Worker
) -> None:
    receiver.script = [500]
    sub = await _subscribed(client, admin, actors, receiver)
    one = f"{V1}/webhook-subscriptions/{sub['id']}"
    await actors.webhook_failing_since(sub["id"], utcnow() - timedelta(days=3, minutes=1))
    await _household(client, await actors.user(Role.PARTNER_WORKER))
    async with background.running():
        await eventually(lambda: len(receiver.requests) == 1)
        for _ in range(100):
            r = await client.get(one, headers=admin.headers)
            if not r.json()["active"]:
                break
            await asyncio.sleep(0.05)
        assert r.json()["active"] is False
        assert "every attempt has failed since" in r.json()["disabled_reason"]
        assert "HTTP 500" in r.json()["disabled_reason"]
        assert r.json()["disabled_at"] is not None
        await asyncio.sleep(0.3)
        assert len(receiver.requests) == 1  # an inactive subscription is not attempted

        [delivery] = await _deliveries(client, admin, sub)
        assert delivery["status"] == "pending"
        redeliver = f"{one}/deliveries/{delivery['id']}/redeliver"
        tag = (await client.get(f"{one}/deliveries/{delivery['id']}", headers=admin.headers)).headers["ETag"]
        r = await client.post(redeliver, headers={**admin.headers, "If-Match": tag})
        assert r.status_code == 409
        assert r.json()["type"].endswith("webhook-delivery-pending")

        tag = (await client.get(one, headers=admin.headers)).headers["ETag"]
        r = await client.patch(one, json={"active": True}, headers={**admin.headers, "If-Match": tag})
        assert r.status_code == 200, r.text
        assert (r.json()["active"], r.json()["disabled_reason"], r.json()["failing_since"]) == (True, None, None)
        await eventually(lambda: len(receiver.delivered()) == 1)  # the pending delivery goes on


async def test_redeliver_sends_the_same_message_again(
    client: AsyncClient, admin: Actor, actors: Factory, receiver: Receiver, background: Worker
) -> None:
    sub = await _subscribed(client, admin, actors, receiver)
    one = f"{V1}/webhook-subscriptions/{sub['id']}"
    await _household(client, await actors.user(Role.PARTNER_WORKER))
    async with background.running():
        await eventually(lambda: len(receiver.delivered()) == 1)
        [delivery] = await _deliveries(client, admin, sub)
        url = f"{one}/deliveries/{delivery['id']}"
        r = await client.post(f"{url}/redeliver", headers=admin.headers)
        assert r.status_code == 428
        tag = (await client.get(url, headers=admin.headers)).headers["ETag"]
        r = await client.post(f"{url}/redeliver", headers={**admin.headers, "If-Match": tag})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending"
        assert r.json()["attempts_count"] == 0
        assert r.headers["ETag"] != tag
        await eventually(lambda: len(receiver.delivered()) == 2)
    first, second = receiver.delivered()
    assert first.webhook_id == second.webhook_id == delivery["id"]
    assert first.body == second.body
    assert len(receiver.verified(sub["secret"])) == 2
    r = await client.get(f"{one}/deliveries/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=admin.headers)
    assert r.status_code == 404
    tag = (await client.get(one, headers=admin.headers)).headers["ETag"]
    assert (await client.delete(one, headers={**admin.headers, "If-Match": tag})).status_code == 204
    assert (await client.get(f"{one}/deliveries", headers=admin.headers)).status_code == 404
    assert len(await actors.outbox_events()) == 1  # the event stays for the other subscribers


async def test_twenty_concurrent_redeliveries_with_one_key_send_the_message_once_more(
    client: AsyncClient, admin: Actor, actors: Factory, receiver: Receiver, background: Worker
) -> None:
    sub = await _subscribed(client, admin, actors, receiver)
    await _household(client, await actors.user(Role.PARTNER_WORKER))
    async with background.running():
        await eventually(lambda: len(receiver.delivered()) == 1)
        [delivery] = await _deliveries(client, admin, sub)
        url = f"{V1}/webhook-subscriptions/{sub['id']}/deliveries/{delivery['id']}"
        tag = (await client.get(url, headers=admin.headers)).headers["ETag"]
        headers = {**admin.headers, "If-Match": tag, "Idempotency-Key": "redeliver-once"}
        answers = await asyncio.gather(*[client.post(f"{url}/redeliver", headers=headers) for _ in range(20)])
        assert [r.status_code for r in answers] == [200] * 20, [r.text for r in answers if r.status_code != 200]
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == 19
        await eventually(lambda: len(receiver.delivered()) == 2)
        await asyncio.sleep(1.0)  # a second redelivery, if one had been queued, would have been sent by now
    assert len(receiver.delivered()) == 2


async def test_the_address_is_checked_again_at_delivery_and_redirects_are_not_followed(
    client: AsyncClient,
    admin: Actor,
    actors: Factory,
    receiver_factory: Any,
    background: Worker,
    worker_settings: Settings,
) -> None:
    refused, redirecting = receiver_factory(), receiver_factory()
    redirecting.script = [302] * 1000
    sub = await _subscribed(client, admin, actors, refused)
    sub2 = await _subscribed(client, admin, actors, redirecting)
    await _household(client, await actors.user(Role.PARTNER_WORKER))
    production_like = worker_settings.model_copy(update={"webhook_allow_private_urls": False})
    async with background.running(production_like):
        await asyncio.sleep(0.5)
    assert refused.requests == []
    [delivery] = await _deliveries(client, admin, sub)
    assert delivery["status"] == "pending"
    assert delivery["last_error"] == "refused: the URL must use https"
    async with background.running():
        await eventually(lambda: len(redirecting.requests) >= 2)
    [delivery] = await _deliveries(client, admin, sub2)
    assert delivery["last_status_code"] == 302
    assert delivery["last_error"] == "redirect not followed"


async def test_several_workers_deliver_each_message_once(
    client: AsyncClient, admin: Actor, actors: Factory, receiver: Receiver, background: Worker
) -> None:
    sub = await _subscribed(client, admin, actors, receiver)
    partner = await actors.user(Role.PARTNER_WORKER)
    households = [await _household(client, partner) for _ in range(24)]
    async with background.running(), background.running(), background.running():
        await eventually(lambda: len(receiver.delivered()) == 24)
        await asyncio.sleep(0.3)
    assert len(receiver.requests) == 24
    assert len(set(receiver.ids())) == 24
    assert {b["data"]["household_id"] for b in receiver.verified(sub["secret"])} == set(households)


async def test_inactive_and_later_subscriptions_get_no_past_events(
    client: AsyncClient, admin: Actor, actors: Factory, receiver_factory: Any, background: Worker
) -> None:
    early, late = receiver_factory(), receiver_factory()
    sub = await _subscribed(client, admin, actors, early)
    tag = (await client.get(f"{V1}/webhook-subscriptions/{sub['id']}", headers=admin.headers)).headers["ETag"]
    r = await client.patch(
        f"{V1}/webhook-subscriptions/{sub['id']}", json={"active": False}, headers={**admin.headers, "If-Match": tag}
    )
    assert r.status_code == 200
    await _household(client, await actors.user(Role.PARTNER_WORKER))
    await _subscribed(client, admin, actors, late)
    async with background.running():
        await asyncio.sleep(0.5)
    assert early.requests == []
    assert late.requests == []


async def test_after_a_rotation_both_secrets_sign_for_a_while(
    client: AsyncClient, admin: Actor, actors: Factory, receiver: Receiver, background: Worker
) -> None:
    sub = await _subscribed(client, admin, actors, receiver)
    one = f"{V1}/webhook-subscriptions/{sub['id']}"
    tag = (await client.get(one, headers=admin.headers)).headers["ETag"]
    r = await client.post(f"{one}/secret", headers={**admin.headers, "If-Match": tag})
    new_secret = r.json()["secret"]
    await _household(client, await actors.user(Role.PARTNER_WORKER))
    async with background.running():
        await eventually(lambda: len(receiver.delivered()) == 1)
    [message] = receiver.requests
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    assert Webhook(sub["secret"]).verify(message.body, message.headers)["type"] == "household.created"
    assert Webhook(new_secret).verify(message.body, message.headers)["type"] == "household.created"
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="
    try:
        Webhook(other).verify(message.body, message.headers)
    except WebhookVerificationError:
        pass
    else:
        raise AssertionError("a wrong secret verified")


def test_backoff_starts_within_the_base_delay_and_grows_to_the_cap(settings: Settings) -> None:
    rng = random.Random(14)
    assert settings.webhook_retry_base_seconds <= 30
    firsts = [retry_delay(settings, 1, rng) for _ in range(200)]
    assert all(settings.webhook_retry_base_seconds / 2 <= d <= settings.webhook_retry_base_seconds for d in firsts)
    assert len({round(d, 3) for d in firsts}) > 100  # jitter
    assert all(40 / 2 <= retry_delay(settings, 3, rng) <= 40 for _ in range(50))
    assert all(retry_delay(settings, 40, rng) <= settings.webhook_retry_max_seconds for _ in range(50))
    # At the defaults (10 s doubling, capped at an hour), a day of retries is about forty attempts.
    total, attempt = 0.0, 0
    while total < 24 * 3600:
        attempt += 1
        total += retry_delay(settings, attempt, rng)
    assert 30 <= attempt <= 55


async def test_old_dispatched_events_are_purged_unless_a_delivery_waits(
    client: AsyncClient,
    admin: Actor,
    actors: Factory,
    receiver_factory: Any,
    background: Worker,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ok, failing = receiver_factory(), receiver_factory()
    failing.script = [500] * 1000
    partner = await actors.user(Role.PARTNER_WORKER)
    sub = await _subscribed(client, admin, actors, ok)
    await _household(client, partner)
    async with background.running():
        await eventually(lambda: len(ok.delivered()) == 1)
    await _subscribed(client, admin, actors, failing)
    await _household(client, partner)
    async with background.running():
        await eventually(lambda: len(failing.requests) >= 1)
    async with sessionmaker() as session, session.begin():
        assert await repository.purge_events(session, utcnow() + timedelta(days=1), 100) == 1
    events = await actors.outbox_events()
    assert len(events) == 1  # the one a delivery still waits on
    # The purged event's delivery went with it; the other event's delivery to this subscription stays.
    assert [d["event_id"] for d in await _deliveries(client, admin, sub)] == [str(events[0].id)]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for DNS name `localhost` only (not for 127.0.0.1), and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_https_connects_to_the_checked_address_with_the_name_for_tls(
    client: AsyncClient,
    admin: Actor,
    actors: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    worker_settings: Settings,
    tmp_path: Path,
) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))
    with serve_receiver(tls=server_tls) as receiver:
        assert receiver.url.startswith("https://localhost:")
        sub = await _subscribed(client, admin, actors, receiver)
        await _household(client, await actors.user(Role.PARTNER_WORKER))
        async with httpx.AsyncClient(verify=trust, follow_redirects=False) as http:
            assert await steps.dispatch(sessionmaker, worker_settings) is False
            assert await steps.deliver_one(sessionmaker, worker_settings, http) is True
    [message] = receiver.delivered()
    assert message.headers["host"] == receiver.url.split("/")[2]  # localhost:<port>, not the address
    assert receiver.verified(sub["secret"])[0]["type"] == "household.created"


async def test_a_households_messages_wait_for_its_earlier_ones(
    client: AsyncClient, admin: Actor, actors: Factory, receiver: Receiver, background: Worker
) -> None:
    receiver.script = [500, 500]
    operator = await actors.organisation(OrganisationKind.OPERATOR)
    sub = await subscribe(
        client,
        Caller("admin", admin.headers),
        str(operator),
        receiver.url,
        ["household.created", "household.stage_changed"],
    )
    partner = await actors.user(Role.PARTNER_WORKER)
    household = await _household(client, partner)
    tag = (await client.get(f"{V1}/households/{household}/transitions", headers=partner.headers)).headers["ETag"]
    r = await client.post(
        f"{V1}/households/{household}/transitions",
        json={"to": "withdrawn", "reason": "household_declined", "note": "They found a flat in Paris."},
        headers={**partner.headers, "If-Match": tag},
    )
    assert r.status_code == 201, r.text
    async with background.running():  # four lanes: the second message could go first, but must not
        await eventually(lambda: len(receiver.delivered()) == 2)
    created = receiver.requests[0].webhook_id
    assert [r.webhook_id for r in receiver.requests[:3]] == [created] * 3
    assert [b["type"] for b in receiver.verified(sub["secret"])] == [
        "household.created",
        "household.created",
        "household.created",
        "household.stage_changed",
    ]
    assert "They found" not in repr(receiver.verified(sub["secret"]))


async def test_deleting_a_household_emits_household_deleted_with_its_block(
    client: AsyncClient, actors: Factory
) -> None:
    partner = await actors.user(Role.PARTNER_WORKER)
    household = await _household(client, partner)
    tag = (await client.get(f"{V1}/households/{household}", headers=partner.headers)).headers["ETag"]
    r = await client.delete(f"{V1}/households/{household}", headers={**partner.headers, "If-Match": tag})
    assert r.status_code == 204, r.text
    events = await actors.outbox_events()
    assert [(e.event_type, str(e.household_id)) for e in events] == [
        ("household.created", household),
        ("household.deleted", household),
    ]
    deleted = events[1]
    assert deleted.organisation_id == partner.organisation_id
    assert deleted.data["household_id"] == household
    assert deleted.data["stage"] == "diagnostic"
    assert set(deleted.data) == {"household_id", "reference", "referring_organisation_id", "stage", "stage_entered_at"}
