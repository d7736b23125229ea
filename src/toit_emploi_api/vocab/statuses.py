"""Statuses shared by several domains: members' roles, placements, relay stays, allocations, contracts, units."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class MemberRole(StrEnum):
    """A member's role in the household; every role but ``child`` is an adult."""

    HEAD = "head"
    PARTNER = "partner"
    CHILD = "child"
    OTHER_RELATIVE = "other_relative"


class ContractType(StrEnum):
    CDI = "cdi"
    CDD = "cdd"
    INTERIM = "interim"
    APPRENTICESHIP = "apprenticeship"


class JobOpeningStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CLOSED = "closed"


class PlacementStatus(StrEnum):
    """Status of a placement: a job opening proposed to one adult of a household."""

    PROPOSED = "proposed"
    INTERVIEW = "interview"
    OFFERED = "offered"
    HIRED = "hired"
    DECLINED = "declined"
    CANCELLED = "cancelled"


OPEN_PLACEMENT_STATUSES: Final[frozenset[PlacementStatus]] = frozenset(
    {PlacementStatus.PROPOSED, PlacementStatus.INTERVIEW, PlacementStatus.OFFERED}
)
"""Placements still in progress (released when a household withdraws)."""

TERMINAL_PLACEMENT_STATUSES: Final[frozenset[PlacementStatus]] = frozenset(
    {PlacementStatus.HIRED, PlacementStatus.DECLINED, PlacementStatus.CANCELLED}
)
"""Placement statuses nothing leaves."""


class PlacementParty(StrEnum):
    HOUSEHOLD = "household"
    EMPLOYER = "employer"


class RelayStayStatus(StrEnum):
    BOOKED = "booked"
    ENDED = "ended"
    CANCELLED = "cancelled"


class AllocationStatus(StrEnum):
    RESERVED = "reserved"
    LEASE_SIGNED = "lease_signed"
    ENDED = "ended"
    CANCELLED = "cancelled"


ACTIVE_ALLOCATION_STATUSES: Final[frozenset[AllocationStatus]] = frozenset(
    {AllocationStatus.RESERVED, AllocationStatus.LEASE_SIGNED}
)
"""An allocation that holds its unit (at most one per unit and one per household)."""


class UnitStatus(StrEnum):
    VACANT = "vacant"
    RESERVED = "reserved"
    LET = "let"
    UNAVAILABLE = "unavailable"
