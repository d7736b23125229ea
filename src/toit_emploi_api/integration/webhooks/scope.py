"""What each organisation may receive, and the payload it receives (built once per delivery, at fan-out).

- The operator (Aurore: admins, the service manager, the Paris referent see every household) receives every event
  type, about every household, with every fact the event carries (ids, statuses, codes, dates).
- A referring partner receives the household events (`household.*`) of the households it refers, and only their
  status block (id, reference, stage, dates: what its partner workers read once a household left diagnostic), never
  the pipeline's records (its workers cannot read placements, relay stays or allocations).
- A landlord receives the `housing_unit.sync_completed` events of its own syncs; no household data.
- A funder receives nothing (aggregates only): it cannot have a subscription.

No payload ever holds a name, a birth date or a note: the events do not carry them (`core.outbox`)."""

from __future__ import annotations

import uuid
from typing import Any

from toit_emploi_api.core.outbox import OutboxEvent
from toit_emploi_api.households.events import STATUS_FIELDS
from toit_emploi_api.vocab.events import HOUSEHOLD_STATUS_EVENTS, EventType
from toit_emploi_api.vocab.roles import OrganisationKind

ALLOWED_EVENTS: dict[OrganisationKind, frozenset[EventType]] = {
    OrganisationKind.OPERATOR: frozenset(EventType),
    OrganisationKind.REFERRAL_PARTNER: HOUSEHOLD_STATUS_EVENTS,
    OrganisationKind.LANDLORD: frozenset({EventType.HOUSING_UNIT_SYNC_COMPLETED}),
    OrganisationKind.FUNDER: frozenset(),
}
"""The event types an organisation of each kind may subscribe to."""

# What a partner reads of its household events beyond the status block.
_PARTNER_EXTRA_FIELDS = ("from_stage", "at")


def visible(kind: OrganisationKind, organisation_id: uuid.UUID, event: OutboxEvent) -> bool:
    """Whether an organisation of this kind and id may receive this event at all."""
    try:
        event_type = EventType(event.event_type)
    except ValueError:
        return False
    if event_type not in ALLOWED_EVENTS[kind]:
        return False
    if kind is OrganisationKind.OPERATOR:
        return True
    return event.organisation_id == organisation_id


def payload(kind: OrganisationKind, event: OutboxEvent) -> dict[str, Any]:
    """The body the organisation receives: `{id, type, timestamp, data}` (Standard Webhooks' shape)."""
    data = dict(event.data)
    if kind is OrganisationKind.REFERRAL_PARTNER:
        data = {k: v for k, v in data.items() if k in STATUS_FIELDS or k in _PARTNER_EXTRA_FIELDS}
    return {
        "id": f"evt_{event.id.hex}",
        "type": event.event_type,
        "timestamp": event.occurred_at.isoformat(),
        "data": data,
    }
