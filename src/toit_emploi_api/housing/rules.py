"""Bounds and rules of housing unit facts, shared by the API schemas, the sync parser and the service."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final, Literal

from toit_emploi_api.housing.models import DpeClass
from toit_emploi_api.vocab.statuses import UnitStatus

REFERENCE_MAX: Final = 64
# One line; no control, zero-width or bidirectional formatting character (U+200B–U+200F, U+2028–U+202E, U+2060–U+2069,
# U+FEFF, U+061C); not starting with = + - @ (a spreadsheet would run it as a formula: CSV injection).
_INVISIBLE: Final = "\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2069\\ufeff"
REFERENCE_PATTERN: Final = f"^[^{_INVISIBLE}=+\\-@][^{_INVISIBLE}]*$"
REFERENCE_RULE: Final = (
    "must be one line without control, zero-width or bidirectional characters, and not start with = + - @"
)
STREET_NUMBER_MAX: Final = 10
STREET_TYPE_MAX: Final = 20
STREET_NAME_MAX: Final = 200
ROOMS_MIN: Final = 1
ROOMS_MAX: Final = 10
FLOOR_MIN: Final = -5
FLOOR_MAX: Final = 99
YEAR_MIN: Final = 1500
YEAR_MAX: Final = 2100
MONEY_MAX: Final = Decimal("999999.99")  # Numeric(8, 2)
AREA_MAX: Final = Decimal("9999.99")  # Numeric(6, 2)
DPE_CLASSES: Final = frozenset(c.value for c in DpeClass)

# Set only by the pipeline (housing allocations), never by the API's PATCH nor by the sync.
PIPELINE_STATUSES: Final = frozenset({UnitStatus.RESERVED, UnitStatus.LET})
# What a landlord, the service manager or an admin may set by hand.
MANUAL_STATUSES: Final = frozenset({UnitStatus.VACANT, UnitStatus.UNAVAILABLE})


def relay_held(relay_held_until: date | None, today: date) -> bool:
    """A relay apartment is held by the programme (relay flag and status kept) through the last day of a stay booked
    in it: `relay_held_until`, kept by the pipeline through `housing.holds`."""
    return relay_held_until is not None and relay_held_until >= today


# Why a vacancy sync left a unit as it was (its report's `conflicts`): `unit_held_by_programme`, a reserved/let unit
# whose facts differ; `relay_stay_booked`, a held relay apartment whose relay flag or status would change, or that a
# snapshot omits; `held_unit_absent_from_snapshot`, a reserved/let unit that a snapshot omits.
SyncConflictCode = Literal["unit_held_by_programme", "relay_stay_booked", "held_unit_absent_from_snapshot"]
