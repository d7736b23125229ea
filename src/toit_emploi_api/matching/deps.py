"""The matching questions' settings (query parameters), shared by the three routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from toit_emploi_api.matching.repository import DEFAULT_COMMUTE_KM_WITH_LICENCE, DEFAULT_COMMUTE_KM_WITHOUT_LICENCE
from toit_emploi_api.matching.service import Settings

DEFAULT_MAX_WAIT_DAYS = 60
DEFAULT_UNITS_PER_OPENING = 1  # 3 costs about what 1 cost before (bench): at the 50 ms edge; see docs/matching.md
MAX_UNITS_PER_OPENING = 10


async def _settings(
    max_commute_km: Annotated[
        int | None,
        Query(
            ge=1,
            le=200,
            description="Longest commute in km (great-circle) between the unit's commune and the workplace. "
            f"Default: {DEFAULT_COMMUTE_KM_WITH_LICENCE} when an adult of the household has a driving licence, "
            f"{DEFAULT_COMMUTE_KM_WITHOUT_LICENCE} otherwise.",
        ),
    ] = None,
    include_related: Annotated[
        bool,
        Query(description="Also propose openings of the same ROME family (first three characters), at half points."),
    ] = False,
    max_wait_days: Annotated[
        int,
        Query(
            ge=0,
            le=365,
            description="How many days after the job's start (today when it has none) the unit may still free up.",
        ),
    ] = DEFAULT_MAX_WAIT_DAYS,
) -> Settings:
    return Settings(max_commute_km=max_commute_km, include_related=include_related, max_wait_days=max_wait_days)


MatchingSettings = Annotated[Settings, Depends(_settings)]
