"""The read models' own indexes over the domains' tables (migration `20261202_matching`); no table of their own.

Declared here so that the models and the migrations agree (`alembic check`) without editing the domains' files."""

from __future__ import annotations

from sqlalchemy import Index, text

from toit_emploi_api.employers.models import JobOpening
from toit_emploi_api.households.models import Member
from toit_emploi_api.housing.models import HousingUnit
from toit_emploi_api.pipeline.models import Placement, RelayStay

READ_MODEL_INDEXES = (
    # Suggestions and candidates: vacant units (not relay apartments) by commune and size; open openings by code.
    Index(
        "ix_housing_units_vacant_commune",
        HousingUnit.commune_insee,
        HousingUnit.rooms,
        postgresql_where=text("status = 'vacant' AND NOT is_relay"),
    ),
    Index("ix_job_openings_open_rome_code", JobOpening.rome_code, postgresql_where=text("status = 'open'")),
    # The manager's desk: open placements without news, relay stays by dates, right-to-work expiry.
    Index(
        "ix_placements_open_updated_at",
        Placement.updated_at,
        postgresql_where=text("status IN ('proposed', 'interview', 'offered')"),
    ),
    Index("ix_relay_stays_start_date", RelayStay.start_date),
    Index("ix_relay_stays_end_date", RelayStay.end_date),
    Index(
        "ix_household_members_right_to_work_expiry",
        Member.right_to_work_expiry,
        postgresql_where=text("right_to_work_expiry IS NOT NULL"),
    ),
)
