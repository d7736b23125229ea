"""The programme's clock: its dates are Paris dates; instants are stored in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
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


def days_since(moment: datetime) -> int:
    """Whole 24-hour periods since `moment` (never negative), e.g. a household's days in its stage."""
    return max(0, (utcnow() - moment).days)
