"""Parsing and validating a vacancy sync body (JSON or CSV) into column arrays ready for ``unnest``.

A sync carries up to 20,000 units. Every rule of a unit is a pydantic-core constraint (ranges, lengths, regex
patterns, decimal places, dates) on a ``TypedDict``, so a whole body is validated in one call, in Rust: JSON with
``validate_json`` (parsing included), CSV rows with ``validate_python``. Measured on the 2-core machine for 20,000
units: ~125 ms, against ~370 ms for hand-written Python field parsers and ~55 ms for ``json.loads`` alone.
Only when some row is invalid are the rows looked at one by one (to report them and keep the valid ones).

Rows are numbered from 1 in the order of the request (JSON: position in ``units``; CSV: data line after the header).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Final, Literal, NotRequired, get_origin, get_type_hints

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from toit_emploi_api.core import clock, csv_input
from toit_emploi_api.housing import rules

MAX_UNITS: Final = 20_000
MAX_REPORTED_ERRORS: Final = 1_000

# One line, no control character (NUL included).
_SINGLE_LINE: Final = r"^[^\x00-\x1f\x7f-\x9f]*$"
# Same set as reference.codes.check_insee_commune: not department 00, not the obsolete 20xxx, 2A/2B for Corsica.
_INSEE: Final = r"^(?:0[1-9][0-9]{3}|1[0-9]{4}|2[1-9][0-9]{3}|[3-9][0-9]{4}|2[ABab][0-9]{3})$"


Reference = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=rules.REFERENCE_MAX, pattern=rules.REFERENCE_PATTERN
    ),
]
StreetNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=rules.STREET_NUMBER_MAX, pattern=_SINGLE_LINE)
]
StreetType = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=rules.STREET_TYPE_MAX, pattern=_SINGLE_LINE)
]
StreetName = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=rules.STREET_NAME_MAX, pattern=_SINGLE_LINE)
]
Insee = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=_INSEE)]
Postcode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{5}$")]
Money = Annotated[Decimal, Field(ge=0, le=rules.MONEY_MAX, max_digits=8, decimal_places=2)]


class SyncUnit(TypedDict):
    """One unit of a sync. JSON keys are these names; the CSV headers are in ``SYNC_FIELDS``."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    landlord_reference: Reference
    commune_insee: Insee
    postcode: Postcode
    street_number: NotRequired[StreetNumber | None]
    street_type: NotRequired[StreetType | None]
    street_name: NotRequired[StreetName | None]
    floor: NotRequired[Annotated[int, Field(ge=rules.FLOOR_MIN, le=rules.FLOOR_MAX)] | None]
    rooms: Annotated[int, Field(ge=rules.ROOMS_MIN, le=rules.ROOMS_MAX)]
    living_area_m2: NotRequired[
        Annotated[Decimal, Field(gt=0, le=rules.AREA_MAX, max_digits=6, decimal_places=2)] | None
    ]
    rent: Money
    charges: NotRequired[Money | None]
    dpe_class: NotRequired[Literal["A", "B", "C", "D", "E", "F", "G"] | None]
    construction_year: NotRequired[Annotated[int, Field(ge=rules.YEAR_MIN, le=rules.YEAR_MAX)] | None]
    available_from: NotRequired[date | None]
    is_relay: NotRequired[bool | None]
    elevator: NotRequired[bool | None]
    step_free_access: NotRequired[bool | None]
    latitude: NotRequired[Annotated[Decimal, Field(ge=-90, le=90)] | None]
    longitude: NotRequired[Annotated[Decimal, Field(ge=-180, le=180)] | None]


class SyncDocument(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    mode: NotRequired[Literal["snapshot", "delta"]]
    units: Annotated[list[SyncUnit], Field(max_length=MAX_UNITS)]


DOCUMENT: Final = TypeAdapter(SyncDocument)

# The fast path (``parse_json``): the same unit, but every decimal is its canonical text, the text ``_columns`` would
# send anyway ('412.30': no sign unless negative, no leading zero, exactly the stored decimals, inside the bounds by
# construction), so no ``Decimal`` is built, checked, quantized and formatted back per value. It accepts a subset of
# what ``SyncUnit`` accepts, with the same result; anything else (a JSON number, '412.3', any invalid row) is
# validated again by ``DOCUMENT``, whose errors and messages are the only ones ever reported.
_CANONICAL_MONEY: Final = r"^(?:0|[1-9][0-9]{0,5})\.[0-9]{2}$"  # 0.00 … 999999.99 = [0, MONEY_MAX], 2 places
_CANONICAL_AREA: Final = r"^(?:[1-9][0-9]{0,3}\.[0-9]{2}|0\.(?:0[1-9]|[1-9][0-9]))$"  # 0.01 … 9999.99
_CANONICAL_LATITUDE: Final = r"^-?(?:[1-8]?[0-9]\.[0-9]{6}|90\.000000)$"  # -90 … 90, 6 places
_CANONICAL_LONGITUDE: Final = r"^-?(?:(?:1[0-7][0-9]|[1-9]?[0-9])\.[0-9]{6}|180\.000000)$"  # -180 … 180
assert Decimal("999999.99") == rules.MONEY_MAX
assert Decimal("9999.99") == rules.AREA_MAX


_CANONICAL_TEXT: Final = {
    "living_area_m2": _CANONICAL_AREA,
    "rent": _CANONICAL_MONEY,
    "charges": _CANONICAL_MONEY,
    "latitude": _CANONICAL_LATITUDE,
    "longitude": _CANONICAL_LONGITUDE,
}


def _fast_unit() -> Any:
    """``SyncUnit`` derived, not restated: the same keys, required or not, with the same rules, except that each
    decimal of ``_CANONICAL_TEXT`` is a string in its canonical text."""
    fields: dict[str, Any] = {}
    for name, hint in get_type_hints(SyncUnit, include_extras=True).items():
        if name in _CANONICAL_TEXT:
            text = Annotated[str, StringConstraints(pattern=_CANONICAL_TEXT[name])]
            hint = NotRequired[text | None] if get_origin(hint) is NotRequired else text
        fields[name] = hint
    assert fields.keys() >= _CANONICAL_TEXT.keys()
    typed_dict: Any = TypedDict  # the functional form, with keys known only at run time
    unit = typed_dict("_FastUnit", fields)
    unit.__pydantic_config__ = ConfigDict(extra="forbid")
    return unit


_FastUnit: Final = _fast_unit()


class _FastDocument(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    mode: NotRequired[Literal["snapshot", "delta"]]
    units: Annotated[list[_FastUnit], Field(max_length=MAX_UNITS)]  # type: ignore[valid-type]


_FAST_DOCUMENT: Final = TypeAdapter(_FastDocument)
UNITS: Final = TypeAdapter(list[SyncUnit])
UNIT_JSON_SCHEMA: Final[dict[str, Any]] = TypeAdapter(SyncUnit).json_schema()


@dataclass(frozen=True)
class SyncField:
    json_name: str  # JSON key, also the database column
    csv_name: str  # CSV header (RPLS-like)


SYNC_FIELDS: Final[tuple[SyncField, ...]] = (
    SyncField("landlord_reference", "REFLOG"),
    SyncField("commune_insee", "DEPCOM"),
    SyncField("postcode", "CODEPOSTAL"),
    SyncField("street_number", "NUMVOIE"),
    SyncField("street_type", "TYPVOIE"),
    SyncField("street_name", "NOMVOIE"),
    SyncField("floor", "ETAGE"),
    SyncField("rooms", "NBPIECE"),
    SyncField("living_area_m2", "SURFHAB"),
    SyncField("rent", "LOYERPRINC"),
    SyncField("charges", "CHARGES"),
    SyncField("dpe_class", "DPEENERGIE"),
    SyncField("construction_year", "CONSTRUCT"),
    SyncField("available_from", "DISPONIBLE"),
    SyncField("is_relay", "RELAIS"),
    SyncField("elevator", "ASCENSEUR"),
    SyncField("step_free_access", "ACCESSIBLE"),
    SyncField("latitude", "LATITUDE"),
    SyncField("longitude", "LONGITUDE"),
)
COLUMNS: Final[tuple[str, ...]] = tuple(f.json_name for f in SYNC_FIELDS)
CSV_HEADERS: Final[tuple[str, ...]] = tuple(f.csv_name for f in SYNC_FIELDS)
REQUIRED_CSV_HEADERS: Final[tuple[str, ...]] = CSV_HEADERS[:15]  # the list; the last 4 are optional
OPTIONAL_CSV_HEADERS: Final[tuple[str, ...]] = CSV_HEADERS[15:]
_CSV_NAME: Final[Mapping[str, str]] = {f.json_name: f.csv_name for f in SYNC_FIELDS}
_JSON_NAME: Final[Mapping[str, str]] = {f.csv_name: f.json_name for f in SYNC_FIELDS}
_TEXT_COLUMNS: Final = ("street_number", "street_type", "street_name")
_DECIMAL_COLUMNS: Final = frozenset({"living_area_m2", "rent", "charges", "latitude", "longitude"})
_COORDINATE: Final = Decimal("0.000001")
_CENT: Final = Decimal("0.01")
AVAILABLE_FROM_MIN: Final = date(1990, 1, 1)

_MESSAGES: Final[Mapping[tuple[str, str], str]] = {
    ("commune_insee", "string_pattern_mismatch"): "must be an INSEE commune code: 5 digits, or 2A/2B and 3 digits",
    ("postcode", "string_pattern_mismatch"): "must be 5 digits",
    ("landlord_reference", "string_pattern_mismatch"): rules.REFERENCE_RULE,
}


class SyncInputError(Exception):
    """The body as a whole is unusable (not JSON/CSV, wrong header, too many units): no row is looked at."""

    def __init__(self, message: str, *, field: str = "body", too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.too_large = too_large


@dataclass(frozen=True)
class RowError:
    row: int
    landlord_reference: str | None
    field: str
    message: str


@dataclass
class ParsedSync:
    """Valid rows as column arrays (``columns[name][i]``), the row errors, and every reference seen."""

    mode: str
    received: int = 0
    columns: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in COLUMNS})
    errors: list[RowError] = field(default_factory=list)
    invalid_rows: int = 0
    seen_references: set[str] = field(default_factory=set)

    @property
    def valid_rows(self) -> int:
        return len(self.columns["landlord_reference"])


# ------------------------------------------------------------------------------------------------ common


def _message(column: str, err: Mapping[str, Any]) -> str:
    kind = str(err.get("type", ""))
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "is required"
    if kind == "string_pattern_mismatch" and (column, kind) not in _MESSAGES:
        return "must be a single line without control characters"
    return _MESSAGES.get((column, kind), str(err.get("msg", "invalid value")))


def _raw_reference(row: Any) -> str | None:
    """The row's reference as the validation would see it (stripped; any padding, however long, goes), to find
    duplicates and to name the row in errors; ``None`` when there is nothing usable (over 200 characters once
    stripped, a NUL, not a string). Python's ``strip`` removes every character pydantic-core's does, so two valid
    references that validate alike are alike here."""
    value = row.get("landlord_reference") if isinstance(row, dict) else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value and len(value) <= 200 and "\x00" not in value:
        return value
    return None


def _columns(rows: Sequence[Mapping[str, Any]], *, canonical: bool = False) -> dict[str, list[Any]]:
    """Column arrays of validated rows; ``canonical``: the decimals are already their canonical text (fast path)."""
    columns = {c: [r.get(c) for r in rows] for c in COLUMNS}
    for c in _TEXT_COLUMNS:  # an empty text is no text
        if "" in columns[c]:
            columns[c] = [v or None for v in columns[c]]
    for c in ("is_relay", "step_free_access"):
        if None in columns[c]:
            columns[c] = [bool(v) for v in columns[c]]
    if canonical:
        if None in columns["charges"]:
            columns["charges"] = ["0.00" if v is None else v for v in columns["charges"]]
        return columns
    columns["charges"] = [Decimal("0.00") if v is None else v for v in columns["charges"]]
    for c in ("latitude", "longitude"):  # GPS figures often carry more than the 6 decimals stored
        columns[c] = [None if v is None else v.quantize(_COORDINATE) for v in columns[c]]
    for c in ("living_area_m2", "rent", "charges"):  # '0E+100000000' is a valid 0: never send such text to PostgreSQL
        columns[c] = [None if v is None else v.quantize(_CENT) for v in columns[c]]
    # Decimals travel as text (cast back to numeric by PostgreSQL): about 2.5x cheaper to encode than numeric[].
    # Every one is quantized above, so its text is plain positional notation ('412.30', never an exponent).
    for c in _DECIMAL_COLUMNS:
        columns[c] = [None if v is None else format(v, "f") for v in columns[c]]
    return columns


def _finish(
    result: ParsedSync,
    raw_rows: Sequence[Any],
    row_errors: dict[int, list[tuple[str, str]]],
    validated: Sequence[Mapping[str, Any]] | None,
    csv_names: bool,
    json_rows: bool = False,
) -> ParsedSync:
    """Turn validation results into columns and row errors; duplicates of a reference make every copy invalid.

    ``row_errors`` maps a 0-based row index to (column, message); ``validated`` holds the rows without errors
    (in order), or is ``None`` when they still have to be validated.
    """
    result.received = len(raw_rows)
    references = [_raw_reference(r) for r in raw_rows]
    counts = Counter(r for r in references if r is not None)
    duplicates = {ref for ref, n in counts.items() if n > 1}
    rows_of: dict[str, list[int]] = {}
    if duplicates:
        for index, ref in enumerate(references):
            if ref in duplicates:
                rows_of.setdefault(ref, []).append(index + 1)
        for index, ref in enumerate(references):
            if ref in duplicates:
                where = ", ".join(str(n) for n in rows_of[ref][:10])
                message = f"duplicate reference in this sync (rows {where})"
                row_errors.setdefault(index, []).append(("landlord_reference", message))
    result.seen_references = set(counts)
    if validated is None:
        kept = [i for i in range(len(raw_rows)) if i not in row_errors]
        validated = (_validate_json_rows if json_rows else UNITS.validate_python)([raw_rows[i] for i in kept])
    elif duplicates:  # every row was valid (``validated`` is row for row): keep those that are not duplicated
        kept = [i for i in range(len(raw_rows)) if i not in row_errors]
        validated = [validated[i] for i in kept]
    else:
        kept = list(range(len(raw_rows)))
    late = _date_errors(kept, validated)
    if late:
        row_errors.update(late)
        validated = [row for i, row in zip(kept, validated, strict=True) if i not in late]
    for index in sorted(row_errors):
        result.invalid_rows += 1
        for column, message in row_errors[index]:
            if len(result.errors) < MAX_REPORTED_ERRORS:
                name = _CSV_NAME.get(column, column) if csv_names else column
                result.errors.append(RowError(index + 1, references[index], name, message))
    if validated:
        result.columns = _columns(validated)
    return result


def available_from_bounds(today: date | None = None) -> tuple[date, date]:
    """[1990-01-01, today + 5 years]: outside it, an availability date is a typing error."""
    today = today or clock.today()
    return AVAILABLE_FROM_MIN, clock.years_later(today, 5)


def _date_errors(kept: Sequence[int], validated: Sequence[Mapping[str, Any]]) -> dict[int, list[tuple[str, str]]]:
    low, high = available_from_bounds()
    found: dict[int, list[tuple[str, str]]] = {}
    for index, row in zip(kept, validated, strict=True):
        value = row.get("available_from")
        if value is not None and not low <= value <= high:
            found[index] = [("available_from", f"must be between {low.isoformat()} and {high.isoformat()}")]
    return found


def _validate_json_rows(rows: list[Any]) -> list[Any]:
    """JSON rows (already parsed by ``json.loads``) validated as JSON, strictly: ``rooms: true`` is no 1."""
    if not rows:
        return []
    return UNITS.validate_json(json.dumps(rows), strict=True)


def _collect(exc: ValidationError, prefix: int) -> dict[int, list[tuple[str, str]]]:
    """Row errors from a validation of a list (``prefix`` = position of the row index in ``loc``)."""
    found: dict[int, list[tuple[str, str]]] = {}
    for err in exc.errors():
        loc = err.get("loc", ())
        index = loc[prefix] if len(loc) > prefix else None
        if not isinstance(index, int):
            raise SyncInputError(str(err.get("msg", "invalid body")), field=".".join(str(p) for p in loc) or "body")
        column = str(loc[prefix + 1])[:64] if len(loc) > prefix + 1 else "unit"
        found.setdefault(index, []).append((column, _message(column, err)))
    return found


# ------------------------------------------------------------------------------------------------ JSON


def parse_json(body: bytes, query_mode: str | None) -> ParsedSync:
    fast = _parse_json_fast(body, query_mode)
    if fast is not None:
        return fast
    try:
        # Strict: JSON integers and booleans must be JSON numbers and booleans (no "3", no true for 1).
        document = DOCUMENT.validate_json(body, strict=True)
    except ValidationError as exc:
        return _parse_json_slowly(body, query_mode, exc)
    mode = _mode(document.get("mode"), query_mode)
    units = document["units"]
    return _finish(ParsedSync(mode=mode), units, {}, units, csv_names=False, json_rows=True)


def _parse_json_fast(body: bytes, query_mode: str | None) -> ParsedSync | None:
    """Every row valid, decimals in canonical text, no duplicate, every date in bounds: the parsed sync, without a
    ``Decimal`` per value. Otherwise ``None``: the caller validates the body again, as it always did."""
    try:
        document = _FAST_DOCUMENT.validate_json(body, strict=True)
    except ValidationError:
        return None
    units = document["units"]
    columns = _columns(units, canonical=True)
    references = columns["landlord_reference"]
    seen = set(references)
    if len(seen) != len(references):
        return None  # duplicates: reported by the full path
    low, high = available_from_bounds()
    dates = [d for d in columns["available_from"] if d is not None]
    if dates and not low <= min(dates) <= max(dates) <= high:
        return None
    result = ParsedSync(mode=_mode(document.get("mode"), query_mode), received=len(units), columns=columns)
    # The references the full path would see (the raw ones, stripped): the validated ones, since a valid reference
    # neither starts nor ends with a character Python's strip() removes and pydantic's does not.
    result.seen_references = seen
    return result


def _mode(body_mode: str | None, query_mode: str | None) -> str:
    if body_mode is not None and query_mode is not None and body_mode != query_mode:
        raise SyncInputError("the mode in the body and in the query string differ", field="mode")
    return body_mode or query_mode or "snapshot"


def _parse_json_slowly(body: bytes, query_mode: str | None, exc: ValidationError) -> ParsedSync:
    """Some row (or the document) is invalid: find which, and validate the others."""
    invalid_json = [e for e in exc.errors(include_url=False, include_input=False) if e.get("type") == "json_invalid"]
    if invalid_json:
        # pydantic-core's parser already refused it (syntax, or nesting deeper than its recursion limit): no re-parse.
        raise SyncInputError(f"The body is not valid JSON: {str(invalid_json[0].get('msg', ''))[:200]}") from None
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise SyncInputError("The body is not valid JSON (or nested too deeply).") from None
    if not isinstance(document, dict):
        raise SyncInputError('The body must be an object {"mode": ..., "units": [...]}.')
    unknown = sorted(str(k)[:64] for k in set(document) - {"mode", "units"})
    if unknown:
        raise SyncInputError(f"unknown field(s): {', '.join(unknown)}", field=unknown[0])
    mode = document.get("mode")
    if mode is not None and mode not in ("snapshot", "delta"):
        raise SyncInputError('mode must be "snapshot" or "delta"', field="mode")
    units = document.get("units")
    if not isinstance(units, list):
        raise SyncInputError("units must be a list of unit objects", field="units")
    if len(units) > MAX_UNITS:
        raise SyncInputError(f"at most {MAX_UNITS} units per request (got {len(units)})", field="units", too_large=True)
    return _finish(
        ParsedSync(mode=_mode(mode, query_mode)), units, _collect(exc, 1), None, csv_names=False, json_rows=True
    )


# ------------------------------------------------------------------------------------------------- CSV


def decode_csv(body: bytes, charset: str | None) -> str:
    try:
        return csv_input.decode(body, charset)
    except csv_input.CsvInputError as exc:
        raise SyncInputError(exc.message, field=exc.field) from None


def parse_csv(text: str, mode: str) -> ParsedSync:
    if "\x00" in text:
        raise SyncInputError("The CSV must not contain NUL characters.")
    delimiter = csv_input.delimiter_of(text)
    reader = csv_input.reader(text, delimiter)
    try:
        names = [h.upper() for h in csv_input.header(reader)]
        csv_input.check_header(names, REQUIRED_CSV_HEADERS, OPTIONAL_CSV_HEADERS, joiner=",")
    except csv_input.CsvInputError as exc:
        raise SyncInputError(exc.message, field=exc.field) from None
    keys = [_JSON_NAME[n] for n in names]
    # With ";" as separator, decimals may use a comma (French spreadsheets).
    comma_decimals = [i for i, k in enumerate(keys) if k in _DECIMAL_COLUMNS] if delimiter == ";" else []
    rows: list[dict[str, Any] | None] = []
    early: dict[int, list[tuple[str, str]]] = {}
    for cells in _records(reader):
        if len(rows) >= MAX_UNITS:
            raise SyncInputError(f"at most {MAX_UNITS} units per request", too_large=True)
        if len(cells) != len(keys):
            early[len(rows)] = [("row", f"expected {len(keys)} cells, found {len(cells)}")]
            rows.append(None)
            continue
        for i in comma_decimals:
            cells[i] = cells[i].replace(",", ".")
        rows.append({k: (c.strip() or None) for k, c in zip(keys, cells, strict=True)})
    candidates = [r for r in rows if r is not None]
    positions = [i for i, r in enumerate(rows) if r is not None]
    try:
        validated: list[Any] | None = UNITS.validate_python(candidates)
    except ValidationError as exc:
        validated = None
        for index, errs in _collect(exc, 0).items():
            early.setdefault(positions[index], []).extend(errs)
    if early:
        validated = None
    raw_rows: list[Any] = [r if r is not None else {} for r in rows]
    return _finish(ParsedSync(mode=mode), raw_rows, early, validated, csv_names=True)


def _records(reader: Iterable[list[str]]) -> Iterable[list[str]]:
    try:
        yield from csv_input.records(reader)
    except csv_input.CsvInputError as exc:
        raise SyncInputError(exc.message, field=exc.field) from None
