"""The stages of a household's path and the reasons for leaving it (docs/domain.md, "The path of one household")."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Stage(StrEnum):
    """Stage of a household in the programme, in path order."""

    DIAGNOSTIC = "diagnostic"
    MATCHING = "matching"
    RELAY_STAY = "relay_stay"
    LEASE = "lease"
    FOLLOW_UP = "follow_up"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


ACTIVE_STAGES: Final[frozenset[Stage]] = frozenset(
    {Stage.DIAGNOSTIC, Stage.MATCHING, Stage.RELAY_STAY, Stage.LEASE, Stage.FOLLOW_UP}
)
"""Stages a household is still moving through."""

TERMINAL_STAGES: Final[frozenset[Stage]] = frozenset({Stage.COMPLETED, Stage.WITHDRAWN})
"""Stages nothing leaves."""


class WithdrawalReason(StrEnum):
    """Why a household left the programme before completion."""

    APPLICATION_DECLINED = "application_declined"
    HOUSEHOLD_DECLINED = "household_declined"
    EMPLOYER_DECLINED = "employer_declined"
    RELAY_STAY_INCONCLUSIVE = "relay_stay_inconclusive"
    NO_HOUSING_FOUND = "no_housing_found"
    RETURNED_TO_PARIS = "returned_to_paris"
    LOST_CONTACT = "lost_contact"
    OTHER = "other"


_WITHDRAWAL_REASON_VALUES: Final[frozenset[str]] = frozenset(reason.value for reason in WithdrawalReason)


def is_valid_withdrawal_reason(reason: str | None) -> bool:
    """True when ``reason`` is exactly one of the :class:`WithdrawalReason` values."""
    return reason is not None and reason in _WITHDRAWAL_REASON_VALUES


class ApplicationStatus(StrEnum):
    """The application's own steps inside diagnostic (docs/domain.md, "Inside diagnostic")."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    PRESENTED = "presented"


class HistoryKind(StrEnum):
    """What one item of a household's stage history records: a stage move or a dated step of the application."""

    MOVE = "move"
    APPLICATION_SUBMITTED = "application_submitted"
    APPLICATION_PRESENTED = "application_presented"
