"""Polygone's vacancy sync: parse, validate, then a few set-based statements in the request's transaction."""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit, clock, outbox
from toit_emploi_api.core.errors import FieldError, ProblemError
from toit_emploi_api.core.problems import UNSUPPORTED_MEDIA_TYPE
from toit_emploi_api.housing import service, sync_repository
from toit_emploi_api.housing.schemas import SyncConflict, SyncReport, SyncRowError
from toit_emploi_api.housing.sync_input import (
    MAX_REPORTED_ERRORS,
    MAX_UNITS,
    ParsedSync,
    SyncInputError,
    decode_csv,
    parse_csv,
    parse_json,
)
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.events import EventType
from toit_emploi_api.vocab.problems import SYNC_EMPTY_SNAPSHOT, SYNC_INVALID_ROWS, SYNC_TOO_MANY_UNITS, SYNC_UNREADABLE
from toit_emploi_api.vocab.statuses import UnitStatus

logger = logging.getLogger("toit_emploi_api.housing.sync")


@dataclass
class SyncTimings:
    parse_ms: float = 0.0
    sql_ms: float = 0.0

    @property
    def server_timing(self) -> str:
        """The `Server-Timing` header of the answer."""
        return f"parse;dur={self.parse_ms:.1f}, sql;dur={self.sql_ms:.1f}"


@dataclass(frozen=True)
class SyncResult:
    report: SyncReport
    timings: SyncTimings


_gc_pauses = 0  # syncs running with the cyclic collector paused (event-loop thread only)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a sync builds and copies its rows: 20,000 units are about
    400,000 new objects (dicts, strings, tuples), whose allocation would trigger collections that walk the whole heap
    of the worker again and again (measured: ≈ 150 ms of CPU per 20,000-unit request under load, mostly in building
    the COPY records). None of these objects form cycles; they are freed by reference counting when the request
    ends, and the collector resumes when the last running sync is done (it was enabled before)."""
    global _gc_pauses
    if _gc_pauses == 0 and not gc.isenabled():
        yield  # paused by someone else: leave it as it is
        return
    _gc_pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0:
            gc.enable()


async def sync(
    session: AsyncSession,
    principal: Principal,
    body: bytes,
    content_type: str,
    *,
    landlord_organisation_id: uuid.UUID | None,
    mode: str | None,
    partial: bool,
    allow_empty: bool,
) -> SyncResult:
    """One vacancy sync: whose units (the landlord's own, or the one an admin names), parse and validate the body
    (in a worker thread: up to 20,000 units), then write it (``run_sync``)."""
    org_id = await service.resolve_landlord(session, principal, landlord_organisation_id, "landlord_organisation_id")
    timings = SyncTimings()
    with _cyclic_gc_paused():
        started = time.perf_counter()
        parsed = await to_thread.run_sync(parse_body, body, content_type, mode)
        timings.parse_ms = (time.perf_counter() - started) * 1000
        report = await run_sync(
            session, principal, org_id, parsed, partial=partial, timings=timings, allow_empty=allow_empty
        )
    return SyncResult(report, timings)


def parse_body(body: bytes, content_type: str, query_mode: str | None) -> ParsedSync:
    media_type, _, params = content_type.partition(";")
    media_type = media_type.strip().lower()
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"')
    try:
        if media_type == "application/json" or media_type.endswith("+json"):
            return parse_json(body, query_mode)
        if media_type in ("text/csv", "application/csv"):
            return parse_csv(decode_csv(body, charset), query_mode or "snapshot")
    except SyncInputError as exc:
        if exc.too_large:
            raise ProblemError(SYNC_TOO_MANY_UNITS, exc.message, extra={"max_units": MAX_UNITS}) from None
        raise ProblemError(
            SYNC_UNREADABLE, exc.message, errors=[FieldError(field=exc.field, message=exc.message)]
        ) from None
    raise ProblemError(UNSUPPORTED_MEDIA_TYPE, "Send the units as application/json or text/csv.")


_REASONS: Final[Mapping[str, str]] = {
    "unit_held_by_programme": "The unit is {status} by the programme; the sync's values for {fields} were not applied."
    " Contact the service manager.",
    "relay_stay_booked": "The unit is a relay apartment with a booked stay: its relay flag and status are kept and"
    " the sync's values for {fields} were not applied. Contact the service manager.",
    "held_unit_absent_from_snapshot": "The unit is {status} by the programme and absent from this snapshot: it keeps"
    " its status; when the programme releases it, it becomes unavailable.",
}


def _conflict(c: sync_repository.Conflict) -> SyncConflict:
    fields = ", ".join(c.fields) or "no field"
    if c.code == "relay_stay_booked" and not c.fields:
        reason = "The unit is a relay apartment with a booked stay and absent from this snapshot: it stays vacant."
    else:
        reason = _REASONS[c.code].format(status=c.status, fields=fields)
    return SyncConflict(
        landlord_reference=c.landlord_reference,
        status=UnitStatus(c.status),
        code=c.code,
        fields=c.fields,
        reason=reason,
    )


def _row_errors(parsed: ParsedSync) -> list[SyncRowError]:
    return [
        SyncRowError(row=e.row, landlord_reference=e.landlord_reference, field=e.field, message=e.message)
        for e in parsed.errors
    ]


async def run_sync(
    session: AsyncSession,
    principal: Principal,
    landlord_organisation_id: uuid.UUID,
    parsed: ParsedSync,
    *,
    partial: bool,
    timings: SyncTimings,
    allow_empty: bool = False,
) -> SyncReport:
    """Write the valid rows (all of them, or none when any row is invalid and `partial` is false)."""
    if parsed.mode == "snapshot" and parsed.received == 0 and not allow_empty:
        raise ProblemError(
            SYNC_EMPTY_SNAPSHOT,
            "An empty snapshot would make every vacant unit of the landlord unavailable: nothing was written. "
            "Send ?allow_empty=true if that is really meant.",
            errors=[FieldError(field="units", message="a snapshot needs at least one unit, or ?allow_empty=true")],
        )
    errors = _row_errors(parsed)
    truncated = parsed.invalid_rows > 0 and len(parsed.errors) >= MAX_REPORTED_ERRORS
    if parsed.invalid_rows and not partial:
        raise ProblemError(
            SYNC_INVALID_ROWS,
            f"{parsed.invalid_rows} of {parsed.received} rows are invalid: nothing was written. "
            "Fix them, or send ?partial=true to write the valid rows only.",
            extra={
                "invalid_rows": parsed.invalid_rows,
                "row_errors": [e.model_dump() for e in errors],
                "errors_truncated": truncated,
            },
        )
    started = time.perf_counter()
    await sync_repository.lock_landlord(session, landlord_organisation_id)
    await sync_repository.copy_incoming(session, parsed.columns)
    locked = await sync_repository.lock_rows(
        session, landlord_organisation_id, whole_landlord=parsed.mode == "snapshot"
    )
    today = clock.today()
    if locked.locked == 0 and locked.listed_existing == parsed.valid_rows:
        # Every listed unit exists, is vacant, unmarked and identical: nothing to create, write, clear or report.
        outcome = sync_repository.UpsertOutcome(0, 0, [])
    else:
        outcome = await sync_repository.upsert(session, landlord_organisation_id, today=today)
    # Units listed in the body, even on an invalid row, are not "absent" from it: the copied rows, and these.
    others = sorted(parsed.seen_references - set(parsed.columns["landlord_reference"]))
    await sync_repository.clear_absent_marks(session, landlord_organisation_id, others)
    absent = sync_repository.AbsentOutcome(0, [])
    if parsed.mode == "snapshot":
        absent = await sync_repository.mark_absent(session, landlord_organisation_id, others, today=today)
    timings.sql_ms = (time.perf_counter() - started) * 1000
    conflicts = [_conflict(c) for c in outcome.conflicts + absent.conflicts]
    report = SyncReport(
        mode=parsed.mode,
        partial=partial,
        received=parsed.received,
        created=outcome.created,
        updated=outcome.updated,
        unchanged=parsed.valid_rows - outcome.created - outcome.updated - len(outcome.conflicts),
        no_longer_vacant=absent.made_unavailable,
        conflicts=conflicts,
        invalid_rows=parsed.invalid_rows,
        errors=errors,
        errors_truncated=truncated,
    )
    counts = {
        "mode": report.mode,
        "partial": partial,
        "received": report.received,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "no_longer_vacant": report.no_longer_vacant,
        "conflicts": len(conflicts),
        "invalid_rows": report.invalid_rows,
    }
    await audit.record(
        session, principal, AuditAction.HOUSING_UNIT_SYNC, "organisation", landlord_organisation_id, details=counts
    )
    await outbox.emit(
        session,
        EventType.HOUSING_UNIT_SYNC_COMPLETED,
        organisation_id=landlord_organisation_id,
        data={"landlord_organisation_id": str(landlord_organisation_id), **counts},
    )
    logger.info(
        "housing sync",
        extra={
            **{f"sync_{k}": v for k, v in counts.items()},
            "parse_ms": round(timings.parse_ms, 1),
            "sql_ms": round(timings.sql_ms, 1),
        },
    )
    return report
