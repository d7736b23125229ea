"""The pipeline's records as their response models: one mapping each, shared by the pipeline's routes and by the
access export (privacy), so that both always show the same fields."""

from __future__ import annotations

import uuid

from toit_emploi_api.core.audit import AuditEvent
from toit_emploi_api.pipeline.models import FollowUpEntry, StageTransition
from toit_emploi_api.pipeline.schemas import ActorOut, FollowUpEntryOut, PipelineEventOut, TransitionOut


def actor_out(kind: str, actor_id: uuid.UUID | None, role: str | None) -> ActorOut:
    return ActorOut(kind=kind, id=actor_id, role=role)


def transition_out(move: StageTransition) -> TransitionOut:
    """One item of the stage history: a move or an application step (`kind`)."""
    return TransitionOut(
        id=move.id,
        kind=move.kind,
        from_stage=move.from_stage,
        to_stage=move.to_stage,
        at=move.at,
        by=actor_out(move.actor_kind, move.actor_id, move.actor_role),
        reason=move.reason,
        note=move.note,
    )


def event_out(event: AuditEvent) -> PipelineEventOut:
    return PipelineEventOut(
        at=event.at,
        action=event.action,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        by=actor_out(event.actor_kind, event.actor_id, event.actor_role),
        details=event.details,
    )


def entry_out(entry: FollowUpEntry) -> FollowUpEntryOut:
    return FollowUpEntryOut(
        id=entry.id,
        household_id=entry.household_id,
        entry_date=entry.entry_date,
        domain=entry.domain,
        note=entry.note,
        author=actor_out(entry.author_kind, entry.author_id, entry.author_role),
        created_at=entry.created_at,
    )
