"""Recording audit events inside the request's transaction (so a rolled-back write leaves no trace)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.audit.models import AuditEvent
from toit_emploi_api.auth.policy import Principal


async def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | None,
    *,
    household_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one audit event. `details` holds field names and codes only, never personal data."""
    session.add(
        AuditEvent(
            actor_kind=principal.kind if principal else "system",
            actor_id=principal.id if principal else None,
            actor_role=principal.role.value if principal else None,
            actor_organisation_id=principal.organisation_id if principal else None,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            household_id=household_id,
            details=details,
        )
    )
