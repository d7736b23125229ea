"""The programme's clock: its dates are Paris dates; instants are stored in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

PROGRAMME_TZ = ZoneInfo("Europe/Paris")


def now() -> datetime:
    """The current instant, in Paris time."""
    return datetime.now(PROGRAMME_TZ)


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """Today's date in Paris."""
    return now().date()


def paris_midnight(day: date) -> datetime:
    """The instant a Paris day starts: the bound of a `since`/`before` date filter over stored instants."""
    return datetime.combine(day, time.min, tzinfo=PROGRAMME_TZ)


def days_since(moment: datetime) -> int:
    """Whole 24-hour periods since `moment` (never negative), e.g. a household's days in its stage."""
    return max(0, (utcnow() - moment).days)


# --- the programme's calendar ----------------------------------------------------------------------------------
PROGRAMME_START = date(2014, 1, 1)
"""The programme was launched in 2014: no date of its records is earlier."""

CALENDAR_END = date(2100, 12, 31)
"""The latest date a query or a record may name (later is a typing error)."""

ADULT_AGE = 18
"""A member is an adult from this age on."""


def age_on(birth_date: date, on: date) -> int:
    """Completed years on `on` (someone born on 29 February has a birthday on 1 March in other years)."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def years_later(day: date, years: int) -> date:
    """The same calendar day ``years`` later, or earlier with a negative count (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
