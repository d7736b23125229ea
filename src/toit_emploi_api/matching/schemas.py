"""Response bodies of the matching read model: one proposal = (adult, job opening, housing unit), explained."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field

from toit_emploi_api.core.schemas import MoneyOut, OutputModel
from toit_emploi_api.vocab.statuses import ContractType

FactorName = Literal["rome_match", "experience", "commute", "rent", "availability", "size_fit"]


class FactorOut(OutputModel):
    name: FactorName = Field(description="Which fact of the proposal this factor weighs (docs/matching.md).")
    value: Decimal = Field(
        description="The fact: rome_match 1 (exact code) or 0.5 (same ROME family); experience in years; commute "
        "in km; rent (rent + charges) in euros a month; availability: days the unit frees after the job starts; "
        "size_fit: bedrooms beyond the family's need.",
        examples=["12.4"],
    )
    weight: int = Field(ge=0, description="The most points this factor can give.", examples=[25])
    contribution: Decimal = Field(
        description="Points this factor gives (0 to `weight`, 2 decimals); the contributions add up to `score`.",
        examples=["14.67"],
    )
    detail: str = Field(description="The rule in words, for the manager.", examples=["12.4 km of 30 km at most"])


class ProposedOpeningOut(OutputModel):
    id: uuid.UUID
    title: str
    rome_code: str
    contract_type: ContractType
    start_date: date | None
    positions_left: int = Field(ge=1)
    employer_id: uuid.UUID
    employer_name: str
    commune_insee: str = Field(description="The workplace: the employer's commune.")
    commune_name: str | None


class ProposedUnitOut(OutputModel):
    id: uuid.UUID
    landlord_reference: str
    rooms: int = Field(description="NBPIECE, living room included: bedrooms = rooms - 1.")
    rent: MoneyOut
    charges: MoneyOut
    available_from: date | None = Field(description="Null: available now.")
    postcode: str
    commune_insee: str
    commune_name: str | None


class LinkOut(OutputModel):
    method: Literal["GET", "POST"]
    href: str
    body: dict[str, str] | None = Field(default=None, description="The JSON body to send, when the link is a POST.")


class ProposalLinksOut(OutputModel):
    create_placement: LinkOut = Field(description="Propose the opening to the adult (the pipeline's placement).")
    reserve_unit: LinkOut = Field(description="Reserve the unit for the household (the pipeline's allocation).")
    household: LinkOut
    job_opening: LinkOut
    housing_unit: LinkOut


class ProposalOut(OutputModel):
    household_id: uuid.UUID
    household_reference: str
    member_id: uuid.UUID = Field(description="The adult the job is proposed to (names are read on the household).")
    job_opening: ProposedOpeningOut
    housing_unit: ProposedUnitOut
    distance_km: Decimal = Field(
        description="Great-circle distance between the unit's commune and the workplace's commune, in km, rounded "
        "to 0.1: an approximation (the road is longer), 0 within one commune.",
        examples=["12.4"],
    )
    score: Decimal = Field(description="Sum of the factors' contributions (0-100, 2 decimals).", examples=["78.25"])
    factors: list[FactorOut]
    links: ProposalLinksOut
