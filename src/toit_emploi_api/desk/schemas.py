"""Response bodies of the manager's desk: cross-household lists and the agenda."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field

from toit_emploi_api.core.schemas import OutputModel
from toit_emploi_api.pipeline.schemas import PlacementOut, RelayStayOut


class DeskRelayStayOut(RelayStayOut):
    household_reference: str
    unit_landlord_reference: str
    unit_commune_insee: str
    unit_commune_name: str | None


class DeskPlacementOut(PlacementOut):
    household_reference: str
    job_opening_title: str
    employer_id: uuid.UUID
    employer_name: str


AgendaKind = Literal[
    "relay_stay_start",
    "relay_stay_end",
    "job_start",
    "lease_signature",
    "move_in",
    "follow_up_overdue",
    "placement_without_news",
    "application_awaiting_decision",
    "right_to_work_expiry",
]


class AgendaItemOut(OutputModel):
    date: dt.date = Field(description="The day the item is about (its due day for the to-dos).")
    kind: AgendaKind
    overdue: bool = Field(description="The date is before today (Paris) and the thing is still to do.")
    household_id: uuid.UUID
    household_reference: str = Field(description="The household is named by its reference only.")
    action: str = Field(description="What the manager is expected to do.")
    object_type: Literal["relay_stay", "placement", "allocation", "household", "member"]
    object_id: uuid.UUID
    href: str = Field(description="Where to act (the object's or the household's URL).")
