"""The worker's two steps, each one short transaction at a time (`worker.py` runs them in loops):

- `dispatch`: fan the outbox's new events out into one delivery per subscription that wants them and may see them
  (`scope`), with the payload scoped to the subscriber; one fan-out at a time (advisory lock), in event order.
- `deliver_one`: take one due delivery `FOR UPDATE SKIP LOCKED` (several workers, on several machines, never take
  the same one), post it signed, record the attempt, then commit. The row stays locked during the POST: a worker
  killed mid-delivery rolls back and the delivery is due again at once (the receiver may then see the same
  `webhook-id` twice, as the Standard Webhooks specification allows: at least once).

Retries: exponential backoff with jitter (`retry_delay`), until the delivery's `expires_at` (24 h by default), then
failed. A subscription whose deliveries have all failed for 3 days (`webhook_disable_after_hours`) is disabled, with
the reason visible to the admin. Nothing personal is logged: ids, status codes and error kinds only."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from toit_emploi_api import __version__
from toit_emploi_api.core.clock import utcnow
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.integration.webhooks import repository, scope, signing, urls
from toit_emploi_api.integration.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription

logger = logging.getLogger("toit_emploi_api.webhooks")
DISPATCH_BATCH = 200
PURGE_BATCH = 1000
USER_AGENT = f"toit-emploi-webhooks/{__version__}"


def retry_delay(settings: Settings, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, …): a random time between half and all of
    min(base × 2^(attempt-1), max)."""
    ceiling = min(settings.webhook_retry_max_seconds, settings.webhook_retry_base_seconds * 2 ** min(attempt - 1, 40))
    return (rng or random).uniform(ceiling / 2, ceiling)


def body_of(delivery: WebhookDelivery) -> str:
    """The exact bytes signed and sent (compact JSON)."""
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)


def signing_keys(subscription: WebhookSubscription, now: datetime) -> list[str]:
    keys = [subscription.secret]
    if subscription.previous_secret and subscription.previous_secret_until and subscription.previous_secret_until > now:
        keys.append(subscription.previous_secret)
    return keys


# --- fan-out -------------------------------------------------------------------------------------------------------
async def dispatch(maker: async_sessionmaker[AsyncSession], settings: Settings) -> bool:
    """Fan one batch of new events out into deliveries; True when there may be more right now."""
    async with maker() as session, session.begin():
        if not await repository.try_dispatch_lock(session):
            return False
        events = await repository.undispatched_events(session, DISPATCH_BATCH)
        if not events:
            return False
        subscriptions = await repository.receiving_subscriptions(session)
        now = utcnow()
        expires = now + timedelta(hours=settings.webhook_retry_hours)
        rows: list[dict[str, Any]] = []
        for event in events:
            for subscription, kind in subscriptions:
                if (
                    event.event_type in subscription.event_types
                    and subscription.created_at <= event.occurred_at
                    and scope.visible(kind, subscription.organisation_id, event)
                ):
                    rows.append(
                        {
                            "subscription_id": subscription.id,
                            "event_id": event.id,
                            "event_type": event.event_type,
                            "event_seq": event.seq,
                            "household_id": event.household_id,
                            "payload": scope.payload(kind, event),
                            "status": DeliveryStatus.PENDING.value,
                            "next_attempt_at": now,
                            "expires_at": expires,
                            "version": 1,
                        }
                    )
        await repository.add_deliveries(session, rows)
        await repository.mark_dispatched(session, [e.id for e in events], now)
    return len(events) == DISPATCH_BATCH


# --- delivery ------------------------------------------------------------------------------------------------------
async def _post(
    http: httpx.AsyncClient, settings: Settings, subscription: WebhookSubscription, delivery: WebhookDelivery
) -> tuple[int | None, str | None]:
    """POST the delivery once: (status code or None, error or None). The URL is checked again first (SSRF)."""
    try:
        target = await asyncio.wait_for(
            urls.check(subscription.url, allow_private=settings.webhooks_private_urls_allowed),
            timeout=settings.webhook_timeout_seconds,
        )
    except urls.UrlRefused as exc:
        return None, f"refused: {exc}"
    except TimeoutError:
        return None, "timeout (name resolution)"
    body = body_of(delivery)
    headers = signing.headers(str(delivery.id), int(time.time()), body, signing_keys(subscription, utcnow()))
    headers |= {"content-type": "application/json", "user-agent": USER_AGENT, "host": target.host_header}
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
    request = http.build_request(
        "POST",
        target.url,
        content=body.encode(),
        headers=headers,
        timeout=settings.webhook_timeout_seconds,
        extensions=extensions,
    )
    try:
        # Only the status counts: the receiver's body is never read (a huge or endless one cannot hold a lane).
        response = await http.send(request, follow_redirects=False, stream=True)
        await response.aclose()
    except httpx.TimeoutException:
        return None, "timeout"
    except httpx.HTTPError as exc:
        return None, f"connection error ({type(exc).__name__})"
    code = response.status_code
    if 200 <= code < 300:
        return code, None
    if 300 <= code < 400:
        return code, "redirect not followed"
    return code, f"HTTP {code}"


def _disabled_reason(since: datetime | None, now: datetime, error: str) -> str:
    start = (since or now).strftime("%Y-%m-%d %H:%M")
    return (
        f"Disabled by the delivery worker on {now:%Y-%m-%d %H:%M} UTC: every attempt has failed since {start} UTC "
        f"(last: {error}). Fix the receiver, then PATCH active=true; redeliver what it missed."
    )[:500]


async def deliver_one(maker: async_sessionmaker[AsyncSession], settings: Settings, http: httpx.AsyncClient) -> bool:
    """Post one due delivery and record the outcome; False when nothing was due."""
    async with maker() as session, session.begin():
        claimed = await repository.claim_due(session, utcnow())
        if claimed is None:
            return False
        delivery, subscription = claimed
        started = utcnow()
        if started >= delivery.expires_at:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED.value, None
            delivery.last_error = "expired before it could be attempted"
            return True
        clock_start = time.perf_counter()
        code, error = await _post(http, settings, subscription, delivery)
        latency = round((time.perf_counter() - clock_start) * 1000)
        now = utcnow()
        await repository.add_attempt(session, delivery.id, now, code, latency, error)
        delivery.attempts_count += 1
        delivery.last_attempt_at, delivery.last_status_code = now, code
        delivery.last_error, delivery.last_latency_ms = error, latency
        if error is None:
            delivery.status, delivery.next_attempt_at, delivery.delivered_at = DeliveryStatus.DELIVERED.value, None, now
            await repository.subscription_succeeded(session, subscription.id)
        else:
            retry_at = now + timedelta(seconds=retry_delay(settings, delivery.attempts_count))
            if retry_at >= delivery.expires_at:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED.value, None
            else:
                delivery.next_attempt_at = retry_at
            cutoff = now - timedelta(hours=settings.webhook_disable_after_hours)
            reason = _disabled_reason(subscription.failing_since, now, error)
            if await repository.subscription_failed(session, subscription.id, now, cutoff, reason):
                logger.warning("webhook subscription disabled", extra={"subscription_id": str(subscription.id)})
        logger.info(
            "webhook delivery",
            extra={
                "delivery_id": str(delivery.id),
                "subscription_id": str(subscription.id),
                "event_type": delivery.event_type,
                "status_code": code,
                "error": error,
                "latency_ms": latency,
                "outcome": delivery.status,
            },
        )
    return True


# --- retention -----------------------------------------------------------------------------------------------------
async def purge(maker: async_sessionmaker[AsyncSession], settings: Settings) -> bool:
    """Delete one batch of events dispatched more than `webhook_retention_days` ago (with their deliveries and
    attempts), unless a delivery still waits on them; True when there may be more."""
    cutoff = utcnow() - timedelta(days=settings.webhook_retention_days)
    async with maker() as session, session.begin():
        return await repository.purge_events(session, cutoff, PURGE_BATCH) == PURGE_BATCH
