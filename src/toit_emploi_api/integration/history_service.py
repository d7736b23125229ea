"""The programme's history (`POST /api/v1/history/import`, admin): past households with their real dates, checked
with the rules of live work as of each date (`history_check`), written whole in the request's transaction or not at
all; and the rollback of an import while nothing was added on top.

The file: JSON lines (`application/x-ndjson`, `application/jsonl`), one household a line (`HistoryHousehold`), or
CSV (`text/csv`), one line per fact (`history_csv`)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import date, datetime, time
from typing import Any, Final, NoReturn

from anyio import to_thread
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit, clock, csv_input
from toit_emploi_api.core.errors import FieldError, ProblemError
from toit_emploi_api.core.imports_models import ImportBatch
from toit_emploi_api.core.problems import UNSUPPORTED_MEDIA_TYPE
from toit_emploi_api.core.resources import found
from toit_emploi_api.employers import hires as employer_hires
from toit_emploi_api.households.models import Household, Member
from toit_emploi_api.housing import holds
from toit_emploi_api.integration import history_check, history_csv, history_repository
from toit_emploi_api.integration.history_check import Checked, Known
from toit_emploi_api.integration.history_schemas import (
    HistoryHousehold,
    HistoryHouseholdOut,
    HistoryImportReport,
    HistoryLineError,
)
from toit_emploi_api.integration.line_errors import refuse_invalid_lines
from toit_emploi_api.pipeline.models import FollowUpEntry, HousingAllocation, Placement, RelayStay, StageTransition
from toit_emploi_api.reference.text import fold
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.problems import (
    IMPORT_NOT_REVERSIBLE,
    IMPORT_TOO_LARGE,
    IMPORT_UNREADABLE,
)
from toit_emploi_api.vocab.stages import TERMINAL_STAGES, ApplicationStatus, HistoryKind, Stage
from toit_emploi_api.vocab.statuses import (
    OPEN_PLACEMENT_STATUSES,
    AllocationStatus,
    PlacementStatus,
    RelayStayStatus,
)

JSON_LINES: Final = frozenset({"application/x-ndjson", "application/jsonl", "application/jsonlines"})
CSV_TYPES: Final = frozenset({"text/csv", "application/csv"})
MAX_HOUSEHOLDS: Final = 10_000
MAX_REPORTED: Final = 1_000
_HOUSEHOLD: Final = TypeAdapter(HistoryHousehold)


def _instant(day: date) -> datetime:
    """A past date as an instant: noon in Paris (facts imported with a date, not a time)."""
    return datetime.combine(day, time(12), tzinfo=clock.PROGRAMME_TZ)


Lines = dict[str, dict[str, int]]  # household key → (path inside its document → line of the CSV file)


def read_lines(
    body: bytes, content_type: str
) -> tuple[list[tuple[int, HistoryHousehold]], list[HistoryLineError], Lines | None]:
    """Each household validated as a `HistoryHousehold`, every problem with its line and path; for a CSV file, where
    each fact of each household came from."""
    media_type = csv_input.media_type_of(content_type)
    if media_type not in JSON_LINES | CSV_TYPES:
        raise ProblemError(UNSUPPORTED_MEDIA_TYPE, "Send the history as JSON lines (application/x-ndjson) or CSV.")
    try:
        text = csv_input.decode(body, csv_input.charset_of(content_type))
        if media_type in CSV_TYPES:
            documents, unusable = history_csv.parse(text)
        else:
            documents, unusable = _json_documents(text), []
    except csv_input.CsvInputError as exc:
        error = FieldError(field=exc.field, message=exc.message)
        raise ProblemError(IMPORT_UNREADABLE, exc.message, errors=[error]) from None
    if len(documents) > MAX_HOUSEHOLDS:
        raise ProblemError(IMPORT_TOO_LARGE, f"at most {MAX_HOUSEHOLDS} households per import")
    households: list[tuple[int, HistoryHousehold]] = []
    errors = [
        HistoryLineError(line=line, key=None, field=column, message=message) for line, column, message in unusable
    ]
    lines: Lines = {}
    for number, document, paths in documents:
        key = str(document["key"]) if isinstance(document, dict) and document.get("key") is not None else None
        if key is not None:
            lines[key] = paths
        try:
            households.append((number, _HOUSEHOLD.validate_json(json.dumps(document))))
        except ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False)[:50]:
                where = ".".join(str(p) for p in err["loc"]) or "line"
                line = history_csv.line_of(paths, where) if paths else number
                errors.append(HistoryLineError(line=line, key=key, field=where, message=err["msg"]))
    if not households and not errors:
        error = FieldError(field="body", message="no household line")
        raise ProblemError(IMPORT_UNREADABLE, "The file has no household.", errors=[error])
    return households, errors, (lines if media_type in CSV_TYPES else None)


def _json_documents(text: str) -> list[tuple[int, Any, dict[str, int]]]:
    """One document per non-blank line (a line that is not JSON becomes a document pydantic will refuse)."""
    out: list[tuple[int, Any, dict[str, int]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line), {}))
        except ValueError:
            out.append((number, line, {}))  # a JSON string: refused as "not an object", on its line
        if len(out) > MAX_HOUSEHOLDS:
            break
    return out


async def _known(session: AsyncSession, principal: Principal, households: list[tuple[int, HistoryHousehold]]) -> Known:
    organisations = {principal.organisation_id} | {
        h.referring_organisation_id for _, h in households if h.referring_organisation_id
    }
    unit_ids = {s.unit_id for _, h in households for s in h.relay_stays} | {
        h.allocation.unit_id for _, h in households if h.allocation
    }
    opening_ids = {p.job_opening_id for _, h in households for p in h.placements}
    # Locked until the transaction ends, as live work does: the units (a booking, a reservation or the landlord's
    # sync waits) and the job openings (a live hire waits), so that what is checked is what is written.
    await holds.lock_units(session, sorted(unit_ids))
    units = await history_repository.units(session, unit_ids)
    return Known(
        organisations=await history_repository.referring_organisations(session, organisations),
        units={u: relay for u, (relay, _, _) in units.items()},
        unit_statuses={u: status for u, (_, status, _) in units.items()},
        unit_rooms={u: rooms for u, (_, _, rooms) in units.items()},
        stays=await history_repository.stays(session, unit_ids),
        allocated_units=await history_repository.allocated_units(session, unit_ids),
        openings=await employer_hires.lock_openings(session, opening_ids),
    )


def _holds(checked: list[Checked]) -> tuple[list[uuid.UUID], dict[uuid.UUID, int]]:
    """What the import takes from housing and employers: the units of the households still in their lease (they
    become let), and the hired placements per job opening (they count against its positions)."""
    let = [c.household.allocation.unit_id for c in checked if c.household.allocation and c.stage not in TERMINAL_STAGES]
    hired = Counter(
        p.job_opening_id for c in checked for p in c.household.placements if p.status is PlacementStatus.HIRED
    )
    return let, dict(hired)


def last_fact(h: HistoryHousehold) -> date:
    """The date of the household's last fact in the file (its last contact, unless the file gives one)."""
    dates = [h.created_on, *(m.on for m in h.moves), *(e.entry_date for e in h.follow_up_entries)]
    dates += [d for d in (h.submitted_on, h.presented_on) if d is not None]
    dates += [s.end_date for s in h.relay_stays]
    dates += [d for p in h.placements for d in (p.proposed_on, p.interview_on, p.offered_on, p.closed_on) if d]
    if h.allocation:
        dates.append(h.allocation.move_in_date)
    if h.closure:
        dates.append(h.closure.date)
    return max(dates)


def _application_status(h: HistoryHousehold, item: Checked) -> ApplicationStatus:
    """Presented when the file says so or the household was retained (retention follows a presentation), submitted
    when only submitted, else draft."""
    if h.presented_on is not None or any(to is Stage.MATCHING for _, to, _ in item.path):
        return ApplicationStatus.PRESENTED
    return ApplicationStatus.SUBMITTED if h.submitted_on is not None else ApplicationStatus.DRAFT


def _rows(
    principal: Principal, import_id: uuid.UUID, checked: list[Checked], numbers: list[int]
) -> tuple[dict[type[Any], list[dict[str, Any]]], list[tuple[uuid.UUID, str]]]:
    """Every row the import adds, with its ids, dates and the import's id."""
    models: tuple[type[Any], ...] = (Household, *history_repository.IMPORTED)
    rows: dict[type[Any], list[dict[str, Any]]] = {m: [] for m in models}
    made: list[tuple[uuid.UUID, str]] = []
    now = clock.now()
    actor = {"kind": principal.kind, "id": principal.id, "role": str(principal.role)}
    for item, number in zip(checked, numbers, strict=True):
        h, hid = item.household, uuid.uuid4()
        reference = f"TE-{h.created_on.year}-{number:04d}"
        made.append((hid, reference))
        final = item.stage
        last_on = item.path[-1][2] if item.path else h.created_on
        withdrawal = next((m for m in reversed(h.moves) if m.to is Stage.WITHDRAWN), None)
        rows[Household].append(
            {
                "id": hid,
                "reference": reference,
                "referring_organisation_id": h.referring_organisation_id or principal.organisation_id,
                "created_by_organisation_id": principal.organisation_id,
                "created_by_user_id": principal.id if principal.kind == "user" else None,
                "housing_situation": h.housing_situation,
                "needs_constraints": h.needs_constraints or None,
                "consent_date": h.consent_date,
                "consent_scope": h.consent_scope or None,
                "last_contact_date": h.last_contact_date or last_fact(h),
                "stage": final,
                "stage_entered_at": _instant(last_on),
                "closure_date": h.closure.date if h.closure else None,
                "closure_note": h.closure.note if h.closure else None,
                "withdrawal_reason": withdrawal.reason if withdrawal else None,
                "application_status": _application_status(h, item),
                "created_at": _instant(h.created_on),
                "updated_at": now,
                "version": 1,
                "import_id": import_id,
            }
        )
        member_ids: dict[str, uuid.UUID] = {}
        for index, m in enumerate(h.members):
            member_ids[m.key] = uuid.uuid4()
            state = m.model_dump(exclude={"key"})
            state["rome_codes"] = state["rome_codes"] or []
            rows[Member].append(
                {
                    **state,
                    "id": member_ids[m.key],
                    "household_id": hid,
                    "first_name_folded": fold(m.first_name),
                    "last_name_folded": fold(m.last_name),
                    "created_at": _instant(h.created_on).replace(microsecond=index),
                    "updated_at": now,
                    "version": 1,
                    "import_id": import_id,
                }
            )
        for (frm, to, on), move in zip(item.path, h.moves, strict=False):
            rows[StageTransition].append(
                {
                    "id": uuid.uuid4(),
                    "household_id": hid,
                    "from_stage": frm,
                    "to_stage": to,
                    "at": _instant(on),
                    "actor_kind": actor["kind"],
                    "actor_id": actor["id"],
                    "actor_role": actor["role"],
                    "reason": move.reason if to is Stage.WITHDRAWN else None,
                    "note": move.note,
                    "kind": HistoryKind.MOVE,
                    "import_id": import_id,
                }
            )
        steps = (
            (HistoryKind.APPLICATION_SUBMITTED, h.submitted_on),
            (HistoryKind.APPLICATION_PRESENTED, h.presented_on),
        )
        for kind, day in steps:
            if day is not None:
                rows[StageTransition].append(
                    {
                        "id": uuid.uuid4(),
                        "household_id": hid,
                        "from_stage": Stage.DIAGNOSTIC,
                        "to_stage": Stage.DIAGNOSTIC,
                        "at": _instant(day),
                        "actor_kind": actor["kind"],
                        "actor_id": actor["id"],
                        "actor_role": actor["role"],
                        "reason": None,
                        "note": None,
                        "kind": kind,
                        "import_id": import_id,
                    }
                )
        for p in h.placements:
            last = max(d for d in (p.proposed_on, p.interview_on, p.offered_on, p.closed_on) if d is not None)
            status, reason = p.status, p.reason
            if withdrawal is not None and status in OPEN_PLACEMENT_STATUSES:  # as a live withdrawal does
                status, reason, last = PlacementStatus.CANCELLED, "household_withdrawn", withdrawal.on
            rows[Placement].append(
                {
                    "id": uuid.uuid4(),
                    "household_id": hid,
                    "member_id": member_ids[p.member],
                    "job_opening_id": p.job_opening_id,
                    "status": status,
                    "declined_by": p.declined_by,
                    "reason": reason,
                    "contract_type": p.contract_type,
                    "start_date": p.start_date,
                    "note": None,
                    "created_at": _instant(p.proposed_on),
                    "updated_at": _instant(last),
                    "version": 1,
                    "import_id": import_id,
                }
            )
        for s, booked in zip(h.relay_stays, item.booked_on, strict=True):
            rows[RelayStay].append(
                {
                    "id": uuid.uuid4(),
                    "household_id": hid,
                    "unit_id": s.unit_id,
                    "start_date": s.start_date,
                    "end_date": s.end_date,
                    "status": RelayStayStatus.ENDED,
                    "family_agrees": s.family_agrees,
                    "employer_agrees": s.employer_agrees,
                    "outcome_note": s.note,
                    "outcome_recorded_at": _instant(s.end_date),
                    "cancelled_at": None,
                    "created_at": _instant(booked),
                    "updated_at": _instant(s.end_date),
                    "version": 1,
                    "import_id": import_id,
                }
            )
        if h.allocation:
            a = h.allocation
            rows[HousingAllocation].append(
                {
                    "id": uuid.uuid4(),
                    "household_id": hid,
                    "unit_id": a.unit_id,
                    # A closed file's lease is over for the programme; an active one's is still running.
                    "status": AllocationStatus.ENDED if final in TERMINAL_STAGES else AllocationStatus.LEASE_SIGNED,
                    "override_reason": a.override_reason,
                    "lease_signed_date": a.lease_signed_date,
                    "move_in_date": a.move_in_date,
                    "cancelled_at": None,
                    "created_at": _instant(a.reserved_on),
                    "updated_at": _instant(a.move_in_date),
                    "version": 1,
                    "import_id": import_id,
                }
            )
        for e in h.follow_up_entries:
            rows[FollowUpEntry].append(
                {
                    "id": uuid.uuid4(),
                    "household_id": hid,
                    "entry_date": e.entry_date,
                    "domain": e.domain,
                    "note": e.note,
                    "author_kind": actor["kind"],
                    "author_id": actor["id"],
                    "author_role": actor["role"],
                    "created_at": _instant(e.entry_date),
                    "updated_at": _instant(e.entry_date),
                    "import_id": import_id,
                }
            )
    return rows, made


def _refuse(errors: list[HistoryLineError]) -> NoReturn:
    refuse_invalid_lines(errors, of="the history", limit=MAX_REPORTED)


async def import_history(
    session: AsyncSession, principal: Principal, body: bytes, content_type: str, *, dry_run: bool
) -> HistoryImportReport:
    """Check every household of the file (422 `import-invalid-rows` with every problem and its line, nothing
    written); then, unless `dry_run`, write them all under one new import."""
    households, errors, lines = await to_thread.run_sync(read_lines, body, content_type)
    known = await _known(session, principal, households)
    checked, problems = history_check.check(households, known, clock.today())
    if lines is not None:  # CSV: each problem on the line of its fact
        problems = [
            p.model_copy(update={"line": history_csv.line_of(lines[p.key], p.field)}) if p.key in lines else p
            for p in problems
        ]
    errors = sorted([*errors, *problems], key=lambda e: (e.line, e.field))
    if errors:
        _refuse(errors)
    import_id = uuid.uuid4() if not dry_run else None
    made: list[tuple[uuid.UUID | None, str | None]] = [(None, None)] * len(checked)
    counts: dict[str, int] = {}
    if import_id is not None:
        numbers = await history_repository.reference_numbers(session, len(checked))
        rows, created = _rows(principal, import_id, checked, numbers)
        counts = {model.__tablename__: len(r) for model, r in rows.items()}
        batch = {
            "id": import_id,
            "kind": "history",
            "status": "applied",
            "actor_kind": principal.kind,
            "actor_id": principal.id,
            "households": len(checked),
            "counts": counts,
            "version": 1,
        }
        await history_repository.insert_all(session, batch, rows)
        let, hired = _holds(checked)
        await holds.let_units(session, let)
        await employer_hires.count_past_hires(session, hired)
        made = list(created)
    else:
        counts = {
            "households": len(checked),
            "household_members": sum(len(c.household.members) for c in checked),
            "stage_transitions": sum(
                len(c.path) + (c.household.submitted_on is not None) + (c.household.presented_on is not None)
                for c in checked
            ),
            "placements": sum(len(c.household.placements) for c in checked),
            "relay_stays": sum(len(c.household.relay_stays) for c in checked),
            "housing_allocations": sum(1 for c in checked if c.household.allocation),
            "follow_up_entries": sum(len(c.household.follow_up_entries) for c in checked),
        }
    await audit.record(
        session,
        principal,
        AuditAction.HISTORY_IMPORT,
        "import",
        import_id,
        details={"dry_run": dry_run, "counts": counts},
    )
    return HistoryImportReport(
        id=import_id,
        dry_run=dry_run,
        households=[
            HistoryHouseholdOut(key=c.household.key, line=c.line, stage=c.stage, id=hid, reference=ref)
            for c, (hid, ref) in zip(checked, made, strict=True)
        ],
        counts=counts,
        stages=dict(Counter(c.stage.value for c in checked)),
    )


async def get_import(session: AsyncSession, import_id: uuid.UUID, *, lock: bool = False) -> ImportBatch:
    """The import (404 when unknown), locked `FOR UPDATE` for a rollback."""
    load = history_repository.lock_import if lock else history_repository.get_import
    return found(await load(session, import_id), "No such import.")


async def rollback(session: AsyncSession, principal: Principal, batch: ImportBatch) -> ImportBatch:
    """Delete everything the import added, if nothing was changed or added on top since (409 otherwise, with the
    households concerned); the import stays, marked `rolled_back`."""
    if batch.status != "applied":
        raise ProblemError(
            IMPORT_NOT_REVERSIBLE, "This import was already rolled back.", extra={"status": batch.status}
        )
    changed = await history_repository.changed_since_import(session, batch.id)
    if changed:
        raise ProblemError(
            IMPORT_NOT_REVERSIBLE,
            f"{len(changed)} imported household(s) were changed or got new records since the import: it cannot be "
            "rolled back whole.",
            extra={"household_ids": [str(h) for h in changed[:1000]]},
        )
    let, hired = await history_repository.held_by_import(session, batch.id)
    await holds.lock_units(session, let)
    await holds.end_lets(session, let)
    await employer_hires.undo_past_hires(session, hired)
    deleted = await history_repository.delete_imported(session, batch.id)
    await history_repository.mark_rolled_back(session, batch.id)
    await audit.record(
        session, principal, AuditAction.HISTORY_ROLLBACK, "import", batch.id, details={"households": deleted}
    )
    await session.refresh(batch)
    return batch
