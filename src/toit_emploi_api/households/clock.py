"""Calendar helpers: the programme's dates are Paris dates."""

from __future__ import annotations

from datetime import date

from toit_emploi_api.core.clock import PROGRAMME_TZ as PARIS
from toit_emploi_api.core.clock import days_since, now, today

__all__ = ["ADULT_AGE", "PARIS", "age_on", "days_since", "now", "today"]

ADULT_AGE = 18


def age_on(birth_date: date, on: date) -> int:
    """Completed years on `on` (someone born on 29 February has a birthday on 1 March in other years)."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
