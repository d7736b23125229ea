"""The event types the API publishes (webhooks), `<object>.<what happened>`; docs/integration.md describes each
payload. Services emit them through `core.outbox.emit`."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    HOUSEHOLD_CREATED = "household.created"
    HOUSEHOLD_DELETED = "household.deleted"
    HOUSEHOLD_STAGE_CHANGED = "household.stage_changed"
    HOUSEHOLD_APPLICATION_SUBMITTED = "household.application_submitted"
    HOUSEHOLD_APPLICATION_PRESENTED = "household.application_presented"
    PLACEMENT_CHANGED = "placement.changed"
    RELAY_STAY_BOOKED = "relay_stay.booked"
    RELAY_STAY_OUTCOME_RECORDED = "relay_stay.outcome_recorded"
    RELAY_STAY_CANCELLED = "relay_stay.cancelled"
    ALLOCATION_CHANGED = "allocation.changed"
    HOUSING_UNIT_SYNC_COMPLETED = "housing_unit.sync_completed"


HOUSEHOLD_STATUS_EVENTS: frozenset[EventType] = frozenset(
    {
        EventType.HOUSEHOLD_CREATED,
        EventType.HOUSEHOLD_DELETED,
        EventType.HOUSEHOLD_STAGE_CHANGED,
        EventType.HOUSEHOLD_APPLICATION_SUBMITTED,
        EventType.HOUSEHOLD_APPLICATION_PRESENTED,
    }
)
"""Events about a household's file and stage: what a referring partner may receive about its own households."""

PIPELINE_RECORD_EVENTS: frozenset[EventType] = frozenset(
    {
        EventType.PLACEMENT_CHANGED,
        EventType.RELAY_STAY_BOOKED,
        EventType.RELAY_STAY_OUTCOME_RECORDED,
        EventType.RELAY_STAY_CANCELLED,
        EventType.ALLOCATION_CHANGED,
    }
)
"""Events about the pipeline's records (placements, relay stays, allocations): the operator's staff only."""
