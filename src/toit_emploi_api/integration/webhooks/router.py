"""Webhook subscriptions and their deliveries (admin only): docs/integration.md#webhooks."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from toit_emploi_api.auth.policy import AdminDep
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.core.idempotency import idempotent
from toit_emploi_api.core.problems import NOT_FOUND, VALIDATION_ERROR
from toit_emploi_api.core.resources import IfMatchDep, Page, PageDep, answers_etag, created, with_etag
from toit_emploi_api.integration.webhooks import service
from toit_emploi_api.integration.webhooks.deps import (
    CurrentDelivery,
    CurrentSubscription,
    LockedDelivery,
    LockedSubscription,
    SettingsDep,
)
from toit_emploi_api.integration.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from toit_emploi_api.integration.webhooks.schemas import (
    DeliveryOut,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)
from toit_emploi_api.vocab.problems import (
    WEBHOOK_DELIVERY_PENDING,
    WEBHOOK_EVENT_NOT_ALLOWED,
    WEBHOOK_SUBSCRIPTION_INACTIVE,
    WEBHOOK_URL_NOT_ALLOWED,
)

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
BASE = "/webhook-subscriptions"
ONE = BASE + "/{subscription_id}"
DELIVERY = ONE + "/deliveries/{delivery_id}"


def _out(subscription: WebhookSubscription) -> SubscriptionOut:
    return SubscriptionOut.model_validate(subscription)


def _with_secret(response: Response, subscription: WebhookSubscription) -> SubscriptionWithSecret:
    response.headers["Cache-Control"] = "no-store"
    return SubscriptionWithSecret(**_out(subscription).model_dump(), secret=subscription.secret)


def _delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut.model_validate(delivery)


@router.get(BASE, summary="List webhook subscriptions")
async def webhook_subscriptions_list(
    _: AdminDep,
    session: SessionDep,
    page: PageDep,
    organisation_id: Annotated[uuid.UUID | None, Query(description="Only this organisation's subscriptions.")] = None,
) -> Page[SubscriptionOut]:
    """Every webhook subscription, oldest first (admin only), optionally of one organisation. Secrets are never
    listed; `disabled_reason` says why the worker disabled one. Paginated with `limit` and `offset`."""
    return (await service.list_page(session, page, organisation_id)).to(_out)


@router.post(
    BASE,
    summary="Create a webhook subscription",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(VALIDATION_ERROR, WEBHOOK_URL_NOT_ALLOWED, WEBHOOK_EVENT_NOT_ALLOWED),
)
@idempotent
@answers_etag
async def webhook_subscriptions_create(
    principal: AdminDep, session: SessionDep, body: SubscriptionCreate, settings: SettingsDep, response: Response
) -> SubscriptionWithSecret:
    """Subscribe an organisation's system to event types (admin only): `organisation_id`, `url`, `event_types`,
    optional `description` and `active` (default true).

    The URL must be https and resolve to public addresses only in production (`422 webhook-url-not-allowed`
    naming `url`; http and loopback are allowed in the local and test environments). Each organisation kind
    receives only what its people may read (`422 webhook-event-not-allowed` naming each refused
    `event_types.N`, with `allowed_event_types`): the operator every event; a referring partner the `household.*`
    events of its own households as their status view; a landlord `housing_unit.sync_completed` of its own syncs;
    a funder nothing. The answer (201, `ETag`, `Location`, `Cache-Control: no-store`) is the only time the
    `secret` (`whsec_…`) is shown: store it now. Only events that happen after the creation are delivered."""
    subscription = await service.create(session, principal, body, settings)
    created(response, subscription.version, service.subscription_location(subscription))
    return _with_secret(response, subscription)


@router.get(ONE, summary="Read a webhook subscription", responses=problem_responses(NOT_FOUND))
@answers_etag
async def webhook_subscriptions_get(
    _: AdminDep, subscription: CurrentSubscription, response: Response
) -> SubscriptionOut:
    """One subscription with its `ETag` (admin only), without its secret; 404 when unknown. `failing_since` is
    the first failed attempt since the last success; `disabled_reason` why the worker disabled it."""
    with_etag(response, subscription.version)
    return _out(subscription)


@router.patch(
    ONE,
    summary="Change a webhook subscription",
    responses=problem_responses(NOT_FOUND, VALIDATION_ERROR, WEBHOOK_URL_NOT_ALLOWED, WEBHOOK_EVENT_NOT_ALLOWED),
)
@answers_etag
async def webhook_subscriptions_update(
    principal: AdminDep,
    session: SessionDep,
    subscription: LockedSubscription,
    body: SubscriptionUpdate,
    if_match: IfMatchDep,
    settings: SettingsDep,
    response: Response,
) -> SubscriptionOut:
    """Change `url`, `event_types`, `description` or `active` (admin only), with `If-Match` from your last read.

    The same rules as at creation apply to the URL and the event types. An inactive subscription receives no
    event (the events of that time are not queued for it). `active: true` re-enables a subscription the worker
    disabled and clears `disabled_reason` and `failing_since`; then redeliver what it missed."""
    if_match.check(subscription.version)
    subscription = await service.update(session, principal, subscription, body, settings)
    with_etag(response, subscription.version)
    return _out(subscription)


@router.delete(
    ONE,
    summary="Delete a webhook subscription",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(NOT_FOUND),
)
async def webhook_subscriptions_delete(
    principal: AdminDep, session: SessionDep, subscription: LockedSubscription, if_match: IfMatchDep
) -> Response:
    """Delete a subscription and its deliveries (admin only), with `If-Match` from your last read. A delivery being
    posted at that moment finishes first. Answers 204; recorded in the audit trail."""
    if_match.check(subscription.version)
    await service.delete(session, principal, subscription)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(ONE + "/secret", summary="Rotate a webhook subscription's secret", responses=problem_responses(NOT_FOUND))
@idempotent
@answers_etag
async def webhook_subscriptions_rotate_secret(
    principal: AdminDep,
    session: SessionDep,
    subscription: LockedSubscription,
    if_match: IfMatchDep,
    settings: SettingsDep,
    response: Response,
) -> SubscriptionWithSecret:
    """Issue a new signing secret (admin only), with `If-Match` from your last read; shown in this answer only
    (`Cache-Control: no-store`). Until `previous_secret_until` (24 hours by default) every message carries two
    signatures, one per secret, so the receiver can switch to the new secret without missing a message."""
    if_match.check(subscription.version)
    subscription = await service.rotate_secret(session, principal, subscription, settings)
    with_etag(response, subscription.version)
    return _with_secret(response, subscription)


@router.get(ONE + "/deliveries", summary="List a subscription's deliveries", responses=problem_responses(NOT_FOUND))
async def webhook_deliveries_list(
    _: AdminDep,
    session: SessionDep,
    subscription: CurrentSubscription,
    page: PageDep,
    delivery_status: Annotated[
        DeliveryStatus | None, Query(alias="status", description="Only deliveries with this status.")
    ] = None,
) -> Page[DeliveryOut]:
    """The subscription's deliveries, newest event first (admin only): status (`pending`, `delivered`, `failed`),
    attempts with their status codes, latency and errors, the next try, the payload sent. Its `id` is the
    `webhook-id` the receiver saw. Paginated with `limit` and `offset`."""
    return (await service.list_deliveries(session, subscription, page, delivery_status)).to(_delivery_out)


@router.get(DELIVERY, summary="Read one delivery", responses=problem_responses(NOT_FOUND))
@answers_etag
async def webhook_deliveries_get(
    _: AdminDep, subscription: CurrentSubscription, delivery: CurrentDelivery, response: Response
) -> DeliveryOut:
    """One delivery of the subscription with its attempts and its `ETag` (admin only); 404 when unknown or of
    another subscription."""
    with_etag(response, delivery.version)
    return _delivery_out(delivery)


@router.post(
    DELIVERY + "/redeliver",
    summary="Deliver a message again",
    responses=problem_responses(NOT_FOUND, WEBHOOK_DELIVERY_PENDING, WEBHOOK_SUBSCRIPTION_INACTIVE),
)
@idempotent
@answers_etag
async def webhook_deliveries_redeliver(
    principal: AdminDep,
    session: SessionDep,
    subscription: CurrentSubscription,
    delivery: LockedDelivery,
    if_match: IfMatchDep,
    settings: SettingsDep,
    response: Response,
) -> DeliveryOut:
    """Queue a delivered or failed delivery again (admin only), with `If-Match` from the delivery's last read: due
    now, with the same `webhook-id` and body, retried for another 24 hours. `409 webhook-delivery-pending` while
    the worker still has it; `409 webhook-subscription-inactive` when the subscription is inactive."""
    if_match.check(delivery.version)
    delivery = await service.redeliver(session, principal, subscription, delivery, settings)
    with_etag(response, delivery.version)
    return _delivery_out(delivery)
