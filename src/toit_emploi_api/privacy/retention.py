"""Retention: the due list and the anonymisation run (the daily job, the CLI and `POST /retention/runs`).

A file is due when its last contact is more than `retention_months` (≥ 24) months old. Completed and withdrawn
files are then anonymised automatically; active files are only listed (`decision_needed`) for the service manager.

A run takes the PostgreSQL advisory lock `repository.ADVISORY_LOCK_KEY` (session-level, on a connection of its
own), so that several workers and machines never run at once: a second run answers `skipped`. It then anonymises
in batches of `retention_batch_size` households, each batch one transaction of set-based statements (see
`repository.anonymise`): a household is anonymised entirely or not at all, and a failure rolls back only its batch,
which the next run takes again."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from toit_emploi_api.core import audit
from toit_emploi_api.core.clock import today
from toit_emploi_api.core.request_context import current_request_id
from toit_emploi_api.core.settings import Settings
from toit_emploi_api.privacy import repository
from toit_emploi_api.privacy.schemas import AnonymisedOut, RetentionRunOut
from toit_emploi_api.vocab.audit import AuditAction

log = logging.getLogger("toit_emploi_api.privacy")


def _actor_params(actor: audit.Actor | None) -> dict[str, Any]:
    return {
        "actor_kind": actor.kind if actor else "system",
        "actor_id": actor.id if actor else None,
        "actor_role": str(actor.role) if actor else None,
        "actor_organisation_id": actor.organisation_id if actor else None,
    }


def _request_id() -> str | None:
    value = current_request_id()
    return None if value == "-" else value


async def anonymise_households(
    session: AsyncSession, ids: Sequence[uuid.UUID], actor: audit.Actor | None, details: dict[str, Any]
) -> None:
    """Anonymise the (locked) households in the session's transaction, one audit event each."""
    await repository.anonymise(
        session, ids, actor=_actor_params(actor), request_id=_request_id(), details_json=json.dumps(details)
    )


def _out(rows: Sequence[Any], *, dry_run: bool, as_of: date, skipped: bool = False) -> RetentionRunOut:
    households = [AnonymisedOut(household_id=r.id, reference=r.reference, stage=r.stage, due_on=r.due_on) for r in rows]
    return RetentionRunOut(dry_run=dry_run, as_of=as_of, count=len(households), households=households, skipped=skipped)


async def run(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    as_of: date | None = None,
    dry_run: bool = False,
    actor: audit.Actor | None = None,
) -> RetentionRunOut:
    """Anonymise every completed or withdrawn file past its retention period (today), or with `dry_run` list those
    that would be on `as_of`. Recorded in the audit trail (the run, and each household anonymised)."""
    day = as_of if dry_run and as_of is not None else today()
    months = settings.retention_months
    if dry_run:
        async with maker() as session:
            result = _out(await repository.automatic_candidates(session, months, day), dry_run=True, as_of=day)
            await _record_run(session, actor, result)
            await session.commit()
        return result
    done: list[Any] = []
    async with maker() as lock_session:
        if not await repository.try_advisory_lock(lock_session):
            log.info("retention run skipped: another run holds the lock")
            return _out([], dry_run=False, as_of=day, skipped=True)
        try:
            while True:
                async with maker() as session, session.begin():
                    rows = await repository.lock_batch(session, months, day, settings.retention_batch_size)
                    if not rows:
                        break
                    await anonymise_households(
                        session, [r.id for r in rows], actor, {"cause": "retention", "as_of": day.isoformat()}
                    )
                done.extend(rows)
        finally:
            await repository.advisory_unlock(lock_session)
            await lock_session.commit()
    result = _out(done, dry_run=False, as_of=day)
    async with maker() as session:
        await _record_run(session, actor, result)
        await session.commit()
    log.info("retention run: %d households anonymised", result.count)
    return result


async def _record_run(session: AsyncSession, actor: audit.Actor | None, result: RetentionRunOut) -> None:
    details = {"dry_run": result.dry_run, "as_of": result.as_of.isoformat(), "count": result.count}
    await audit.record(session, actor, AuditAction.RETENTION_RUN, "retention_run", None, details=details)
