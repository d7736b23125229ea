"""Pure, table-driven rules of the household pipeline and of placements.

This module has no I/O: no database, no web framework. The service layer computes a
:class:`HouseholdFacts` snapshot from the database, then asks :func:`evaluate` whether a household
may move from one stage to another. The answer (:class:`Decision`) says why not, with stable codes
(:class:`Condition`) that a frontend can show.

The path (see docs/domain.md): diagnostic → matching → relay_stay → lease → follow_up → completed, with one step
back (relay_stay → matching after an inconclusive relay stay) and, from every active stage, → withdrawn.
No stage may be skipped; completed and withdrawn are terminal.

Roles are the values of ``vocab.roles.Role``, passed as plain strings: ``admin`` may do everything a
``service_manager`` may; the Paris referent and the referring partner's worker may only withdraw a household still
in diagnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from toit_emploi_api.vocab.roles import Role
from toit_emploi_api.vocab.stages import (
    Stage,
    WithdrawalReason,
    is_valid_withdrawal_reason,
)
from toit_emploi_api.vocab.statuses import PlacementStatus

__all__ = [
    "ADMIN",
    "APPLICATION_STEPS",
    "CONDITION_CODES",
    "KNOWN_ROLES",
    "PLACEMENT_TRANSITIONS",
    "RULE_GUARD_FAILED",
    "RULE_OK",
    "RULE_ROLE_NOT_PERMITTED",
    "RULE_TRANSITION_NOT_ALLOWED",
    "TRANSITIONS",
    "ApplicationStep",
    "Condition",
    "Decision",
    "Guard",
    "HouseholdFacts",
    "Move",
    "RelayStayOutcome",
    "allowed_targets",
    "application_step_rule",
    "evaluate",
    "permitted_targets",
    "placement_move_allowed",
    "placement_targets",
]


# ----------------------------------------------------------------------------------------------------
# Stages, roles, reasons
# ----------------------------------------------------------------------------------------------------


ADMIN: Final = Role.ADMIN
"""The importer's role (integration.history_check): an admin may take every move a service manager may."""

KNOWN_ROLES: Final[frozenset[str]] = frozenset(Role)
"""Every role the API knows."""


RelayStayOutcome = Literal["validated", "disagreed"]
"""Outcome of the latest ended relay stay: both parties agreed, or one disagreed."""


# ----------------------------------------------------------------------------------------------------
# Facts, guards, moves, decisions
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseholdFacts:
    """Everything the guards need, precomputed by the service from the database and the request.

    Every field defaults to "nothing recorded", so a service only sets what it knows.
    """

    application_presented: bool = False
    """The application has been presented to the service manager (its last step inside diagnostic)."""
    adult_count: int = 0
    """Number of adult members recorded in the household's composition."""
    adults_with_rome_profile: int = 0
    """Number of adult members whose professional profile has at least one ROME code."""
    consent_recorded: bool = False
    """The household's consent to data processing is recorded (date and scope)."""
    relay_stay_booked: bool = False
    """A relay stay of 3 to 5 days (inclusive) in a relay apartment is booked for the household (not cancelled,
    outcome not yet recorded: a stay that already ended does not count for a new attempt)."""
    placements_with_employer_meeting: int = 0
    """Number of placements in which the employer agreed to meet (neither declined nor cancelled)."""
    relay_stay_outcome: RelayStayOutcome | None = None
    """The outcome recorded last during the current relay_stay stage: "validated" (both parties agree),
    "disagreed" (one does not), or None."""
    relay_stay_disagreement_reason_recorded: bool = False
    """The most recently recorded relay stay outcome records why a party disagreed."""
    relay_stay_still_booked: bool = False
    """A relay stay of the household is still booked (neither ended with an outcome nor cancelled): an older
    outcome cannot decide the end of the relay stay stage while a stay is pending."""
    hired_placement_with_contract: bool = False
    """A placement is hired, with its contract type and start date recorded."""
    allocation_lease_signed: bool = False
    """A housing unit is allocated to the household, with lease signed date and move-in date recorded."""
    closure_date_and_note: bool = False
    """A closure date and a closure note ("entered droit commun") are recorded."""
    reason: str | None = None
    """The request's own reason code (withdrawal: a :class:`WithdrawalReason` value)."""
    note: str | None = None
    """The request's own free-text note (withdrawal: mandatory, non-blank)."""


@dataclass(frozen=True, slots=True)
class Condition:
    """An unmet condition: a stable snake_case ``code`` for programs and a human ``message``."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Guard:
    """A condition a move requires; ``predicate`` returns True when the condition holds."""

    code: str
    message: str
    predicate: Callable[[HouseholdFacts], bool]

    @property
    def condition(self) -> Condition:
        """The :class:`Condition` reported when this guard does not hold."""
        return Condition(self.code, self.message)

    def holds(self, facts: HouseholdFacts) -> bool:
        """True when the guard is satisfied by ``facts``."""
        return bool(self.predicate(facts))


@dataclass(frozen=True, slots=True)
class Move:
    """One allowed edge of the pipeline: who may take it and what must be true."""

    allowed_roles: frozenset[str]
    guards: tuple[Guard, ...]


RULE_OK: Final = "ok"
RULE_TRANSITION_NOT_ALLOWED: Final = "transition_not_allowed"
RULE_ROLE_NOT_PERMITTED: Final = "role_not_permitted"
RULE_GUARD_FAILED: Final = "guard_failed"


@dataclass(frozen=True, slots=True)
class Decision:
    """Answer of :func:`evaluate`.

    ``rule`` is "ok" when allowed, else "transition_not_allowed", "role_not_permitted" or "guard_failed";
    ``unmet`` lists every unmet condition (only ever non-empty with "guard_failed").
    """

    allowed: bool
    rule: str
    unmet: tuple[Condition, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of the unmet conditions, in table order."""
        return tuple(condition.code for condition in self.unmet)


# ----------------------------------------------------------------------------------------------------
# Guards
# ----------------------------------------------------------------------------------------------------


def _is_blank(text: str | None) -> bool:
    return text is None or not text.strip()


GUARD_APPLICATION_PRESENTED: Final = Guard(
    "application_not_presented",
    "The application must have been submitted by the partner and presented to the service manager.",
    lambda facts: facts.application_presented,
)
GUARD_ADULT_MEMBER: Final = Guard(
    "no_adult_member",
    "The household's composition must include at least one adult.",
    lambda facts: facts.adult_count >= 1,
)
GUARD_PROFESSIONAL_PROFILE: Final = Guard(
    "no_professional_profile",
    "At least one adult must have a professional profile with a ROME code.",
    lambda facts: facts.adults_with_rome_profile >= 1,
)
GUARD_CONSENT: Final = Guard(
    "consent_missing",
    "The household's consent to data processing must be recorded.",
    lambda facts: facts.consent_recorded,
)
GUARD_RELAY_STAY_BOOKED: Final = Guard(
    "relay_stay_not_booked",
    "A relay stay of 3 to 5 days in a relay apartment must be booked for the household.",
    lambda facts: facts.relay_stay_booked,
)
GUARD_EMPLOYER_MEETING: Final = Guard(
    "no_placement_with_employer_meeting",
    "At least one placement must have an employer who agreed to meet the household (not declined/cancelled).",
    lambda facts: facts.placements_with_employer_meeting >= 1,
)
GUARD_RELAY_STAY_VALIDATED: Final = Guard(
    "relay_stay_not_validated",
    "The relay stay must have ended with both the family and the employer agreeing.",
    lambda facts: facts.relay_stay_outcome == "validated",
)
GUARD_RELAY_STAY_DISAGREED: Final = Guard(
    "relay_stay_not_disagreed",
    "Going back to matching requires a relay stay that ended with one party disagreeing.",
    lambda facts: facts.relay_stay_outcome == "disagreed",
)
GUARD_DISAGREEMENT_REASON: Final = Guard(
    "disagreement_reason_missing",
    "The reason why a party disagreed at the end of the relay stay must be recorded.",
    lambda facts: facts.relay_stay_disagreement_reason_recorded,
)
GUARD_NO_PENDING_STAY: Final = Guard(
    "relay_stay_still_booked",
    "No relay stay of the household may still be booked: record its outcome or cancel it first.",
    lambda facts: not facts.relay_stay_still_booked,
)
GUARD_SIGNED_CONTRACT: Final = Guard(
    "no_signed_contract",
    "A placement must be hired, with its contract type and start date recorded.",
    lambda facts: facts.hired_placement_with_contract,
)
GUARD_LEASE_SIGNED: Final = Guard(
    "no_lease_signed",
    "A housing unit must be allocated to the household, with lease signed and move-in dates recorded.",
    lambda facts: facts.allocation_lease_signed,
)
GUARD_CLOSURE: Final = Guard(
    "closure_missing",
    "A closure date and a closure note (entered droit commun) must be recorded.",
    lambda facts: facts.closure_date_and_note,
)
GUARD_WITHDRAWAL_REASON_PRESENT: Final = Guard(
    "withdrawal_reason_missing",
    "A withdrawal reason code is required.",
    lambda facts: not _is_blank(facts.reason),
)
GUARD_WITHDRAWAL_REASON_VALID: Final = Guard(
    "withdrawal_reason_invalid",
    "The withdrawal reason must be one of: " + ", ".join(reason.value for reason in WithdrawalReason) + ".",
    # A missing reason is reported by withdrawal_reason_missing only.
    lambda facts: _is_blank(facts.reason) or is_valid_withdrawal_reason(facts.reason),
)
GUARD_WITHDRAWAL_NOTE: Final = Guard(
    "withdrawal_note_missing",
    "A note explaining the withdrawal is required.",
    lambda facts: not _is_blank(facts.note),
)

_WITHDRAWAL_GUARDS: Final[tuple[Guard, ...]] = (
    GUARD_WITHDRAWAL_REASON_PRESENT,
    GUARD_WITHDRAWAL_REASON_VALID,
    GUARD_WITHDRAWAL_NOTE,
)


# ----------------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------------

_MANAGERS: Final[frozenset[str]] = frozenset({Role.ADMIN, Role.SERVICE_MANAGER})
_MANAGERS_AND_PARIS: Final[frozenset[str]] = _MANAGERS | {Role.PARIS_REFERENT, Role.PARTNER_WORKER}

TRANSITIONS: Final[Mapping[tuple[Stage, Stage], Move]] = MappingProxyType(
    {
        (Stage.DIAGNOSTIC, Stage.MATCHING): Move(
            _MANAGERS,
            (GUARD_APPLICATION_PRESENTED, GUARD_ADULT_MEMBER, GUARD_PROFESSIONAL_PROFILE, GUARD_CONSENT),
        ),
        (Stage.MATCHING, Stage.RELAY_STAY): Move(_MANAGERS, (GUARD_RELAY_STAY_BOOKED, GUARD_EMPLOYER_MEETING)),
        (Stage.RELAY_STAY, Stage.LEASE): Move(_MANAGERS, (GUARD_RELAY_STAY_VALIDATED, GUARD_NO_PENDING_STAY)),
        (Stage.RELAY_STAY, Stage.MATCHING): Move(
            _MANAGERS, (GUARD_RELAY_STAY_DISAGREED, GUARD_DISAGREEMENT_REASON, GUARD_NO_PENDING_STAY)
        ),
        (Stage.LEASE, Stage.FOLLOW_UP): Move(_MANAGERS, (GUARD_SIGNED_CONTRACT, GUARD_LEASE_SIGNED)),
        (Stage.FOLLOW_UP, Stage.COMPLETED): Move(_MANAGERS, (GUARD_CLOSURE,)),
        (Stage.DIAGNOSTIC, Stage.WITHDRAWN): Move(_MANAGERS_AND_PARIS, _WITHDRAWAL_GUARDS),
        (Stage.MATCHING, Stage.WITHDRAWN): Move(_MANAGERS, _WITHDRAWAL_GUARDS),
        (Stage.RELAY_STAY, Stage.WITHDRAWN): Move(_MANAGERS, _WITHDRAWAL_GUARDS),
        (Stage.LEASE, Stage.WITHDRAWN): Move(_MANAGERS, _WITHDRAWAL_GUARDS),
        (Stage.FOLLOW_UP, Stage.WITHDRAWN): Move(_MANAGERS, _WITHDRAWAL_GUARDS),
    }
)
"""Every allowed move, keyed by (from, to). A pair absent from the table is never allowed."""

CONDITION_CODES: Final[frozenset[str]] = frozenset(guard.code for move in TRANSITIONS.values() for guard in move.guards)
"""Every condition code a :class:`Decision` may report."""


def allowed_targets(current: Stage) -> tuple[Stage, ...]:
    """Stages reachable from ``current`` in one move (whatever the role and facts), in path order."""
    return tuple(target for target in Stage if (current, target) in TRANSITIONS)


def permitted_targets(current: Stage, role: str) -> tuple[Stage, ...]:
    """Stages ``role`` may move a household to from ``current`` (guards not checked), in path order."""
    return tuple(target for target in allowed_targets(current) if role in TRANSITIONS[current, target].allowed_roles)


def evaluate(current: Stage, target: Stage, role: str, facts: HouseholdFacts) -> Decision:
    """Decide whether ``role`` may move a household from ``current`` to ``target`` given ``facts``.

    Checks, in order: the move exists in :data:`TRANSITIONS` (else "transition_not_allowed"), the role may
    take it (else "role_not_permitted", with no condition listed), then every guard (else "guard_failed",
    listing every unmet condition in table order).
    """
    move = TRANSITIONS.get((current, target))
    if move is None:
        return Decision(allowed=False, rule=RULE_TRANSITION_NOT_ALLOWED)
    if role not in move.allowed_roles:
        return Decision(allowed=False, rule=RULE_ROLE_NOT_PERMITTED)
    unmet = tuple(guard.condition for guard in move.guards if not guard.holds(facts))
    if unmet:
        return Decision(allowed=False, rule=RULE_GUARD_FAILED, unmet=unmet)
    return Decision(allowed=True, rule=RULE_OK)


# ----------------------------------------------------------------------------------------------------
# Placements (mise en relation)
# ----------------------------------------------------------------------------------------------------


PLACEMENT_TRANSITIONS: Final[Mapping[PlacementStatus, frozenset[PlacementStatus]]] = MappingProxyType(
    {
        PlacementStatus.PROPOSED: frozenset(
            {PlacementStatus.INTERVIEW, PlacementStatus.DECLINED, PlacementStatus.CANCELLED}
        ),
        PlacementStatus.INTERVIEW: frozenset(
            {PlacementStatus.OFFERED, PlacementStatus.DECLINED, PlacementStatus.CANCELLED}
        ),
        PlacementStatus.OFFERED: frozenset(
            {PlacementStatus.HIRED, PlacementStatus.DECLINED, PlacementStatus.CANCELLED}
        ),
        PlacementStatus.HIRED: frozenset(),
        PlacementStatus.DECLINED: frozenset(),
        PlacementStatus.CANCELLED: frozenset(),
    }
)
"""Allowed placement status moves: proposed → interview → offered → hired; open → declined | cancelled."""


def placement_move_allowed(current: PlacementStatus, target: PlacementStatus) -> bool:
    """True when a placement may move from ``current`` to ``target``; staying in one status is not a move."""
    return target in PLACEMENT_TRANSITIONS.get(current, frozenset())


def placement_targets(current: PlacementStatus) -> tuple[PlacementStatus, ...]:
    """Statuses reachable from ``current`` in one move, in declaration order."""
    return tuple(target for target in PlacementStatus if placement_move_allowed(current, target))


# ----------------------------------------------------------------------------------------------------
# The application's steps inside diagnostic (dated events of the stage history, not stages)
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApplicationStep:
    """One step of the application: the status it starts from, the status it leads to, who may take it."""

    from_status: str
    to_status: str
    allowed_roles: frozenset[str]


APPLICATION_STEPS: Final[Mapping[str, ApplicationStep]] = MappingProxyType(
    {
        # The partner says the diagnostic file is complete and sends it to the Paris referent.
        "submit": ApplicationStep(
            "draft", "submitted", frozenset({Role.ADMIN, Role.PARTNER_WORKER, Role.PARIS_REFERENT})
        ),
        # The Paris referent presents it to the service manager (who then retains or declines it).
        "present": ApplicationStep(
            "submitted", "presented", frozenset({Role.ADMIN, Role.PARIS_REFERENT, Role.SERVICE_MANAGER})
        ),
    }
)
"""The application's steps, keyed by name: draft → submitted → presented, only while the household is in diagnostic."""


def application_step_rule(step: str, stage: Stage, status: str, role: str) -> str:
    """Whether ``role`` may take ``step`` on an application in ``status`` of a household in ``stage``: "ok",
    "role_not_permitted", "wrong_stage" (not in diagnostic) or "out_of_order" (not at the step's starting status)."""
    rule = APPLICATION_STEPS[step]
    if role not in rule.allowed_roles:
        return RULE_ROLE_NOT_PERMITTED
    if stage is not Stage.DIAGNOSTIC:
        return "wrong_stage"
    if status != rule.from_status:
        return "out_of_order"
    return RULE_OK
