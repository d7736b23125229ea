"""Who receives which event (integration.webhooks.scope), on events built in memory."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from toit_emploi_api.core.outbox import OutboxEvent
from toit_emploi_api.integration.webhooks import scope, signing
from toit_emploi_api.vocab.events import EventType
from toit_emploi_api.vocab.roles import OrganisationKind

MINE, OTHER = uuid.uuid4(), uuid.uuid4()


def _event(event_type: EventType, organisation_id: uuid.UUID, **data: object) -> OutboxEvent:
    return OutboxEvent(
        id=uuid.uuid4(),
        event_type=event_type.value,
        household_id=uuid.uuid4() if event_type.value.split(".")[0] != "housing_unit" else None,
        organisation_id=organisation_id,
        data={"household_id": "h", "reference": "TE-2026-0001", "stage": "lease", **data},
        occurred_at=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("kind", "event", "seen"),
    [
        (OrganisationKind.OPERATOR, _event(EventType.PLACEMENT_CHANGED, OTHER), True),
        (OrganisationKind.REFERRAL_PARTNER, _event(EventType.HOUSEHOLD_STAGE_CHANGED, MINE), True),
        (OrganisationKind.REFERRAL_PARTNER, _event(EventType.HOUSEHOLD_STAGE_CHANGED, OTHER), False),
        (OrganisationKind.REFERRAL_PARTNER, _event(EventType.PLACEMENT_CHANGED, MINE), False),
        (OrganisationKind.LANDLORD, _event(EventType.HOUSING_UNIT_SYNC_COMPLETED, MINE), True),
        (OrganisationKind.LANDLORD, _event(EventType.HOUSING_UNIT_SYNC_COMPLETED, OTHER), False),
        (OrganisationKind.LANDLORD, _event(EventType.ALLOCATION_CHANGED, MINE), False),
        (OrganisationKind.FUNDER, _event(EventType.HOUSEHOLD_CREATED, MINE), False),
    ],
)
def test_visible(kind: OrganisationKind, event: OutboxEvent, seen: bool) -> None:
    assert scope.visible(kind, MINE, event) is seen


def test_a_partner_reads_the_status_block_only() -> None:
    event = _event(EventType.HOUSEHOLD_STAGE_CHANGED, MINE, from_stage="relay_stay", reason="other", released={})
    body = scope.payload(OrganisationKind.REFERRAL_PARTNER, event)
    assert body["data"] == {
        "household_id": "h",
        "reference": "TE-2026-0001",
        "stage": "lease",
        "from_stage": "relay_stay",
    }
    assert body["type"] == "household.stage_changed"
    assert body["id"] == f"evt_{event.id.hex}"
    assert scope.payload(OrganisationKind.OPERATOR, event)["data"]["reason"] == "other"


def test_signature_matches_the_specification_example() -> None:
    """The example of the Standard Webhooks specification (its test vector)."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    assert signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
