"""Loader dependencies: the subscription (and delivery) of the path, 404 when unknown; the app's settings.

Declare the route's principal first, so that a refused role is a 403 before any 404."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from toit_emploi_api.auth.policy import Authenticated
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.integration.webhooks import service
from toit_emploi_api.integration.webhooks.models import WebhookDelivery, WebhookSubscription


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _subscription(_: Authenticated, session: SessionDep, subscription_id: uuid.UUID) -> WebhookSubscription:
    return await service.get_or_404(session, subscription_id)


async def _locked_subscription(
    _: Authenticated, session: SessionDep, subscription_id: uuid.UUID
) -> WebhookSubscription:
    return await service.get_or_404(session, subscription_id, for_update=True)


async def _delivery(
    _: Authenticated, session: SessionDep, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    return await service.get_delivery_or_404(session, subscription_id, delivery_id)


async def _locked_delivery(
    _: Authenticated, session: SessionDep, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    return await service.get_delivery_or_404(session, subscription_id, delivery_id, for_update=True)


SettingsDep = Annotated[Settings, Depends(_settings)]
CurrentSubscription = Annotated[WebhookSubscription, Depends(_subscription)]
"""The path's subscription."""
LockedSubscription = Annotated[WebhookSubscription, Depends(_locked_subscription)]
"""The same, locked `FOR UPDATE` (for writes)."""
CurrentDelivery = Annotated[WebhookDelivery, Depends(_delivery)]
"""The path's delivery of the path's subscription."""
LockedDelivery = Annotated[WebhookDelivery, Depends(_locked_delivery)]
"""The same, locked `FOR UPDATE` (waits while a worker is posting it)."""
