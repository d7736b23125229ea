"""The actions recorded in the audit trail (`audit_events.action`): `<object>.<verb>`, one value per kind of
read or write. Reads that return personal data are recorded as well as writes."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    ALLOCATION_CANCEL = "allocation.cancel"
    ALLOCATION_LEASE_SIGNED = "allocation.lease_signed"
    ALLOCATION_RESERVE = "allocation.reserve"
    EMPLOYER_CREATE = "employer.create"
    EMPLOYER_UPDATE = "employer.update"
    FOLLOW_UP_ENTRY_CREATE = "follow_up_entry.create"
    HOUSEHOLD_CREATE = "household.create"
    HOUSEHOLD_DELETE = "household.delete"
    HOUSEHOLD_LIST = "household.list"
    HOUSEHOLD_POSSIBLE_DUPLICATES = "household.possible_duplicates"
    HOUSEHOLD_READ = "household.read"
    HOUSEHOLD_TRANSITION = "household.transition"
    HOUSEHOLD_UPDATE = "household.update"
    HOUSING_UNIT_CREATE = "housing_unit.create"
    HOUSING_UNIT_DELETE = "housing_unit.delete"
    HOUSING_UNIT_SYNC = "housing_unit.sync"
    HOUSING_UNIT_UPDATE = "housing_unit.update"
    JOB_OPENING_CREATE = "job_opening.create"
    JOB_OPENING_DELETE = "job_opening.delete"
    JOB_OPENING_UPDATE = "job_opening.update"
    MEMBER_CREATE = "member.create"
    MEMBER_DELETE = "member.delete"
    MEMBER_LIST = "member.list"
    MEMBER_READ = "member.read"
    MEMBER_UPDATE = "member.update"
    PLACEMENT_CREATE = "placement.create"
    PLACEMENT_UPDATE = "placement.update"
    RELAY_STAY_CANCEL = "relay_stay.cancel"
    RELAY_STAY_CREATE = "relay_stay.create"
    RELAY_STAY_OUTCOME = "relay_stay.outcome"
    WEBHOOK_DELIVERY_REDELIVER = "webhook_delivery.redeliver"
    WEBHOOK_SUBSCRIPTION_CREATE = "webhook_subscription.create"
    WEBHOOK_SUBSCRIPTION_DELETE = "webhook_subscription.delete"
    WEBHOOK_SUBSCRIPTION_ROTATE_SECRET = "webhook_subscription.rotate_secret"
    WEBHOOK_SUBSCRIPTION_UPDATE = "webhook_subscription.update"
