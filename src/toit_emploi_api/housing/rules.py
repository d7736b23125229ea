"""Bounds and rules of housing unit facts, shared by the API schemas, the sync parser and the service."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from toit_emploi_api.housing.models import DpeClass, UnitStatus

REFERENCE_MAX: Final = 64
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
