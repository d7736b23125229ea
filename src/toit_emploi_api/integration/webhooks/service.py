"""Rules of webhook subscriptions (admin only) and of redelivery. Flushes only; the request's session commits."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit
from toit_emploi_api.core.clock import utcnow
from toit_emploi_api.core.errors import FieldError, ProblemError, ValidationProblemError
from toit_emploi_api.core.resources import PageParams, Slice, found
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.integration.webhooks import repository, scope, signing, urls
from toit_emploi_api.integration.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from toit_emploi_api.integration.webhooks.schemas import SubscriptionCreate, SubscriptionUpdate
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.events import EventType
from toit_emploi_api.vocab.problems import (
    WEBHOOK_DELIVERY_PENDING,
    WEBHOOK_EVENT_NOT_ALLOWED,
    WEBHOOK_SUBSCRIPTION_INACTIVE,
    WEBHOOK_URL_NOT_ALLOWED,
)
from toit_emploi_api.vocab.roles import OrganisationKind

ENTITY = "webhook_subscription"


def subscription_location(subscription: WebhookSubscription) -> str:
    return f"/api/v1/webhook-subscriptions/{subscription.id}"


async def check_url(url: str, settings: Settings) -> None:
    """422 `webhook-url-not-allowed` naming `url` when the URL breaks the environment's rules (urls.check)."""
    try:
        await urls.check(url, allow_private=settings.webhooks_private_urls_allowed)
    except urls.UrlRefused as exc:
        raise ProblemError(
            WEBHOOK_URL_NOT_ALLOWED,
            f"This URL cannot receive webhooks: {exc}.",
            errors=[FieldError(field="url", message=str(exc))],
        ) from None


def check_event_types(kind: OrganisationKind, event_types: list[EventType]) -> None:
    """422 `webhook-event-not-allowed` naming each event type the organisation's kind may not receive."""
    allowed = scope.ALLOWED_EVENTS[kind]
    errors = [
        FieldError(field=f"event_types.{i}", message=f"a {kind.value} organisation does not receive {t.value}")
        for i, t in enumerate(event_types)
        if t not in allowed
    ]
    if errors:
        raise ProblemError(
            WEBHOOK_EVENT_NOT_ALLOWED,
            f"A {kind.value} organisation may receive: {', '.join(sorted(allowed)) or 'no event'}.",
            errors=errors,
            extra={"allowed_event_types": sorted(allowed)},
        )


async def _organisation_kind(session: AsyncSession, organisation_id: uuid.UUID) -> OrganisationKind:
    org = await repository.organisation(session, organisation_id)
    if org is None:
        raise ValidationProblemError(
            "Unknown organisation.", errors=[FieldError(field="organisation_id", message="unknown organisation")]
        )
    return org.kind


async def create(
    session: AsyncSession, principal: Principal, body: SubscriptionCreate, settings: Settings
) -> WebhookSubscription:
    """A new subscription with a fresh secret (returned to the caller once)."""
    kind = await _organisation_kind(session, body.organisation_id)
    check_event_types(kind, body.event_types)
    await check_url(body.url, settings)
    subscription = WebhookSubscription(
        organisation_id=body.organisation_id,
        url=body.url,
        description=body.description or None,
        event_types=[t.value for t in body.event_types],
        secret=signing.new_secret(),
        active=body.active,
    )
    session.add(subscription)
    await session.flush()
    details = {"event_types": subscription.event_types}
    await audit.record(
        session, principal, AuditAction.WEBHOOK_SUBSCRIPTION_CREATE, ENTITY, subscription.id, details=details
    )
    return subscription


async def list_page(
    session: AsyncSession, page: PageParams, organisation_id: uuid.UUID | None
) -> Slice[WebhookSubscription]:
    return await repository.list_subscriptions(session, page, organisation_id)


async def get_or_404(
    session: AsyncSession, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription:
    return found(
        await repository.get_subscription(session, subscription_id, for_update=for_update),
        "No webhook subscription with this id.",
    )


async def update(
    session: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    body: SubscriptionUpdate,
    settings: Settings,
) -> WebhookSubscription:
    """Change the URL, event types, description or active flag (the subscription is locked). Re-activating clears
    the reason the worker disabled it and its failing streak."""
    changes = body.model_dump(exclude_unset=True)
    for name in ("url", "event_types", "active"):
        if name in changes and changes[name] is None:
            raise ValidationProblemError(f"{name} must not be null.", errors=[FieldError(field=name, message="null")])
    if body.event_types is not None:
        check_event_types(await _organisation_kind(session, subscription.organisation_id), body.event_types)
        changes["event_types"] = [t.value for t in body.event_types]
    if body.url is not None:
        await check_url(body.url, settings)
    if "description" in changes:
        changes["description"] = changes["description"] or None
    changed = sorted(name for name, value in changes.items() if getattr(subscription, name) != value)
    for name in changed:
        setattr(subscription, name, changes[name])
    if body.active and (subscription.disabled_reason or subscription.failing_since):
        subscription.disabled_reason = subscription.disabled_at = subscription.failing_since = None
        changed.append("disabled_reason")
    if changed:
        subscription.updated_at = utcnow()
    await session.flush()
    details = {"fields": changed}
    await audit.record(
        session, principal, AuditAction.WEBHOOK_SUBSCRIPTION_UPDATE, ENTITY, subscription.id, details=details
    )
    return subscription


async def rotate_secret(
    session: AsyncSession, principal: Principal, subscription: WebhookSubscription, settings: Settings
) -> WebhookSubscription:
    """A new secret; the old one keeps signing alongside it for `webhook_previous_secret_hours`."""
    now = utcnow()
    grace = timedelta(hours=settings.webhook_previous_secret_hours)
    subscription.previous_secret = subscription.secret if grace else None
    subscription.previous_secret_until = now + grace if grace else None
    subscription.secret = signing.new_secret()
    subscription.updated_at = now
    await session.flush()
    await audit.record(session, principal, AuditAction.WEBHOOK_SUBSCRIPTION_ROTATE_SECRET, ENTITY, subscription.id)
    return subscription


async def delete(session: AsyncSession, principal: Principal, subscription: WebhookSubscription) -> None:
    """Delete the subscription and its deliveries (the events stay in the outbox for the other subscribers)."""
    await audit.record(session, principal, AuditAction.WEBHOOK_SUBSCRIPTION_DELETE, ENTITY, subscription.id)
    await session.delete(subscription)
    await session.flush()


# --- deliveries ----------------------------------------------------------------------------------------------------
async def list_deliveries(
    session: AsyncSession, subscription: WebhookSubscription, page: PageParams, status: DeliveryStatus | None
) -> Slice[WebhookDelivery]:
    return await repository.list_deliveries(session, subscription.id, page, status)


async def get_delivery_or_404(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID, *, for_update: bool = False
) -> WebhookDelivery:
    return found(
        await repository.get_delivery(session, subscription_id, delivery_id, for_update=for_update),
        "No delivery with this id for this subscription.",
    )


async def redeliver(
    session: AsyncSession,
    principal: Principal,
    subscription: WebhookSubscription,
    delivery: WebhookDelivery,
    settings: Settings,
) -> WebhookDelivery:
    """Queue a delivered or failed delivery again, due now, with a fresh retry window (the same `webhook-id` and
    body). 409 while it is still pending, or when the subscription is inactive."""
    if delivery.status == DeliveryStatus.PENDING.value:
        raise ProblemError(WEBHOOK_DELIVERY_PENDING, "This delivery is still pending: the worker will try it.")
    if not subscription.active:
        raise ProblemError(
            WEBHOOK_SUBSCRIPTION_INACTIVE, "The subscription is inactive: PATCH active=true first, then redeliver."
        )
    now = utcnow()
    delivery.status = DeliveryStatus.PENDING.value
    delivery.next_attempt_at = now
    delivery.expires_at = now + timedelta(hours=settings.webhook_retry_hours)
    delivery.attempts_count = 0
    delivery.updated_at = now
    await session.flush()
    await audit.record(
        session,
        principal,
        AuditAction.WEBHOOK_DELIVERY_REDELIVER,
        "webhook_delivery",
        delivery.id,
        household_id=None,
        details={"subscription_id": str(subscription.id)},
    )
    return delivery
