"""Response bodies of the reference endpoints (ROME codes, communes)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from toit_emploi_api.core.schemas import OutputModel


class RomeCodeOut(OutputModel):
    code: str = Field(min_length=5, max_length=5, examples=["F1703"], description="ROME code: one letter, 4 digits.")
    label: str = Field(max_length=200, examples=["Maçonnerie"], description="French label from the ROME list.")


def _coordinate(value: Any) -> Any:
    # Stored as double precision; shown as the file's decimal (5 decimals), a string like every decimal of the API.
    return Decimal(str(value)).quantize(Decimal("0.00001")) if isinstance(value, float) else value


Coordinate = Annotated[Decimal, BeforeValidator(_coordinate)]


class CommuneOut(OutputModel):
    insee_code: str = Field(examples=["15014"], description="INSEE commune code (code officiel géographique).")
    department: str = Field(examples=["15"], description="Department code.")
    name: str = Field(examples=["Aurillac"], description='Official name, with its article ("Le Rouget-Pers").')
    postcodes: list[str] = Field(examples=[["15000"]], description="La Poste postcodes of the commune.")
    latitude: Coordinate = Field(examples=["44.92806"], description="Latitude of the commune, WGS 84 degrees.")
    longitude: Coordinate = Field(examples=["2.44159"], description="Longitude of the commune, WGS 84 degrees.")
    population: int = Field(ge=0, examples=[25815], description="Population in 2021 (INSEE).")


class VocabularyItem(OutputModel):
    code: str = Field(examples=["relay_stay"], description="The value the API sends and accepts.")
    label: str = Field(examples=["Séjour en appartement relais"], description="Its French label.")


class RomeCodeSort(StrEnum):
    """`sort` of the ROME codes (labels compared without case or accents)."""

    CODE, CODE_DESC = "code", "-code"
    LABEL, LABEL_DESC = "label", "-label"


class CommuneSort(StrEnum):
    """`sort` of the communes (names compared without case, accents, hyphens or apostrophes); without it, the
    relevance order."""

    NAME, NAME_DESC = "name", "-name"
    POPULATION, POPULATION_DESC = "population", "-population"
    INSEE_CODE, INSEE_CODE_DESC = "insee_code", "-insee_code"
