"""The households import (`POST /api/v1/households/import`): read the file, check every line, then create every
household in the request's transaction, or nothing.

Who names which referring organisation: a partner worker imports for its own organisation only; the Paris referent,
the service manager and admins for any active referral partner or Aurore's organisation named in the file (by id or
exact name; empty: their own organisation)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import defaultdict
from typing import Final, NoReturn

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from toit_emploi_api.auth.policy import Principal
from toit_emploi_api.core import audit, csv_input
from toit_emploi_api.core.errors import FieldError, ProblemError
from toit_emploi_api.core.problems import UNSUPPORTED_MEDIA_TYPE
from toit_emploi_api.households import service as households
from toit_emploi_api.integration import imports_csv, imports_repository
from toit_emploi_api.integration.imports_csv import LineError, ParsedHousehold, ParsedImport
from toit_emploi_api.integration.imports_schemas import (
    HouseholdImportReport,
    ImportedHousehold,
    ImportLineError,
    PossibleDuplicate,
)
from toit_emploi_api.integration.line_errors import refuse_invalid_lines
from toit_emploi_api.reference.text import fold
from toit_emploi_api.vocab.audit import AuditAction
from toit_emploi_api.vocab.problems import IMPORT_TOO_LARGE, IMPORT_UNREADABLE
from toit_emploi_api.vocab.roles import OrganisationKind, Role

CSV_MEDIA_TYPES: Final = frozenset({"text/csv", "application/csv"})
REFERRING_KINDS: Final = frozenset({OrganisationKind.REFERRAL_PARTNER.value, OrganisationKind.OPERATOR.value})
_ORGANISATION_HEADER: Final = "organisation_orientatrice"


def read_file(body: bytes, content_type: str) -> ParsedImport:
    """The parsed file, or the problem that makes it unreadable as a whole (415, 413, 422 `import-unreadable`)."""
    if csv_input.media_type_of(content_type) not in CSV_MEDIA_TYPES:
        raise ProblemError(UNSUPPORTED_MEDIA_TYPE, "Send the file as text/csv (UTF-8, or charset=windows-1252).")
    try:
        parsed = imports_csv.parse(csv_input.decode(body, csv_input.charset_of(content_type)))
    except csv_input.CsvInputError as exc:
        raise ProblemError(
            IMPORT_UNREADABLE, exc.message, errors=[FieldError(field=exc.field, message=exc.message)]
        ) from None
    except imports_csv.TooLarge as exc:
        raise ProblemError(IMPORT_TOO_LARGE, str(exc), extra={"max_households": imports_csv.MAX_HOUSEHOLDS}) from None
    if not parsed.households and not parsed.errors:
        raise ProblemError(
            IMPORT_UNREADABLE,
            "The file has no household: one line per member after the header.",
            errors=[FieldError(field="body", message="no data line")],
        )
    return parsed


async def _referring_organisations(
    session: AsyncSession, principal: Principal, parsed: ParsedImport
) -> dict[str, uuid.UUID]:
    """The referring organisation of each household key; errors are added to `parsed.errors`."""
    cells = {h.organisation for h in parsed.households if h.organisation is not None}
    ids: list[uuid.UUID] = []
    for cell in cells:
        with contextlib.suppress(ValueError):
            ids.append(uuid.UUID(cell))
    found = await imports_repository.organisations_named(session, ids, sorted(cells))
    by_cell: dict[str, imports_repository.OrganisationRow] = {}
    for found_row in found:
        by_cell[str(found_row.id)] = found_row
        by_cell[found_row.name.lower()] = found_row
    own = principal.organisation_id
    out: dict[str, uuid.UUID] = {}
    for household in parsed.households:
        line = household.lines[0]
        if household.organisation is None:
            out[household.key] = own
            continue
        row: imports_repository.OrganisationRow | None = by_cell.get(household.organisation.lower())
        message = None
        if row is None or not row.active:
            message = "unknown or inactive organisation (give its id or exact name)"
        elif principal.role is Role.PARTNER_WORKER and row.id != own:
            message = "a partner worker imports households for its own organisation only"
        elif row.kind not in REFERRING_KINDS:
            message = "must be a referring partner or the operator (Aurore), not a " + row.kind
        if message:
            parsed.errors.append(LineError(line, household.key, _ORGANISATION_HEADER, message))
        else:
            assert row is not None
            out[household.key] = row.id
    return out


async def _possible_duplicates(
    session: AsyncSession, principal: Principal, households_: list[ParsedHousehold]
) -> list[PossibleDuplicate]:
    """Members already in an active household the caller may see, or in two households of the file."""
    identities: list[tuple[str, str, object]] = []
    where: list[tuple[str, int]] = []
    for household in households_:
        assert household.data is not None
        for index, member in enumerate(household.data.members):
            identities.append((member.first_name, member.last_name, member.birth_date))
            where.append((household.key, household.lines[index]))
    found = await households.possible_duplicates_of(session, principal, identities)  # type: ignore[arg-type]
    out = [
        PossibleDuplicate(key=where[i][0], line=where[i][1], household_id=hid, reference=ref) for i, hid, ref in found
    ]
    in_file: dict[tuple[str, str, object], list[int]] = defaultdict(list)
    for i, (first, last, birth) in enumerate(identities):
        in_file[(fold(first), fold(last), birth)].append(i)
    for positions in in_file.values():
        keys = {where[i][0] for i in positions}
        if len(keys) > 1:
            for i in positions:
                other = next(where[j][0] for j in positions if where[j][0] != where[i][0])
                out.append(PossibleDuplicate(key=where[i][0], line=where[i][1], household_id=None, other_key=other))
    return sorted(out, key=lambda d: (d.line, d.reference or ""))


def _refuse(parsed: ParsedImport) -> NoReturn:
    refuse_invalid_lines(
        [ImportLineError(**e.__dict__) for e in parsed.errors], of="the file", limit=imports_csv.MAX_REPORTED_ERRORS
    )


async def import_households(
    session: AsyncSession, principal: Principal, body: bytes, content_type: str, *, dry_run: bool
) -> tuple[HouseholdImportReport, dict[str, float]]:
    """Check the whole file (422 `import-invalid-rows` listing every line and field at fault, nothing written), then
    create every household (unless `dry_run`); with the possible duplicates, and the parse/SQL times in ms."""
    started = time.perf_counter()
    parsed = await to_thread.run_sync(read_file, body, content_type)
    parse_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    organisations = await _referring_organisations(session, principal, parsed)
    if parsed.errors:
        _refuse(parsed)
    duplicates = await _possible_duplicates(session, principal, parsed.households)
    items = [(h.data, organisations[h.key]) for h in parsed.households if h.data is not None]
    created: list[tuple[uuid.UUID | None, str | None]] = [(None, None)] * len(items)
    if not dry_run:
        created = list(await households.create_households(session, principal, items, audit_details={"import": True}))
    report = HouseholdImportReport(
        dry_run=dry_run,
        households=len(items),
        members=sum(len(data.members) for data, _ in items),
        created=[
            ImportedHousehold(
                key=h.key,
                lines=h.lines,
                members=len(data.members),
                referring_organisation_id=organisation,
                id=hid,
                reference=ref,
            )
            for h, (data, organisation), (hid, ref) in zip(parsed.households, items, created, strict=True)
        ],
        possible_duplicates=duplicates,
    )
    await audit.record(
        session,
        principal,
        AuditAction.HOUSEHOLD_IMPORT,
        "household",
        None,
        details={
            "dry_run": dry_run,
            "households": report.households,
            "members": report.members,
            "lines": parsed.lines,
            "possible_duplicates": len(duplicates),
        },
        # A duplicates report: the existing households it named are recorded as shown (their access logs).
        shown=sorted({d.household_id for d in duplicates if d.household_id is not None}),
    )
    return report, {"parse": parse_ms, "sql": (time.perf_counter() - started) * 1000}
