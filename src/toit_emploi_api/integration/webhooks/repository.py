"""All SQL of webhook subscriptions, deliveries and the worker's queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from toit_emploi_api.accounts.models import Organisation
from toit_emploi_api.core.outbox import OutboxEvent
from toit_emploi_api.core.resources import PageParams, Slice, paginate
from toit_emploi_api.integration.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookSubscription,
)
from toit_emploi_api.vocab.roles import OrganisationKind

DISPATCH_LOCK = 0x7465_0014  # advisory lock: one fan-out at a time, so deliveries are made in event order


# --- subscriptions -----------------------------------------------------------------------------------------------
async def organisation(session: AsyncSession, organisation_id: uuid.UUID) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription | None:
    stmt = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_subscriptions(
    session: AsyncSession, page: PageParams, organisation_id: uuid.UUID | None
) -> Slice[WebhookSubscription]:
    stmt = select(WebhookSubscription).order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    if organisation_id is not None:
        stmt = stmt.where(WebhookSubscription.organisation_id == organisation_id)
    return await paginate(session, stmt, page)


# --- deliveries --------------------------------------------------------------------------------------------------
async def list_deliveries(
    session: AsyncSession, subscription_id: uuid.UUID, page: PageParams, status: DeliveryStatus | None
) -> Slice[WebhookDelivery]:
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .options(selectinload(WebhookDelivery.attempts))
        .order_by(WebhookDelivery.event_seq.desc(), WebhookDelivery.id)
    )
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status.value)
    return await paginate(session, stmt, page)


async def get_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID, *, for_update: bool = False
) -> WebhookDelivery | None:
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription_id)
        .options(selectinload(WebhookDelivery.attempts))
    )
    if for_update:
        stmt = stmt.with_for_update(of=WebhookDelivery)
    return (await session.execute(stmt)).scalar_one_or_none()


# --- the worker: fan-out -----------------------------------------------------------------------------------------
async def try_dispatch_lock(session: AsyncSession) -> bool:
    """The fan-out's transaction lock (False: another worker is fanning out right now)."""
    return bool((await session.execute(select(func.pg_try_advisory_xact_lock(DISPATCH_LOCK)))).scalar_one())


async def undispatched_events(session: AsyncSession, limit: int) -> Sequence[OutboxEvent]:
    stmt = (
        select(OutboxEvent)
        .where(OutboxEvent.dispatched_at.is_(None))
        .order_by(OutboxEvent.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).scalars().all()


async def receiving_subscriptions(session: AsyncSession) -> Sequence[tuple[WebhookSubscription, OrganisationKind]]:
    """Active subscriptions of active organisations, with their organisation's kind."""
    stmt = (
        select(WebhookSubscription, Organisation.kind)
        .join(Organisation, Organisation.id == WebhookSubscription.organisation_id)
        .where(WebhookSubscription.active, Organisation.active)
        .order_by(WebhookSubscription.created_at)
    )
    return [(sub, kind) for sub, kind in (await session.execute(stmt)).all()]


async def add_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        stmt = (
            pg_insert(WebhookDelivery)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
        )
        await session.execute(stmt)


async def mark_dispatched(session: AsyncSession, event_ids: list[uuid.UUID], now: datetime) -> None:
    await session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(event_ids)).values(dispatched_at=now))


# --- the worker: delivery ----------------------------------------------------------------------------------------
def _claim_due_statement() -> Select[WebhookDelivery, WebhookSubscription]:
    earlier = aliased(WebhookDelivery)
    blocked = (
        select(literal(1))
        .where(
            earlier.subscription_id == WebhookDelivery.subscription_id,
            earlier.household_id == WebhookDelivery.household_id,
            earlier.status == DeliveryStatus.PENDING.value,
            earlier.event_seq < WebhookDelivery.event_seq,
        )
        .exists()
    )
    return (
        select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            WebhookDelivery.next_attempt_at <= bindparam("now"),
            WebhookSubscription.active,
            ~blocked,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.event_seq)
        .limit(1)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )


# Built once: every delivery lane polls it every `webhook_poll_seconds`, and building it (an aliased class, its
# adapted columns) cost more CPU than running it — a slice of every API request's time in the same process.
_CLAIM_DUE = _claim_due_statement()


async def claim_due(session: AsyncSession, now: datetime) -> tuple[WebhookDelivery, WebhookSubscription] | None:
    """One due delivery of an active subscription, locked `FOR UPDATE SKIP LOCKED` (another worker's deliveries
    are skipped, not waited for), and only if no earlier delivery of the same household to the same subscription is
    still pending (in order per household)."""
    row = (await session.execute(_CLAIM_DUE, {"now": now})).first()
    return (row[0], row[1]) if row is not None else None


async def add_attempt(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    at: datetime,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
) -> None:
    await session.execute(
        insert(WebhookDeliveryAttempt).values(
            delivery_id=delivery_id, at=at, status_code=status_code, latency_ms=latency_ms, error=error
        )
    )


def _unlocked(subscription_id: uuid.UUID) -> Any:
    """The subscription's id if its row is not locked right now (an admin changing it): the worker never waits on a
    subscription while it holds a delivery, so that deleting a subscription cannot deadlock with a delivery."""
    return (
        select(WebhookSubscription.id)
        .where(WebhookSubscription.id == subscription_id)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


async def subscription_succeeded(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    await session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == _unlocked(subscription_id), WebhookSubscription.failing_since.is_not(None))
        .values(failing_since=None, version=WebhookSubscription.version + 1)
        .execution_options(synchronize_session=False)
    )


async def subscription_failed(
    session: AsyncSession, subscription_id: uuid.UUID, now: datetime, cutoff: datetime, reason: str
) -> bool:
    """Record a failure: `failing_since` starts now if unset; failing since `cutoff` or earlier disables the
    subscription with `reason`. True when this call disabled it."""
    since = func.coalesce(WebhookSubscription.failing_since, now)
    disable = and_(WebhookSubscription.active, since <= cutoff)
    stmt = (
        update(WebhookSubscription)
        .where(
            WebhookSubscription.id == _unlocked(subscription_id),
            (WebhookSubscription.failing_since.is_(None)) | disable,
        )
        .values(
            failing_since=since,
            active=case((disable, False), else_=WebhookSubscription.active),
            disabled_reason=case((disable, reason), else_=WebhookSubscription.disabled_reason),
            disabled_at=case((disable, now), else_=WebhookSubscription.disabled_at),
            version=WebhookSubscription.version + 1,
        )
        .returning(WebhookSubscription.active)
        .execution_options(synchronize_session=False)
    )
    active = (await session.execute(stmt)).scalar_one_or_none()
    return active is False


# --- the worker: retention ---------------------------------------------------------------------------------------
async def purge_events(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` events dispatched before `cutoff` that no delivery still waits on (their deliveries and
    attempts go with them); how many."""
    pending = (
        select(literal(1))
        .where(WebhookDelivery.event_id == OutboxEvent.id, WebhookDelivery.status == DeliveryStatus.PENDING.value)
        .exists()
    )
    doomed = (
        select(OutboxEvent.id)
        .where(OutboxEvent.dispatched_at < cutoff, ~pending)
        .order_by(OutboxEvent.seq)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(
        delete(OutboxEvent).where(OutboxEvent.id.in_(doomed)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
