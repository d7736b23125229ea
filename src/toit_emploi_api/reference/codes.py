"""French identifiers: SIRET, INSEE commune code, ROME code, postcode; and the ROME reference labels.

Each identifier has a pure predicate (``is_valid_*``), a normaliser for what users type, and a pydantic v2
annotated type (``Siret``, ``InseeCommuneCode``, ``RomeCode``, ``PostCode``) that normalises, validates with a
clear English message, and documents its canonical format (type, pattern, examples) in the JSON schema.

Rules:

* SIRET: 14 ASCII digits with a valid Luhn checksum. La Poste (SIREN 356000000) numbers its establishments
  differently: their SIRET is valid when the sum of its 14 digits is a multiple of 5, and the Luhn rule is not
  applied. Its head office, 356 000 000 00048, predates that scheme and keeps a Luhn-valid number
  (digit sum 26), so it is accepted as well.
* INSEE commune code (code officiel géographique): 5 characters, the department then the commune number:
  5 ASCII digits, or ``2A``/``2B`` and 3 digits for Corsica. Codes starting with ``20`` are rejected: they are
  the Corsican codes in use before the 1976 split into 2A and 2B and no longer identify a current commune.
  Department ``00`` does not exist and is rejected. Overseas codes (``971xx``..``976xx``, ``98xxx``)
  are plain digits and accepted.
* ROME code (France Travail's job taxonomy): one uppercase letter ``A``..``N`` and 4 digits, e.g. ``F1703``.
  Any well-formed code is accepted; ``ROME_CODES`` holds the labels of the programme's trades.
* Postcode: 5 ASCII digits.

Strings containing NUL characters are always rejected with a ``ValueError`` (never passed on to the database).
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable, Mapping
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from toit_emploi_api.reference.text import reject_nul

__all__ = [
    "INSEE_COMMUNE_PATTERN",
    "LA_POSTE_SIREN",
    "POSTCODE_PATTERN",
    "ROME_CODES",
    "ROME_CODE_PATTERN",
    "SIRET_PATTERN",
    "InseeCommuneCode",
    "PostCode",
    "RomeCode",
    "Siret",
    "check_insee_commune",
    "check_postcode",
    "check_rome_code",
    "check_siret",
    "is_valid_insee_commune",
    "is_valid_postcode",
    "is_valid_rome_code",
    "is_valid_siret",
    "load_rome_codes",
    "normalise_insee_commune",
    "normalise_postcode",
    "normalise_rome_code",
    "normalise_siret",
    "rome_label",
]

LA_POSTE_SIREN: Final = "356000000"
_LA_POSTE_HEAD_OFFICE_SIRET: Final = "35600000000048"

# JSON-schema patterns (ECMA-262 compatible) of the canonical forms. Python matching uses re.fullmatch with
# explicit ASCII classes: "\d" would accept other Unicode digits and "$" would accept a trailing newline.
SIRET_PATTERN: Final = "^[0-9]{14}$"
INSEE_COMMUNE_PATTERN: Final = "^(?:[0-9]{5}|2[AB][0-9]{3})$"
ROME_CODE_PATTERN: Final = "^[A-N][0-9]{4}$"
POSTCODE_PATTERN: Final = "^[0-9]{5}$"

_DIGITS_14: Final = re.compile("[0-9]{14}")
_DIGITS_5: Final = re.compile("[0-9]{5}")
_CORSICA_COMMUNE: Final = re.compile("2[AB][0-9]{3}")
_ROME: Final = re.compile("[A-N][0-9]{4}")
_WHITESPACE: Final = re.compile(r"\s+")


# --------------------------------------------------------------------------------------------------- SIRET


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _la_poste_valid(digits: str) -> bool:
    return digits == _LA_POSTE_HEAD_OFFICE_SIRET or sum(ord(c) - 48 for c in digits) % 5 == 0


def normalise_siret(raw: str) -> str:
    """Remove every whitespace character (spaces, non-breaking spaces, tabs) from a typed SIRET.

    ``normalise_siret("775 684 970 00244") == "77568497000244"``. Does not validate.
    """
    return _WHITESPACE.sub("", raw)


def check_siret(value: str) -> str:
    """Return ``value`` if it is a valid SIRET (canonical form, 14 digits), else raise ``ValueError``."""
    if not isinstance(value, str):
        raise ValueError("SIRET must be a string of 14 digits")
    reject_nul(value)
    if not _DIGITS_14.fullmatch(value):
        raise ValueError("SIRET must be 14 digits")
    if value.startswith(LA_POSTE_SIREN):
        if not _la_poste_valid(value):
            raise ValueError(
                "SIRET checksum is invalid (La Poste establishments: the sum of the digits must be a multiple of 5)"
            )
    elif not _luhn_valid(value):
        raise ValueError("SIRET checksum (Luhn) is invalid")
    return value


def is_valid_siret(value: str) -> bool:
    """True when ``value`` is 14 ASCII digits with a valid checksum (Luhn; La Poste: digit sum % 5)."""
    try:
        check_siret(value)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------------- INSEE commune code


def normalise_insee_commune(raw: str) -> str:
    """Strip surrounding whitespace and uppercase (``" 2a004 "`` -> ``"2A004"``). Does not validate."""
    return raw.strip().upper()


def check_insee_commune(value: str) -> str:
    """Return ``value`` if it is a current INSEE commune code, else raise ``ValueError``."""
    if not isinstance(value, str):
        raise ValueError("INSEE commune code must be a string")
    reject_nul(value)
    if _CORSICA_COMMUNE.fullmatch(value):
        return value
    if not _DIGITS_5.fullmatch(value):
        raise ValueError("INSEE commune code must be 5 characters: 5 digits, or 2A/2B followed by 3 digits (Corsica)")
    if value.startswith("20"):
        raise ValueError("INSEE commune code 20xxx is obsolete: Corsican communes use 2A or 2B (e.g. 2A004)")
    if value.startswith("00"):
        raise ValueError("INSEE commune code cannot have department 00")
    return value


def is_valid_insee_commune(value: str) -> bool:
    """True for 5 digits (not department 00, not the obsolete 20xxx) or 2A/2B + 3 digits."""
    try:
        check_insee_commune(value)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------------------------- ROME


def normalise_rome_code(raw: str) -> str:
    """Strip surrounding whitespace and uppercase (``" f1703"`` -> ``"F1703"``). Does not validate."""
    return raw.strip().upper()


def check_rome_code(value: str) -> str:
    """Return ``value`` if it is a well-formed ROME code, else raise ``ValueError``."""
    if not isinstance(value, str):
        raise ValueError("ROME code must be a string")
    reject_nul(value)
    if not _ROME.fullmatch(value):
        raise ValueError("ROME code must be one uppercase letter A-N followed by 4 digits (e.g. F1703)")
    return value


def is_valid_rome_code(value: str) -> bool:
    """True for one uppercase letter ``A``..``N`` followed by 4 ASCII digits (canonical form only)."""
    try:
        check_rome_code(value)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------- postcode


def normalise_postcode(raw: str) -> str:
    """Remove every whitespace character (``"15 000"`` -> ``"15000"``). Does not validate."""
    return _WHITESPACE.sub("", raw)


def check_postcode(value: str) -> str:
    """Return ``value`` if it is 5 ASCII digits, else raise ``ValueError``."""
    if not isinstance(value, str):
        raise ValueError("postcode must be a string")
    reject_nul(value)
    if not _DIGITS_5.fullmatch(value):
        raise ValueError("postcode must be 5 digits")
    return value


def is_valid_postcode(value: str) -> bool:
    """True for exactly 5 ASCII digits."""
    try:
        check_postcode(value)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------- pydantic types


def _before(normalise: Callable[[str], str]) -> BeforeValidator:
    # Only strings are normalised; anything else reaches pydantic's own str validation and its usual error.
    def run(value: Any) -> Any:
        return normalise(value) if isinstance(value, str) else value

    return BeforeValidator(run)


Siret = Annotated[
    str,
    _before(normalise_siret),
    AfterValidator(check_siret),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SIRET_PATTERN,
            "minLength": 14,
            "maxLength": 14,
            "description": "SIRET: 14 digits, Luhn-valid (La Poste: digit sum a multiple of 5). "
            "Spaces are accepted on input and removed.",
            "examples": ["77568497000244"],
        }
    ),
]
"""SIRET of an establishment; input spaces removed (``"775 684 970 00244"`` -> ``"77568497000244"``)."""

InseeCommuneCode = Annotated[
    str,
    _before(normalise_insee_commune),
    AfterValidator(check_insee_commune),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": INSEE_COMMUNE_PATTERN,
            "minLength": 5,
            "maxLength": 5,
            "description": "INSEE commune code (COG): 5 digits, or 2A/2B followed by 3 digits for Corsica.",
            "examples": ["15014", "2A004"],
        }
    ),
]
"""INSEE commune code; input stripped and uppercased (``"2a004"`` -> ``"2A004"``)."""

RomeCode = Annotated[
    str,
    _before(normalise_rome_code),
    AfterValidator(check_rome_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": ROME_CODE_PATTERN,
            "minLength": 5,
            "maxLength": 5,
            "description": "ROME job code (France Travail): one letter A-N and 4 digits.",
            "examples": ["F1703"],
        }
    ),
]
"""ROME code; input stripped and uppercased (``"f1703"`` -> ``"F1703"``)."""

PostCode = Annotated[
    str,
    _before(normalise_postcode),
    AfterValidator(check_postcode),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": POSTCODE_PATTERN,
            "minLength": 5,
            "maxLength": 5,
            "description": "French postcode: 5 digits.",
            "examples": ["15000"],
        }
    ),
]
"""French postcode; input whitespace removed (``"15 000"`` -> ``"15000"``)."""


# ------------------------------------------------------------------------------------ ROME reference data

_ROME_CSV: Final = "rome_codes.csv"


@functools.cache
def load_rome_codes() -> Mapping[str, str]:
    """Read the shipped ``rome_codes.csv`` once; return a read-only ``code -> label`` mapping.

    Raises ``RuntimeError`` if the file is malformed (bad header, invalid or duplicate code, empty label).
    """
    package = __name__.rpartition(".")[0]
    text = resources.files(package).joinpath(_ROME_CSV).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header != ["code", "label"]:
        raise RuntimeError(f"{_ROME_CSV}: expected header 'code,label', got {header!r}")
    codes: dict[str, str] = {}
    for line_number, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != 2:
            raise RuntimeError(f"{_ROME_CSV}:{line_number}: expected 2 columns, got {len(row)}")
        code, label = row[0].strip(), row[1].strip()
        if not is_valid_rome_code(code) or not label:
            raise RuntimeError(f"{_ROME_CSV}:{line_number}: invalid row {row!r}")
        if code in codes:
            raise RuntimeError(f"{_ROME_CSV}:{line_number}: duplicate code {code}")
        codes[code] = label
    return MappingProxyType(codes)


ROME_CODES: Final[Mapping[str, str]] = load_rome_codes()
"""Labels of the programme's trades, by ROME code (read-only)."""


def rome_label(code: str) -> str | None:
    """Label of a known ROME code (case and surrounding whitespace ignored), else ``None``."""
    if not isinstance(code, str) or "\x00" in code:
        return None
    return ROME_CODES.get(normalise_rome_code(code))
