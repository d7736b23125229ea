"""What households ask of the layers above it, wired by the composition root (`main.create_app`).

Households may not import the pipeline (it sits above households), yet a member to whom the pipeline proposed a job
opening keeps its identity (`member-has-placements`). The pipeline's answer comes through this slot:

    households.ports.connect(member_placements=pipeline.placements.placement_ids_of_member)
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

MemberPlacements = Callable[[AsyncSession, uuid.UUID], Awaitable[list[uuid.UUID]]]
"""Ids of every placement (any status) of a member, oldest first."""

_connected: dict[str, MemberPlacements] = {}


def connect(*, member_placements: MemberPlacements) -> None:
    """Wire the ports (once per process, at application start; connecting again replaces the previous wiring)."""
    _connected["member_placements"] = member_placements


async def member_placements(session: AsyncSession, member_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of the member's placements, oldest first, from whatever the composition root connected."""
    port = _connected.get("member_placements")
    if port is None:
        raise RuntimeError(
            "households.ports is not connected: call households.ports.connect(member_placements=...) at application "
            "start (main.create_app does)."
        )
    return await port(session, member_id)
