"""Calendar helpers: the programme's dates are Paris dates."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
ADULT_AGE = 18


def now() -> datetime:
    return datetime.now(PARIS)


def today() -> date:
    return now().date()


def age_on(birth_date: date, on: date) -> int:
    """Completed years on `on` (someone born on 29 February has a birthday on 1 March in other years)."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
