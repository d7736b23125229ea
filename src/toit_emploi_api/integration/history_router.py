"""HTTP endpoints of the programme's history: import (admin), read an import, roll it back."""

from __future__ import annotations

import uuid
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request, Response, status

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.core.idempotency import idempotent
from toit_emploi_api.core.problems import NOT_FOUND, UNSUPPORTED_MEDIA_TYPE
from toit_emploi_api.core.resources import IfMatchDep, answers_etag, with_etag
from toit_emploi_api.integration import history_service
from toit_emploi_api.integration.history_schemas import HistoryImportOut, HistoryImportReport
from toit_emploi_api.vocab.problems import (
    IMPORT_INVALID_ROWS,
    IMPORT_NOT_REVERSIBLE,
    IMPORT_TOO_LARGE,
    IMPORT_UNREADABLE,
)

router = APIRouter(prefix="/api/v1", tags=["imports"])
AdminDep = Annotated[Principal, Depends(authorize())]
_EXAMPLE: Final = (
    '{"key": "2016-07", "created_on": "2016-03-02", "housing_situation": "hotel_115", "consent_date": "2016-03-02", '
    '"consent_scope": "programme", "members": [{"key": "a", "first_name": "Awa", "last_name": "Traoré", '
    '"birth_date": "1984-02-01", "role": "head", "rome_codes": ["K1304"]}], "moves": [{"to": "matching", '
    '"on": "2016-04-11"}, {"to": "withdrawn", "on": "2016-06-01", "reason": "returned_to_paris", '
    '"note": "Went back to Paris."}]}\n'
)
_CSV_EXAMPLE: Final = (
    "cle_foyer;fait;date;situation_logement;date_consentement;portee_consentement;cle_membre;prenom;nom;"
    "date_naissance;role;codes_rome;vers;motif;note\n"
    "2016-07;foyer;2016-03-02;hotel_115;2016-03-02;programme;;;;;;;;;\n"
    "2016-07;membre;;;;;a;Awa;Traoré;1984-02-01;head;K1304;;;\n"
    "2016-07;etape;2016-04-11;;;;;;;;;;matching;;\n"
    "2016-07;etape;2016-06-01;;;;;;;;;;withdrawn;returned_to_paris;Went back to Paris.\n"
)
_BODY: Final = {
    "required": True,
    "content": {
        "application/x-ndjson": {"schema": {"type": "string"}, "example": _EXAMPLE},
        "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
    },
}


def _out(batch: object) -> HistoryImportOut:
    return HistoryImportOut.model_validate(batch, from_attributes=True)


@router.post(
    "/history/import",
    summary="Import the programme's history",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "Dry run: what would be imported.", "model": HistoryImportReport},
        **problem_responses(UNSUPPORTED_MEDIA_TYPE, IMPORT_UNREADABLE, IMPORT_INVALID_ROWS, IMPORT_TOO_LARGE),
    },
    openapi_extra={"requestBody": _BODY},
)
@idempotent
async def history_import(
    principal: AdminDep,
    session: SessionDep,
    request: Request,
    response: Response,
    dry_run: Annotated[bool, Query(description="Check the whole file and report, write nothing (200).")] = False,
) -> HistoryImportReport:
    """Import past households with their real dates: the file, its members, each stage move with its date,
    placements, relay stays, the allocation and lease dates, follow-up entries, the withdrawal reason, the closure.
    201 with the import's `id` (`Location`: the import) and each household's id and reference
    (`TE-<year opened>-<number>`); send `?dry_run=true` first (200, nothing written).

    **Who.** Admins only.

    **The file.** JSON lines (`application/x-ndjson` or `application/jsonl`), one household a line, or CSV
    (`text/csv`, `;` or `,`, one line per fact of a household: `cle_foyer;fait;date;…`, see docs/integration.md);
    UTF-8 or a declared `charset=windows-1252`; at most 10,000 households and 32 MiB. A household: `key` (yours),
    `created_on`, `housing_situation`, `consent_date`, `consent_scope`, `referring_organisation_id` (default:
    yours), `submitted_on` and `presented_on` (the application's steps, inside diagnostic), `members` (as
    `POST /households/{id}/members`, plus a `key`), `moves` (`{to, on, reason, note}`, in order), `placements`
    (`{member, job_opening_id, proposed_on, interview_on, offered_on, status, closed_on, contract_type, start_date,
    declined_by, reason}`, on an existing job opening), `relay_stays` (`{unit_id, start_date, end_date,
    family_agrees, employer_agrees, note}`, in an existing relay apartment), `allocation` (`{unit_id, reserved_on,
    lease_signed_date, move_in_date, override_reason}`), `follow_up_entries` (`{entry_date, domain, note}`),
    `closure` (`{date, note}`).

    **The rules of live work, as of each date.** The stages' order and every guard of the pipeline (its own rules,
    `pipeline.rules`), decided with the facts as they were on the move's date: consent from its date, a relay stay
    booked from when the household last entered matching before it until its last day, its outcome from its last
    day, a placement's status the last reached by then, the lease from its signature, the closure on its date. Relay
    stays last 3 to 5 days in a relay apartment and never overlap another stay of that apartment (recorded or in the
    file); a job opening never gets more hires than positions; placements are dated while in matching, relay_stay or
    lease, relay stays booked in matching or relay_stay with their outcome in relay_stay, the home reserved in
    relay_stay or lease and big enough unless an `override_reason`. Differences: dates go back to 2014-01-01 (never
    in the future), ages are checked on `created_on`.

    **Homes and jobs now.** A household still in its lease (lease or follow_up) lets its unit, which must be vacant
    (a closed household's lease is recorded ended: the unit is left alone); every imported hire counts against its
    job opening's positions (filled at the last one); a withdrawal cancels the open placements, as live. A conflict
    is a problem of its line. The rollback gives them back.

    **All or nothing.** Any problem: 422 `import-invalid-rows` listing every problem with its `line`, `key` and
    `field` (a path inside the line, e.g. `moves.2.to`). Otherwise every row is written, marked with the import's
    id (`import_id`), in one transaction. **Audit**: one `history.import` (counts only)."""
    report = await history_service.import_history(
        session, principal, await request.body(), request.headers.get("content-type", ""), dry_run=dry_run
    )
    if dry_run:
        response.status_code = status.HTTP_200_OK
    elif report.id is not None:
        response.headers["Location"] = f"/api/v1/history/imports/{report.id}"
    return report


@router.get("/history/imports/{import_id}", summary="Read a history import", responses=problem_responses(NOT_FOUND))
@answers_etag
async def history_import_get(
    _: AdminDep, session: SessionDep, import_id: uuid.UUID, response: Response
) -> HistoryImportOut:
    """One history import: its status (`applied`, `rolled_back`), the number of households and of rows it added per
    table, and its `ETag` (for the rollback's If-Match). Admins only."""
    batch = await history_service.get_import(session, import_id)
    with_etag(response, batch.version)
    return _out(batch)


@router.post(
    "/history/imports/{import_id}/rollback",
    summary="Roll back a history import",
    responses=problem_responses(NOT_FOUND, IMPORT_NOT_REVERSIBLE),
)
@idempotent
@answers_etag
async def history_import_rollback(
    principal: AdminDep, session: SessionDep, import_id: uuid.UUID, if_match: IfMatchDep, response: Response
) -> HistoryImportOut:
    """Delete everything a history import added (its households, with their members and records), while nothing
    was added on top: 409 `import-not-reversible` (with `household_ids`) when an imported household was changed
    or got a record not imported since, or when the import was already rolled back. `If-Match` with the import's
    ETag. The units it let are vacant again (unavailable when the landlord's last snapshot dropped them) and its
    hires are taken off their job openings. The import stays, `rolled_back`. **Audit**: `history.rollback`."""
    batch = await history_service.get_import(session, import_id, lock=True)
    if_match.check(batch.version)
    batch = await history_service.rollback(session, principal, batch)
    with_etag(response, batch.version)
    return _out(batch)
