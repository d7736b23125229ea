"""Answers of the households import."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


class ImportedHousehold(BaseModel):
    key: str = Field(description="The file's `cle_foyer`.")
    lines: list[int] = Field(description="The lines of the file the household came from (the header is line 1).")
    members: int
    referring_organisation_id: uuid.UUID
    id: uuid.UUID | None = Field(description="The new household's id (null on a dry run).")
    reference: str | None = Field(description="Its reference `TE-<year>-<number>` (null on a dry run).")


class PossibleDuplicate(BaseModel):
    key: str = Field(description="The file's `cle_foyer` of the household with this member.")
    line: int = Field(description="The member's line.")
    household_id: uuid.UUID | None = Field(description="The existing household (null: another one of the file).")
    reference: str | None = None
    other_key: str | None = Field(default=None, description="The other household of the file, if any.")


class HouseholdImportReport(BaseModel):
    dry_run: bool
    households: int = Field(description="Households in the file (created unless `dry_run`).")
    members: int
    created: list[ImportedHousehold]
    possible_duplicates: list[PossibleDuplicate] = Field(
        description="Members sharing folded first and last names and birth date with a member of an active "
        "household you may see, or of another household of the file (reported, not refused)."
    )


class ImportLineError(BaseModel):
    line: int
    key: str | None
    field: str
    message: str
