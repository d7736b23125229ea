"""The pipeline's records as their response models: one mapping each, shared by the pipeline's routes and by the
access export (privacy), so that both always show the same fields."""

from __future__ import annotations

import uuid
from typing import TypeVar

from pydantic import BaseModel

from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.pipeline.models import FollowUpEntry, StageTransition
from toit_emploi_api.pipeline.schemas import ActorOut, FollowUpEntryOut, PipelineEventOut, TransitionOut

M = TypeVar("M", bound=BaseModel)


def actor_out(kind: str, actor_id: uuid.UUID | None, role: str | None) -> ActorOut:
    return ActorOut(kind=kind, id=actor_id, role=role)


def _mapped(schema: type[M], record: object, **given: object) -> M:
    """`schema` filled from the record's attributes of the same names, and from `given` for the others (the actor,
    which the record keeps in three columns)."""
    values = {name: getattr(record, name) for name in schema.model_fields if name not in given}
    return schema.model_validate({**values, **given})


def transition_out(move: StageTransition) -> TransitionOut:
    """One item of the stage history: a move or an application step (`kind`)."""
    return _mapped(TransitionOut, move, by=actor_out(move.actor_kind, move.actor_id, move.actor_role))


def event_out(event: AuditEvent) -> PipelineEventOut:
    return _mapped(PipelineEventOut, event, by=actor_out(event.actor_kind, event.actor_id, event.actor_role))


def entry_out(entry: FollowUpEntry) -> FollowUpEntryOut:
    return _mapped(FollowUpEntryOut, entry, author=actor_out(entry.author_kind, entry.author_id, entry.author_role))
