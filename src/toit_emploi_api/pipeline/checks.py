"""Shared checks of the pipeline services: date bounds and the stage a record belongs to.

Who may see a household is decided by the one household-access policy (`households.access`), through the loaders of
`pipeline.deps`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from toit_emploi_api.core.clock import PROGRAMME_START, today, years_later
from toit_emploi_api.core.errors import FieldError, ProblemError, ValidationProblemError
from toit_emploi_api.households.models import Household
from toit_emploi_api.vocab.problems import WRONG_STAGE
from toit_emploi_api.vocab.stages import Stage


def invalid(*errors: FieldError) -> ValidationProblemError:
    """A 422 `validation-error` naming each field and what is wrong with it."""
    return ValidationProblemError("; ".join(f"{e.field}: {e.message}" for e in errors), errors=list(errors))


def invalid_field(field: str, message: str) -> ValidationProblemError:
    return invalid(FieldError(field=field, message=message))


def check_dates(*checks: tuple[str, date | None, date, date]) -> None:
    """Each ``(field, value, earliest, latest)`` must have ``earliest <= value <= latest`` (None is not checked);
    otherwise a 422 naming every field out of bounds."""
    errors = [
        FieldError(field=field, message=f"must be between {earliest.isoformat()} and {latest.isoformat()}")
        for field, value, earliest, latest in checks
        if value is not None and not earliest <= value <= latest
    ]
    if errors:
        raise invalid(*errors)


def sane_date(field: str, value: date | None) -> tuple[str, date | None, date, date]:
    """The usual bounds of a pipeline date: from the programme's start (2014-01-01) to two years from today."""
    return (field, value, PROGRAMME_START, years_later(today(), 2))


def booking_window(field: str, value: date) -> tuple[str, date | None, date, date]:
    """A relay stay may be recorded up to 365 days after the fact and booked up to two years ahead."""
    now = today()
    return (field, value, now - timedelta(days=365), years_later(now, 2))


def require_stage(household: Household, allowed: Iterable[Stage], what: str) -> None:
    """409 `wrong-stage` (with `stage` and `allowed_stages`) unless the household is in one of `allowed`."""
    allowed_stages = [stage for stage in Stage if stage in set(allowed)]
    if household.stage not in allowed_stages:
        raise ProblemError(
            WRONG_STAGE,
            f"{what} only while the household is in: {', '.join(allowed_stages)}; it is in {household.stage.value}.",
            extra={"stage": household.stage.value, "allowed_stages": [s.value for s in allowed_stages]},
        )
