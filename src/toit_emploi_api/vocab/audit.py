"""The actions recorded in the audit trail (`audit_events.action`): `<object>.<verb>`, one value per kind of
read or write. Reads that return personal data are recorded as well as writes."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    ALLOCATION_CANCEL = "allocation.cancel"
    ALLOCATION_READ = "allocation.read"
    ALLOCATION_LEASE_SIGNED = "allocation.lease_signed"
    ALLOCATION_RESERVE = "allocation.reserve"
    API_CLIENT_CREATE = "api_client.create"
    API_CLIENT_SECRET_ROTATE = "api_client.secret_rotate"
    API_CLIENT_UPDATE = "api_client.update"
    AUDIT_EVENT_LIST = "audit_event.list"
    AUTH_SIGN_IN = "auth.sign_in"
    AUTH_SIGN_IN_FAILED = "auth.sign_in_failed"
    AUTH_TOKEN_REVOKED = "auth.token_revoked"
    EMPLOYER_CREATE = "employer.create"
    EMPLOYER_UPDATE = "employer.update"
    FOLLOW_UP_ENTRY_CREATE = "follow_up_entry.create"
    HOUSEHOLD_APPLICATION_PRESENT = "household.application_present"
    HOUSEHOLD_APPLICATION_SUBMIT = "household.application_submit"
    FOLLOW_UP_ENTRY_LIST = "follow_up_entry.list"
    HISTORY_IMPORT = "history.import"
    HISTORY_ROLLBACK = "history.rollback"
    HOUSEHOLD_ACCESS_LOG_READ = "household.access_log_read"
    HOUSEHOLD_ANONYMISE = "household.anonymise"
    HOUSEHOLD_CREATE = "household.create"
    HOUSEHOLD_DELETE = "household.delete"
    HOUSEHOLD_EXPORT = "household.export"
    HOUSEHOLD_HISTORY_READ = "household.history_read"
    HOUSEHOLD_IMPORT = "household.import"
    HOUSEHOLD_LIST = "household.list"
    HOUSEHOLD_POSSIBLE_DUPLICATES = "household.possible_duplicates"
    HOUSEHOLD_PIPELINE_EVENTS_READ = "household.pipeline_events_read"
    HOUSEHOLD_READ = "household.read"
    HOUSEHOLD_SUGGESTIONS = "household.suggestions"
    HOUSEHOLD_TRANSITION = "household.transition"
    HOUSEHOLD_UPDATE = "household.update"
    HOUSING_UNIT_CANDIDATES = "housing_unit.candidates"
    HOUSING_UNIT_CREATE = "housing_unit.create"
    HOUSING_UNIT_DELETE = "housing_unit.delete"
    HOUSING_UNIT_SYNC = "housing_unit.sync"
    HOUSING_UNIT_UPDATE = "housing_unit.update"
    JOB_OPENING_CANDIDATES = "job_opening.candidates"
    JOB_OPENING_CREATE = "job_opening.create"
    JOB_OPENING_DELETE = "job_opening.delete"
    JOB_OPENING_UPDATE = "job_opening.update"
    ORGANISATION_CREATE = "organisation.create"
    ORGANISATION_UPDATE = "organisation.update"
    MEMBER_CREATE = "member.create"
    MEMBER_DELETE = "member.delete"
    MEMBER_LIST = "member.list"
    MEMBER_READ = "member.read"
    MEMBER_UPDATE = "member.update"
    PLACEMENT_CREATE = "placement.create"
    PLACEMENT_LIST = "placement.list"
    PLACEMENT_READ = "placement.read"
    PLACEMENT_UPDATE = "placement.update"
    RELAY_STAY_CANCEL = "relay_stay.cancel"
    RELAY_STAY_CREATE = "relay_stay.create"
    RELAY_STAY_LIST = "relay_stay.list"
    RELAY_STAY_OUTCOME = "relay_stay.outcome"
    RELAY_STAY_READ = "relay_stay.read"
    RETENTION_DUE_LIST = "retention.due_list"
    RETENTION_RUN = "retention.run"
    USER_CREATE = "user.create"
    USER_LIST = "user.list"
    USER_READ = "user.read"
    USER_UPDATE = "user.update"
    WEBHOOK_DELIVERY_REDELIVER = "webhook_delivery.redeliver"
    WEBHOOK_SUBSCRIPTION_CREATE = "webhook_subscription.create"
    WEBHOOK_SUBSCRIPTION_DELETE = "webhook_subscription.delete"
    WEBHOOK_SUBSCRIPTION_ROTATE_SECRET = "webhook_subscription.rotate_secret"
    WEBHOOK_SUBSCRIPTION_UPDATE = "webhook_subscription.update"


READ_ACTIONS = frozenset(
    {
        AuditAction.ALLOCATION_READ,
        AuditAction.AUDIT_EVENT_LIST,
        AuditAction.FOLLOW_UP_ENTRY_LIST,
        AuditAction.HOUSEHOLD_ACCESS_LOG_READ,
        AuditAction.HOUSEHOLD_EXPORT,
        AuditAction.HOUSEHOLD_HISTORY_READ,
        AuditAction.HOUSEHOLD_LIST,
        AuditAction.HOUSEHOLD_PIPELINE_EVENTS_READ,
        AuditAction.HOUSEHOLD_POSSIBLE_DUPLICATES,
        AuditAction.HOUSEHOLD_READ,
        AuditAction.HOUSEHOLD_SUGGESTIONS,
        AuditAction.HOUSING_UNIT_CANDIDATES,
        AuditAction.JOB_OPENING_CANDIDATES,
        AuditAction.MEMBER_LIST,
        AuditAction.MEMBER_READ,
        AuditAction.PLACEMENT_LIST,
        AuditAction.PLACEMENT_READ,
        AuditAction.RELAY_STAY_LIST,
        AuditAction.RELAY_STAY_READ,
        AuditAction.RETENTION_DUE_LIST,
        AuditAction.USER_LIST,
        AuditAction.USER_READ,
    }
)
"""The actions that record a read (personal data went out), not a change."""
