"""Reading the households import file (`POST /api/v1/households/import`): French headers, one line per member.

Pure (no database): the file's text becomes households as the JSON API's `HouseholdCreate`, each with the lines it
came from, and every problem found becomes a `LineError` naming the line and the column. Validation reuses the JSON
API's own models (one pydantic call over the whole file, in JSON mode, so CSV cells are read like JSON strings) and
the households' rules (`households.service.new_household_errors`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import TypeAdapter, ValidationError

from toit_emploi_api.core import csv_input
from toit_emploi_api.households.schemas import MAX_MEMBERS, HouseholdCreate
from toit_emploi_api.households.service import new_household_errors

MAX_HOUSEHOLDS: Final = 10_000
MAX_LINES: Final = 60_000
MAX_REPORTED_ERRORS: Final = 1_000

Level = Literal["key", "organisation", "household", "member"]


@dataclass(frozen=True)
class Column:
    header: str  # the CSV header (French, lower case)
    field: str  # the JSON API's field
    level: Level
    required: bool  # the header must be present (the cell may still be empty where the field is optional)
    description: str
    example: str = ""


COLUMNS: Final[tuple[Column, ...]] = (
    Column("cle_foyer", "key", "key", True, "Your key of the household: its lines share it (any text).", "F1"),
    Column(
        "organisation_orientatrice",
        "referring_organisation_id",
        "organisation",
        False,
        "The referring organisation: its id or exact name (Paris referent, service manager, admin; a partner "
        "worker leaves it empty or names its own). Empty: the caller's organisation.",
    ),
    Column(
        "situation_logement",
        "housing_situation",
        "household",
        True,
        "hotel_115, shelter, hosted_by_relatives, street or other.",
        "hotel_115",
    ),
    Column("besoins_contraintes", "needs_constraints", "household", False, "Short text; no medical detail."),
    Column("date_consentement", "consent_date", "household", True, "YYYY-MM-DD, with portee_consentement.", ""),
    Column("portee_consentement", "consent_scope", "household", True, "Text, with date_consentement.", ""),
    Column("date_dernier_contact", "last_contact_date", "household", False, "YYYY-MM-DD."),
    Column("prenom", "first_name", "member", True, "First name (1-100 characters).", "Awa"),
    Column("nom", "last_name", "member", True, "Last name (1-100 characters).", "Traoré"),
    Column("date_naissance", "birth_date", "member", True, "YYYY-MM-DD.", "1988-02-01"),
    Column("role", "role", "member", True, "head, partner, child or other_relative.", "head"),
    Column("codes_rome", "rome_codes", "member", True, "Adults: ROME codes separated by spaces.", "F1703 F1606"),
    Column("annees_experience", "years_of_experience", "member", False, "Adults: 0-60."),
    Column("permis_conduire", "driving_licence", "member", False, "Adults: oui or non."),
    Column("niveau_francais", "french_level", "member", False, "Adults: none, a1 … c2, native."),
    Column("qualifications", "qualifications", "member", False, "Adults: text."),
    Column("fin_droit_travail", "right_to_work_expiry", "member", False, "Adults: YYYY-MM-DD."),
    Column("niveau_scolaire", "schooling_level", "member", False, "Children: creche, maternelle, … lycee, other."),
)
HEADERS: Final[tuple[str, ...]] = tuple(c.header for c in COLUMNS)
REQUIRED_HEADERS: Final[tuple[str, ...]] = tuple(c.header for c in COLUMNS if c.required)
_OPTIONAL_HEADERS: Final[tuple[str, ...]] = tuple(c.header for c in COLUMNS if not c.required)
_BY_HEADER: Final[Mapping[str, Column]] = {c.header: c for c in COLUMNS}
_BY_FIELD: Final[Mapping[tuple[Level, str], Column]] = {(c.level, c.field): c for c in COLUMNS}
_TRUE, _FALSE = frozenset({"oui", "o", "true", "1", "yes"}), frozenset({"non", "n", "false", "0", "no"})
_HOUSEHOLDS: Final = TypeAdapter(list[HouseholdCreate])


@dataclass(frozen=True)
class LineError:
    line: int  # the line of the file (the header is line 1), as a spreadsheet numbers it
    key: str | None  # the household's cle_foyer
    field: str  # the CSV header at fault (or "cle_foyer" for the household as a whole)
    message: str


@dataclass
class ParsedHousehold:
    key: str
    lines: list[int]  # the line of each member, in order (or the household's only line when it has none)
    organisation: str | None  # the organisation_orientatrice cell, resolved by the service
    data: HouseholdCreate | None = None


@dataclass
class ParsedImport:
    households: list[ParsedHousehold] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    lines: int = 0


def template() -> str:
    """The CSV template: the headers and one example household (`;`, UTF-8 with a BOM for spreadsheets)."""
    head = ";".join(HEADERS)
    examples = [
        {c.header: c.example for c in COLUMNS},
        {
            **{c.header: c.example for c in COLUMNS},
            "prenom": "Lina",
            "date_naissance": "2016-09-30",
            "role": "child",
            "codes_rome": "",
            "niveau_scolaire": "elementaire",
        },
    ]
    lines = [";".join(example[h] for h in HEADERS) for example in examples]
    return "\ufeff" + "\r\n".join([head, *lines]) + "\r\n"


def _cell(column: Column, raw: str) -> Any:
    value = raw.strip()
    if not value:
        return None
    if column.field == "rome_codes":
        return [code.upper() for code in value.split()]
    if column.field == "driving_licence" and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    if column.field == "years_of_experience" and value.isdigit():
        return int(value)
    if column.field in ("role", "housing_situation", "french_level", "schooling_level"):
        return value.lower()
    return value


class TooLarge(Exception):
    """More households or lines than one import takes."""


def parse(text: str) -> ParsedImport:
    """The households of the file, with every line and field at fault (nothing is dropped silently)."""
    rows = csv_input.reader(text)
    names = [h.lower() for h in csv_input.header(rows)]
    csv_input.check_header(names, REQUIRED_HEADERS, _OPTIONAL_HEADERS)
    columns = [_BY_HEADER[n] for n in names]
    result = ParsedImport()
    by_key: dict[str, ParsedHousehold] = {}
    household_cells: dict[str, dict[str, Any]] = {}
    documents: dict[str, dict[str, Any]] = {}
    for cells in csv_input.records(rows):
        line = rows.line_num  # type: ignore[attr-defined]
        result.lines += 1
        if result.lines > MAX_LINES:
            raise TooLarge(f"at most {MAX_LINES} lines per import")
        if len(cells) != len(columns):
            result.errors.append(LineError(line, None, "line", f"expected {len(columns)} cells, found {len(cells)}"))
            continue
        values = {c.header: _cell(c, raw) for c, raw in zip(columns, cells, strict=True)}
        key = values.get("cle_foyer")
        if key is None:
            result.errors.append(LineError(line, None, "cle_foyer", "required: the key grouping a household's lines"))
            continue
        key = str(key)
        household = by_key.get(key)
        if household is None:
            if len(by_key) >= MAX_HOUSEHOLDS:
                raise TooLarge(f"at most {MAX_HOUSEHOLDS} households per import")
            household = by_key[key] = ParsedHousehold(key, [], values.get("organisation_orientatrice"))
            household_cells[key] = values
            documents[key] = {
                c.field: values[c.header] for c in columns if c.level == "household" and values[c.header] is not None
            } | {"members": []}
        else:
            first = household_cells[key]
            for c in columns:
                if c.level in ("household", "organisation") and values[c.header] not in (None, first[c.header]):
                    result.errors.append(
                        LineError(line, key, c.header, f"differs from line {household.lines[0]} of this household")
                    )
        member = {c.field: values[c.header] for c in columns if c.level == "member" and values[c.header] is not None}
        if member or not household.lines:
            household.lines.append(line)
        if member:
            documents[key]["members"].append(member)
    result.households = list(by_key.values())
    _validate(result, [documents[h.key] for h in result.households])
    return result


def _column_of(loc: Sequence[Any]) -> tuple[int | None, str]:
    """(member index or None, CSV header) of a validation error's location inside one household."""
    if len(loc) >= 3 and loc[0] == "members" and isinstance(loc[1], int):
        column = _BY_FIELD.get(("member", str(loc[2])))
        return loc[1], column.header if column else str(loc[2])
    if loc and loc[0] == "members":
        return None, "cle_foyer"
    column = _BY_FIELD.get(("household", str(loc[0]))) if loc else None
    return None, column.header if column else (str(loc[0]) if loc else "line")


def _line_of(household: ParsedHousehold, member: int | None) -> int:
    if member is not None and member < len(household.lines):
        return household.lines[member]
    return household.lines[0]


def _validate(result: ParsedImport, documents: list[dict[str, Any]]) -> None:
    """One pydantic call over every household (JSON mode), then the households' own rules for each valid one."""
    invalid: set[int] = set()
    try:
        validated = _HOUSEHOLDS.validate_json(json.dumps(documents))
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            index, *loc = err["loc"]
            assert isinstance(index, int)
            household = result.households[index]
            invalid.add(index)
            member, header = _column_of(loc)
            message = err["msg"]
            if header == "cle_foyer" and err["type"] == "too_long":
                message = f"a household has at most {MAX_MEMBERS} members"
            result.errors.append(LineError(_line_of(household, member), household.key, header, message))
        valid_documents = [d for i, d in enumerate(documents) if i not in invalid]
        validated = _HOUSEHOLDS.validate_json(json.dumps(valid_documents)) if valid_documents else []
    valid = [h for i, h in enumerate(result.households) if i not in invalid]
    for household, data in zip(valid, validated, strict=True):
        household.data = data
        for error in new_household_errors(data):
            member, header = _column_of([int(p) if p.isdigit() else p for p in error.field.split(".")])
            result.errors.append(LineError(_line_of(household, member), household.key, header, error.message))
    result.errors.sort(key=lambda e: (e.line, e.field))
