"""HTTP endpoints of the imports: the households CSV import and its template (the history import: see
`history_router`).

Mounted before the households router, so that `/households/import` is never read as a household id."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from toit_emploi_api.auth.policy import Principal, authorize
from toit_emploi_api.core.csv import CSV_CONTENT
from toit_emploi_api.core.database import SessionDep
from toit_emploi_api.core.errors import problem_responses
from toit_emploi_api.core.idempotency import idempotent
from toit_emploi_api.core.problems import UNSUPPORTED_MEDIA_TYPE
from toit_emploi_api.integration import imports_csv, imports_service
from toit_emploi_api.integration.imports_schemas import HouseholdImportReport
from toit_emploi_api.vocab.problems import IMPORT_INVALID_ROWS, IMPORT_TOO_LARGE, IMPORT_UNREADABLE
from toit_emploi_api.vocab.roles import Role

router = APIRouter(prefix="/api/v1", tags=["imports"])

ImporterDep = Annotated[Principal, Depends(authorize(Role.PARTNER_WORKER, Role.PARIS_REFERENT, Role.SERVICE_MANAGER))]
_IMPORT_BODY: Final = {
    "required": True,
    "content": {"text/csv": {"schema": {"type": "string"}, "example": imports_csv.template().lstrip("\ufeff")}},
}


@router.get(
    "/households/import/template",
    summary="Households import template",
    response_class=Response,
    responses={200: CSV_CONTENT},
)
async def households_import_template(_: ImporterDep) -> Response:
    """The CSV template of `POST /households/import`: every column's header, and one example household of two
    members (`;` separated, UTF-8 with a byte-order mark so that spreadsheet software reads the accents)."""
    return Response(
        content=imports_csv.template().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="import-foyers.csv"'},
    )


@router.post(
    "/households/import",
    summary="Import households from a CSV file",
    response_model=HouseholdImportReport,
    responses={
        **problem_responses(UNSUPPORTED_MEDIA_TYPE, IMPORT_UNREADABLE, IMPORT_INVALID_ROWS, IMPORT_TOO_LARGE),
    },
    openapi_extra={"requestBody": _IMPORT_BODY},
)
@idempotent
async def households_import(
    principal: ImporterDep,
    session: SessionDep,
    request: Request,
    response: Response,
    dry_run: Annotated[bool, Query(description="Check the file and report, write nothing (200).")] = False,
) -> HouseholdImportReport | JSONResponse:
    """Create many households in `diagnostic` from one CSV file: one line per member, the lines of one household
    sharing its `cle_foyer`. 200 with each household's id and reference (each household's URL is
    `/api/v1/households/{id}`); `?dry_run=true`: the same report, nothing written.

    **Who.** Partner workers, for their own organisation; the Paris referent, the service manager and admins, for
    any active referral partner or Aurore's organisation named in `organisation_orientatrice` (by id or exact
    name; empty: the caller's own organisation).

    **The file.** `text/csv`, UTF-8 (a byte-order mark is fine) or `text/csv; charset=windows-1252`; `;` or `,`
    separated; headers in any order, case-insensitive (unknown, missing or repeated: 422 `import-unreadable`, field
    `header`); at most 10,000 households and 60,000 lines (413 `import-too-large`), 32 MiB. Values are the JSON
    API's (`POST /households`): enums as there, ISO dates `YYYY-MM-DD`, ROME codes separated by spaces,
    `permis_conduire` `oui`/`non`. An empty cell is no value. The household's own columns are read on its first
    line; its other lines leave them empty or repeat them. A household line without a member (first name, last
    name, birth date and role empty) is a household without members. Template: `GET /households/import/template`.

    **Columns**, required headers: `cle_foyer` (your key of the household),
    `situation_logement` (`hotel_115`, `shelter`, `hosted_by_relatives`, `street`, `other`), `date_consentement`,
    `portee_consentement`, `prenom`, `nom`, `date_naissance`, `role` (`head`, `partner`, `child`,
    `other_relative`), `codes_rome`; optional: `organisation_orientatrice`, `besoins_contraintes`,
    `date_dernier_contact`, and for adults `annees_experience`, `permis_conduire`, `niveau_francais`,
    `qualifications`, `fin_droit_travail`, for children `niveau_scolaire`.

    **All or nothing.** Every line is checked as `POST /households` checks a household (names, ages against roles
    today, profile for adults, schooling for children, consent date and scope together, at most 20 members). Any
    fault: 422 `import-invalid-rows`, nothing written, listing every line and field at fault in `row_errors`
    (`{line, key, field, message}`, the header is line 1, at most 1,000) and in `errors` (`lines.<line>.<column>`).
    Otherwise every household is created in one transaction.

    **Possible duplicates** are reported, never refused: a member with the same first and last name (ignoring case
    and accents) and birth date as a member of an active household you may see (a partner worker: its
    organisation's), or of another household of the file.

    **Idempotency-Key** as on every create. **Audit.** One `household.create` per household (`import: true`) and
    one `household.import` (counts only). `Server-Timing` gives the `parse` and `sql` times."""
    report, timings = await imports_service.import_households(
        session, principal, await request.body(), request.headers.get("content-type", ""), dry_run=dry_run
    )
    response.headers["Server-Timing"] = ", ".join(f"{name};dur={ms:.1f}" for name, ms in timings.items())
    return report
