"""Response bodies of the reference endpoints."""

from __future__ import annotations

from pydantic import Field

from toit_emploi_api.core.schemas import OutputModel


class RomeCodeOut(OutputModel):
    code: str = Field(min_length=5, max_length=5, examples=["F1703"], description="ROME code: one letter, 4 digits.")
    label: str = Field(max_length=200, examples=["Maçonnerie"], description="French label from the ROME list.")


class VocabularyItem(OutputModel):
    code: str = Field(examples=["relay_stay"], description="The value the API sends and accepts.")
    label: str = Field(examples=["Séjour en appartement relais"], description="Its French label.")
