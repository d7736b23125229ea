"""Request and response bodies of the webhook subscriptions and their deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator

from toit_emploi_api.core.schemas import InputModel, OutputModel
from toit_emploi_api.integration.webhooks.models import URL_MAX_LENGTH, DeliveryStatus
from toit_emploi_api.vocab.events import EventType

Url = Annotated[str, Field(min_length=1, max_length=URL_MAX_LENGTH, examples=["https://partner.example/webhooks"])]
Description = Annotated[str, Field(max_length=200)]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]


def _unique(values: list[EventType] | None) -> list[EventType] | None:
    if values is None:
        return None
    return list(dict.fromkeys(values))


class SubscriptionCreate(InputModel):
    """A new subscription: the organisation whose system receives the events, its URL, the event types."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "organisation_id": "6f1c1d1e-8a43-4f57-9a1c-2d3b4c5d6e7f",
                    "url": "https://partner.example/webhooks/toit-emploi",
                    "event_types": ["household.created", "household.stage_changed"],
                    "description": "Charonne case-management tool",
                }
            ]
        }
    )

    organisation_id: uuid.UUID
    url: Url
    event_types: EventTypes
    description: Description | None = None
    active: bool = True

    _dedupe = field_validator("event_types")(_unique)


class SubscriptionUpdate(InputModel):
    """The fields to change; `active: true` re-enables a subscription the worker disabled."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"active": True}]})

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    active: bool | None = None

    _dedupe = field_validator("event_types")(_unique)


class SubscriptionOut(OutputModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    url: str
    description: str | None
    event_types: list[EventType]
    active: bool
    disabled_reason: str | None = Field(description="Why the worker disabled the subscription (None when it did not).")
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="The first failed attempt since the last successful one: at 3 days the subscription is disabled."
    )
    previous_secret_until: datetime | None = Field(
        description="After a rotation, the old secret also signs the messages until then."
    )
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(SubscriptionOut):
    """The answer of a creation or a rotation: the only time the secret is shown."""

    secret: str = Field(description="`whsec_…`: the key receivers verify signatures with. Shown once: store it now.")


class AttemptOut(OutputModel):
    at: datetime
    status_code: int | None = Field(description="The receiver's HTTP status (None: no answer, see `error`).")
    latency_ms: int
    error: str | None


class DeliveryOut(OutputModel):
    id: uuid.UUID = Field(description="Also the message's `webhook-id` header (the same on every attempt).")
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: EventType
    household_id: uuid.UUID | None
    status: DeliveryStatus
    attempts_count: int
    next_attempt_at: datetime | None = Field(description="When the next attempt is due (pending deliveries only).")
    expires_at: datetime = Field(description="Attempts stop then, and the delivery becomes failed.")
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    payload: dict[str, Any] = Field(description="The body sent (the same on every attempt).")
    attempts: list[AttemptOut]
