"""The domains' problem types, declared once (slug, title, status) and published in the OpenAPI document.

Raise them with ``raise ProblemError(HOUSEHOLD_CLOSED, "detail …", extra={...})``; declare them on the route with
``responses=problem_responses(NOT_FOUND, HOUSEHOLD_CLOSED)``. The foundation's own types (not-found,
validation-error, precondition-failed, …) are in `toit_emploi_api.core.problems`.
"""

from __future__ import annotations

from toit_emploi_api.core.problems import problem_type

# --- households ------------------------------------------------------------------------------------------
HOUSEHOLD_CLOSED = problem_type("household-closed", "Household closed", 409)
HOUSEHOLD_NOT_IN_DIAGNOSTIC = problem_type("household-not-in-diagnostic", "Household not in diagnostic", 409)
HOUSEHOLD_STATUS_ONLY = problem_type("household-status-only", "Status view only", 403)
MEMBER_HAS_PLACEMENTS = problem_type("member-has-placements", "Member has placements", 409)
LAST_PROFILED_ADULT = problem_type("last-profiled-adult", "Last adult with a professional profile", 409)
HOUSEHOLD_MEMBERS_LIMIT = problem_type("household-members-limit", "Too many members", 409)

# --- employers -------------------------------------------------------------------------------------------
SIRET_TAKEN = problem_type("siret-taken", "SIRET already registered", 409)
POSITIONS_BELOW_HIRES = problem_type("positions-below-hires", "Positions below hires", 409)
EMPLOYER_INACTIVE = problem_type("employer-inactive", "Employer inactive", 409)
JOB_OPENING_STATUS_NOT_ALLOWED = problem_type("job-opening-status-not-allowed", "Job opening status not allowed", 409)
JOB_OPENING_IN_USE = problem_type("job-opening-in-use", "Job opening in use", 409)
EMPLOYER_HAS_OPEN_JOB_OPENINGS = problem_type("employer-has-open-job-openings", "Employer has open job openings", 409)

# --- housing and the vacancy sync ------------------------------------------------------------------------
LANDLORD_REFERENCE_TAKEN = problem_type("landlord-reference-taken", "Landlord reference taken", 409)
UNIT_HAS_BOOKED_RELAY_STAY = problem_type("unit-has-booked-relay-stay", "Unit has booked relay stay", 409)
UNIT_ALLOCATED = problem_type("unit-allocated", "Unit allocated", 409)
UNIT_HELD_BY_PROGRAMME = problem_type("unit-held-by-programme", "Unit held by the programme", 409)
SYNC_EMPTY_SNAPSHOT = problem_type("sync-empty-snapshot", "Empty snapshot", 422)
SYNC_INVALID_ROWS = problem_type("sync-invalid-rows", "Invalid rows in the snapshot", 422)
SYNC_UNREADABLE = problem_type("sync-unreadable", "Unreadable snapshot", 422)
SYNC_TOO_MANY_UNITS = problem_type("sync-too-many-units", "Too many units in one snapshot", 413)

# --- pipeline --------------------------------------------------------------------------------------------
WRONG_STAGE = problem_type("wrong-stage", "Not at this stage", 409)
NOT_A_RELAY_APARTMENT = problem_type("not-a-relay-apartment", "Not a relay apartment", 409)
RELAY_APARTMENT_UNAVAILABLE = problem_type("relay-apartment-unavailable", "Relay apartment unavailable", 409)
RELAY_STAY_ALREADY_BOOKED = problem_type("relay-stay-already-booked", "Relay stay already booked", 409)
RELAY_STAY_CANCELLED = problem_type("relay-stay-cancelled", "Relay stay cancelled", 409)
RELAY_STAY_NOT_ENDED = problem_type("relay-stay-not-ended", "Relay stay not ended", 409)
RELAY_STAY_NOT_BOOKED = problem_type("relay-stay-not-booked", "Relay stay not booked", 409)
RELAY_STAY_OVERLAP = problem_type("relay-stay-overlap", "Relay stay overlap", 409)
UNIT_NOT_AVAILABLE = problem_type("unit-not-available", "Unit not available", 409)
HOUSEHOLD_ALREADY_ALLOCATED = problem_type("household-already-allocated", "Household already allocated", 409)
UNIT_IS_RELAY_APARTMENT = problem_type("unit-is-relay-apartment", "Unit is relay apartment", 409)
UNIT_TOO_SMALL = problem_type("unit-too-small", "Unit too small", 409)
ALLOCATION_NOT_RESERVED = problem_type("allocation-not-reserved", "Allocation not reserved", 409)
JOB_OPENING_FULL = problem_type("job-opening-full", "Job opening full", 409)
JOB_OPENING_NOT_OPEN = problem_type("job-opening-not-open", "Job opening not open", 409)
PLACEMENT_MOVE_NOT_ALLOWED = problem_type("placement-move-not-allowed", "Placement move not allowed", 409)
JOB_OPENING_CLOSED = problem_type("job-opening-closed", "Job opening closed", 409)
PLACEMENT_CLOSED = problem_type("placement-closed", "Placement closed", 409)
PLACEMENT_ALREADY_OPEN = problem_type("placement-already-open", "Placement already open", 409)
TRANSITION_NOT_ALLOWED = problem_type("transition-not-allowed", "Transition not allowed", 409)
ROLE_NOT_PERMITTED = problem_type("role-not-permitted", "Role not permitted for this move", 403)
GUARD_FAILED = problem_type("guard-failed", "Transition refused", 409)
APPLICATION_STEP_OUT_OF_ORDER = problem_type("application-step-out-of-order", "Application step out of order", 409)

# --- reports ---------------------------------------------------------------------------------------------
REPORT_OPTION_NOT_PERMITTED = problem_type("report-option-not-permitted", "Report option not permitted", 403)

# --- accounts --------------------------------------------------------------------------------------------
ORGANISATION_NAME_TAKEN = problem_type("organisation-name-taken", "Organisation name taken", 409)
EMAIL_TAKEN = problem_type("email-taken", "Email taken", 409)
SELF_LOCKOUT = problem_type("self-lockout", "Cannot lock yourself out", 409)
LAST_ADMIN = problem_type("last-admin", "Last active admin", 409)

# --- auth (OAuth2 token endpoint, RFC 6749 error codes) ------------------------------------------------
OAUTH_INVALID_REQUEST = problem_type("oauth-invalid-request", "Token request refused", 400)
OAUTH_INVALID_GRANT = problem_type("oauth-invalid-grant", "Token request refused", 400)
OAUTH_UNSUPPORTED_GRANT_TYPE = problem_type("oauth-unsupported-grant-type", "Token request refused", 400)
OAUTH_INVALID_CLIENT = problem_type("oauth-invalid-client", "Token request refused", 401)

# --- integration: webhooks -------------------------------------------------------------------------------
WEBHOOK_URL_NOT_ALLOWED = problem_type("webhook-url-not-allowed", "Webhook URL not allowed", 422)
WEBHOOK_EVENT_NOT_ALLOWED = problem_type("webhook-event-not-allowed", "Event type not allowed", 422)
WEBHOOK_DELIVERY_PENDING = problem_type("webhook-delivery-pending", "Delivery still pending", 409)
WEBHOOK_SUBSCRIPTION_INACTIVE = problem_type("webhook-subscription-inactive", "Subscription inactive", 409)

# --- privacy (retention, anonymisation, the data subject's rights) ---------------------------------------
HOUSEHOLD_ANONYMISED = problem_type("household-anonymised", "Household already anonymised", 409)
HOUSEHOLD_STILL_ACTIVE = problem_type("household-still-active", "Household still active", 409)
RETENTION_RUN_IN_PROGRESS = problem_type("retention-run-in-progress", "Retention run in progress", 409)

# --- integration: imports (households CSV, the programme's history) -------------------------------------
IMPORT_UNREADABLE = problem_type("import-unreadable", "Import file unreadable", 422)
IMPORT_INVALID_ROWS = problem_type("import-invalid-rows", "Import has invalid rows", 422)
IMPORT_TOO_LARGE = problem_type("import-too-large", "Import too large", 413)
IMPORT_NOT_REVERSIBLE = problem_type("import-not-reversible", "Import cannot be rolled back", 409)
